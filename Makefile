# Two commands from a fresh clone:
#
#   make test    # creates .venv, installs torch (CPU) and skcrl with its test extra, runs the tests
#   make demo    # the same environment, then python -m skcrl: does CRL help?
#
# Each sets up what it needs first: .venv is made when missing, and filled again
# when it is older than pyproject.toml. TORCH picks the torch to install: the CPU
# wheel by default (a plain "torch" would pull a CUDA build of several GB); for a
# CUDA build you already have, make test TORCH=torch. `make check` is what CI runs:
# lint, the tests and the documentation, with every extra.

PYTHON ?= python3
VENV ?= .venv
TORCH ?= torch==2.13.0
EXTRAS ?= test
DEMO_EXTRAS ?= plot,benchmark
DOCS_EXTRAS ?= test,docs
PY := $(VENV)/bin/python

.PHONY: test demo lint docs check clean

test: $(VENV)/.ready-$(EXTRAS)
	$(PY) -m pytest

demo: $(VENV)/.ready-$(DEMO_EXTRAS)
	$(PY) -m skcrl

lint: $(VENV)/.ready-$(EXTRAS)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

docs: $(VENV)/.ready-$(DOCS_EXTRAS)
	$(PY) -m sphinx -W --keep-going -b html docs docs/_build/html

check:
	$(MAKE) lint test docs EXTRAS=test,docs,distributed DOCS_EXTRAS=test,docs,distributed

$(PY):
	$(PYTHON) -m venv $(VENV)

# one stamp per set of extras, newer than pyproject.toml once installed
$(VENV)/.ready-%: pyproject.toml | $(PY)
	$(PY) -m pip install --quiet "$(TORCH)"
	$(PY) -m pip install --quiet -e ".[$*]"
	touch $@

clean:
	rm -rf $(VENV) docs/_build skcrl-results
