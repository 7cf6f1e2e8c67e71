# Two entry points for a fresh machine: `make demo` and `make test`.
PYTHON ?= python3.11
VENV ?= .venv
WORKDIR ?= runs/demo
CONFIG ?= configs/demo.py
PY := $(VENV)/bin/python

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
	$(PY) -m pytest -q tests

clean:
	rm -rf $(VENV) runs
