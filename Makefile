# Two entry points for a fresh machine: `make demo` and `make test` (and `make docs`: the site).
PYTHON ?= python3.11
VENV ?= .venv
WORKDIR ?= runs/demo
CONFIG ?= configs/demo.py
# The corpus `make corpus` builds (configs/demo.py reads the Bible corpus; 'demo' is the other).
CORPUS ?= bible
PY := $(VENV)/bin/python
# Test files run in this many worker processes (pytest-xdist, whole files per worker so that
# module fixtures are built once): 2 cores: 12.5 min instead of 18. --no-loadscope-reorder keeps
# the collection order, where tests/conftest.py puts the long files first (xdist's default
# order, most tests first, left the one-test end-to-end files to run alone at the end).
TEST_WORKERS ?= 2

.PHONY: demo test docs corpus install clean

$(VENV)/.installed: setup.py
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e ".[test]"
	touch $@

install: $(VENV)/.installed

corpus: install
	$(PY) -m xlmeta_jax.data.corpora --corpus=$(CORPUS)

demo: corpus
	$(PY) -m xlmeta_jax.train --config=$(CONFIG) --workdir=$(WORKDIR)

test: install
	$(PY) -m pytest -q -n $(TEST_WORKERS) --dist loadfile --no-loadscope-reorder tests

$(VENV)/.docs-installed: setup.py $(VENV)/.installed
	$(PY) -m pip install --quiet -e ".[docs]"
	touch $@

# The documentation site: the config reference rewritten from config.py, then docs/ built into
# site/ in strict mode (a link to a missing page or anchor fails).
docs: $(VENV)/.docs-installed
	$(PY) -m xlmeta_jax.config_reference
	$(PY) -m mkdocs build --strict --site-dir site

clean:
	rm -rf $(VENV) runs
