# Two commands for a fresh machine:  `make demo`  and  `make test`.
PYTHON ?= python3
VENV ?= .venv
# The CPU build of torch; install it before the project so pip never resolves a CUDA torch.
TORCH ?= torch==2.13.0
PY := $(VENV)/bin/python
PIP := $(PY) -m pip
PYTEST_ARGS ?=

.PHONY: demo test install install-test browser bench clean

$(PY):
	$(PYTHON) -m venv $(VENV)
	$(PIP) install --upgrade pip

$(VENV)/.torch-installed: | $(PY)
	$(PIP) install "$(TORCH)"
	touch $@

install: $(VENV)/.torch-installed
	$(PIP) install -e .

install-test: $(VENV)/.torch-installed
	$(PIP) install -e '.[test]'

# Debian's chromium for the end-to-end browser tests (never `playwright install`).
browser:
	@command -v chromium >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; \
	  else echo "chromium not found: browser tests will be skipped (apt-get install chromium)"; fi; }

demo: install
	$(VENV)/bin/saliency-lab demo

test: install-test browser
	$(PY) -m pytest $(PYTEST_ARGS)

bench: install
	$(PY) bench/threshold.py
	$(PY) bench/occlusion.py
	$(PY) bench/grid_occlusion.py

clean:
	rm -rf build *.egg-info saliency_core/_ext*.so
