# The README's two set-up commands on a fresh machine:
#   make run    install, then run the main job: train a small char LSTM on the stdlib's source, generate
#   make test   install, then run the whole test suite
PYTHON ?= python3
PIP = $(PYTHON) -m pip

.PHONY: install run test bench

install:
	$(PIP) install --quiet torch==2.13.0
	$(PIP) install --quiet -e ".[test]"

run: install
	rnnkit train lm --config configs/quickstart.yaml --out runs/quickstart --force
	rnnkit generate runs/quickstart --prompt "def " --max-tokens 600 --temperature 0.7

test: install
	$(PYTHON) -m pytest -q

bench: install
	rnnkit bench cells
