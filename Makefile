# The two commands of the README.
#   make reproduce   install, then regenerate every result this machine can (CPU: all n-model runs)
#   make test        the whole test suite, as CI runs it
PYTHON ?= python

.PHONY: install reproduce test test-fast

install:
	$(PYTHON) -m pip install -q -e .

reproduce: install
	snakemake --workflow-profile profiles/cpu

test: install
	$(PYTHON) -m pytest

test-fast: install
	$(PYTHON) -m pytest -m "not slow"
