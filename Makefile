# The README's two set-up commands on a fresh machine:
#   make run    install, then run the main job (for now: the cell benchmark, quick mode)
#   make test   install, then run the whole test suite
PYTHON ?= python3
PIP = $(PYTHON) -m pip

.PHONY: install run test bench

install:
	$(PIP) install --quiet torch==2.13.0
	$(PIP) install --quiet -e ".[test]"

run: install
	rnnkit bench cells --quick

test: install
	$(PYTHON) -m pytest -q

bench: install
	rnnkit bench cells
