# Entry points: `make demo` (the synthetic-data quick start) and `make test`.
# Both build .venv/ from requirements/pinned.txt on first use.
SHELL := /bin/bash
PYTHON ?= python3
VENV := $(CURDIR)/.venv
STAMP := $(VENV)/.ms_plugin-installed
export PATH := $(VENV)/bin:$(PATH)
# CPU threads for the demo and the tests; the machines here have 2 cores.
export OMP_NUM_THREADS ?= 2
export PYTHONWARNINGS ?= ignore::UserWarning,ignore::FutureWarning,ignore::DeprecationWarning

.PHONY: venv test demo clean-venv

venv: $(STAMP)

$(STAMP): requirements/pinned.txt setup.cfg pyproject.toml
	@test -x $(VENV)/bin/python || $(PYTHON) -m venv $(VENV)
	$(VENV)/bin/python -m pip install --quiet --disable-pip-version-check -r requirements/pinned.txt
	$(VENV)/bin/python -m pip install --quiet --disable-pip-version-check --no-deps --no-build-isolation -e .
	@touch $@

test: $(STAMP)
	$(VENV)/bin/python -m pytest tests

demo: $(STAMP)
	$(VENV)/bin/python tools/demo.py

clean-venv:
	rm -rf $(VENV)
