# Two entry points for a fresh machine: `make demo` and `make test`.
PYTHON ?= python3.11
VENV ?= .venv
WORKDIR ?= runs/demo
CONFIG ?= configs/demo.py
PY := $(VENV)/bin/python
# Test files run in this many worker processes (pytest-xdist, whole files per worker so that
# module fixtures are built once): 2 cores: 12.5 min instead of 18.
TEST_WORKERS ?= 2

.PHONY: demo test corpus install clean

$(VENV)/.installed: setup.py
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e ".[test]"
	touch $@

install: $(VENV)/.installed

corpus: install
	$(PY) -m xlmeta_jax.data.corpora

demo: corpus
	$(PY) -m xlmeta_jax.train --config=$(CONFIG) --workdir=$(WORKDIR)

test: install
	$(PY) -m pytest -q -n $(TEST_WORKERS) --dist loadfile tests

clean:
	rm -rf $(VENV) runs
