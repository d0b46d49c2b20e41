# The README's two set-up commands on a fresh machine:
#   make run    install, then run the main job: train a small char LSTM on the stdlib's source, generate
#   make test   install, then run the whole test suite
PYTHON ?= python3
PIP = $(PYTHON) -m pip

.PHONY: install run test bench browser

install:
	$(PIP) install --quiet torch==2.13.0
	$(PIP) install --quiet -e ".[test]"

run: install
	rnnkit train lm --config configs/quickstart.yaml --out runs/quickstart --force
	rnnkit generate runs/quickstart --prompt "def " --max-tokens 600 --temperature 0.7

test: install browser
	$(PYTHON) -m pytest -q

# Debian's chromium, for the page's tests in a real browser (tests/serve/test_page.py); installed when
# missing and this user may (root, or sudo). Without it those tests are skipped, except on CI (CI=true),
# where they fail: the page must be tested there.
browser:
	@command -v chromium >/dev/null || { \
	  if [ "$$(id -u)" = 0 ]; then SUDO=; elif command -v sudo >/dev/null; then SUDO=sudo; else \
	    echo "make: no chromium and no way to install it: the page's browser tests will be skipped"; exit 0; fi; \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq chromium >/dev/null; }

bench: install
	rnnkit bench cells
