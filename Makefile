# Entry points: `make demo` (the synthetic-data quick start) and `make test`.
# Both build .venv/ from requirements/pinned.txt on first use.
# `make test-oldest` / `make test-newest` test the oldest and the newest
# supported stacks, each in its own environment under .venvs/ (built on first
# use); `make test-all` runs the three, as CI does.
SHELL := /bin/bash
PYTHON ?= python3
# Interpreters of the other stacks (pyenv's, when there).
PYENV_ROOT ?= $(shell pyenv root 2>/dev/null || echo $(HOME)/.pyenv)
PYTHON_OLDEST ?= $(firstword $(wildcard $(PYENV_ROOT)/versions/3.8*/bin/python3.8) python3.8)
PYTHON_NEWEST ?= $(firstword $(wildcard $(PYENV_ROOT)/versions/3.13*/bin/python3.13) python3.13)
VENV := $(CURDIR)/.venv
STAMP := $(VENV)/.ms_plugin-installed
PIP_FLAGS := --quiet --disable-pip-version-check
# CPU threads for the demo and the tests; the machines here have 2 cores.
export OMP_NUM_THREADS ?= 2
export PYTHONWARNINGS ?= ignore::UserWarning,ignore::FutureWarning,ignore::DeprecationWarning

.PHONY: venv test demo test-oldest test-newest test-all clean-venv gpu-check

venv: $(STAMP)

$(STAMP): requirements/pinned.txt setup.cfg pyproject.toml
	@test -x $(VENV)/bin/python || $(PYTHON) -m venv $(VENV)
	$(VENV)/bin/python -m pip install $(PIP_FLAGS) -r requirements/pinned.txt
	$(VENV)/bin/python -m pip install $(PIP_FLAGS) --no-deps --no-build-isolation -e .
	@touch $@

# Two pytest-xdist workers, one thread each (tests/conftest.py); the tests that
# use each other's files run in order on one worker (xdist_group marks).
# `make test PYTEST_ARGS=` runs them in one process.
PYTEST_ARGS ?= -n 2 --dist loadgroup

test: $(STAMP)
	$(VENV)/bin/python -m pytest tests $(PYTEST_ARGS)

# The demo uses .venv/ as it is once built (a fresh clone or a checkout with new
# file times does not reinstall it); DEMO_ARGS passes options, e.g.
# `make demo DEMO_ARGS=--force` (write the data again) or
# `make demo DEMO_ARGS='--work-dir /tmp/ms_demo'`.
DEMO_ARGS ?=
demo:
	@test -f $(STAMP) || $(MAKE) --no-print-directory venv
	$(VENV)/bin/python tools/demo.py $(DEMO_ARGS)

# The CUDA checks in one table, under 5 minutes on a GPU (tools/analysis/gpu_check.py);
# without CUDA it stops with one line, `make gpu-check GPU_CHECK_ARGS=--allow-cpu`
# runs the same steps on the CPU with tiny shapes.
GPU_CHECK_ARGS ?=
gpu-check:
	@test -f $(STAMP) || $(MAKE) --no-print-directory venv
	$(VENV)/bin/python tools/analysis/gpu_check.py $(GPU_CHECK_ARGS)

# The oldest stack: Python 3.8, torch 2.1.2 (requirements/oldest.txt).
.venvs/oldest/.installed: requirements/oldest.txt setup.cfg pyproject.toml
	@test -x .venvs/oldest/bin/python || $(PYTHON_OLDEST) -m venv .venvs/oldest
	.venvs/oldest/bin/python -m pip install $(PIP_FLAGS) -r requirements/oldest.txt
	.venvs/oldest/bin/python -m pip install $(PIP_FLAGS) --no-deps --no-build-isolation -e .
	@touch $@

# The newest stack: Python 3.13, `pip install -e .[lite,tests]`, nothing pinned.
.venvs/newest/.installed: requirements/newest.txt setup.cfg pyproject.toml
	@test -x .venvs/newest/bin/python || $(PYTHON_NEWEST) -m venv .venvs/newest
	.venvs/newest/bin/python -m pip install $(PIP_FLAGS) --upgrade -r requirements/newest.txt
	@touch $@

# The real-data tests (every shipped config and every documented command, R50
# runs on the miniature datasets: about 15 of the pinned suite's minutes) run on
# the pinned stack; the other two stacks run the rest of the suite.
PINNED_ONLY := --ignore=tests/test_shipped_configs.py --ignore=tests/test_docs.py \
	--ignore=tests/test_user_paths.py

test-oldest: .venvs/oldest/.installed
	.venvs/oldest/bin/python -m pytest tests $(PYTEST_ARGS) $(PINNED_ONLY)

test-newest: .venvs/newest/.installed
	.venvs/newest/bin/python -m pytest tests $(PYTEST_ARGS) $(PINNED_ONLY)

test-all: test test-oldest test-newest

clean-venv:
	rm -rf $(VENV) .venvs
