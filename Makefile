# Two commands for a fresh machine:  `make demo`  and  `make test`.
PYTHON ?= python3
VENV ?= .venv
# The CPU build of torch; install it before the project so pip never resolves a CUDA torch.
TORCH ?= torch==2.13.0
PY := $(VENV)/bin/python
PIP := $(PY) -m pip
PYTEST_ARGS ?=

.PHONY: demo test install install-test browser bench bench-dashboard deploy-check clean

$(PY):
	$(PYTHON) -m venv $(VENV)
	$(PIP) install --upgrade pip

$(VENV)/.torch-installed: | $(PY)
	$(PIP) install "$(TORCH)"
	touch $@

# The install is keyed on what the build depends on: the hash of these files plus SALIENCY_CUDA.
# Nothing changed: no reinstall, no recompile (a second `make demo` starts the app at once); any
# change (or `make clean`) installs again. `install-test` covers `install` too.
BUILD_INPUTS := pyproject.toml setup.py CMakeLists.txt $(sort $(wildcard csrc/*))
BUILD_KEY := $(shell $(PYTHON) -c "import hashlib,sys; h=hashlib.sha256(); [h.update(f.encode()+b'\0'+open(f,'rb').read()) for f in sys.argv[1:]]; print(h.hexdigest()[:16])" $(BUILD_INPUTS))-cuda-$(or $(SALIENCY_CUDA),AUTO)
STAMP := $(VENV)/.installed-$(BUILD_KEY)
TEST_STAMP := $(VENV)/.installed-test-$(BUILD_KEY)

$(STAMP): | $(VENV)/.torch-installed
	test -f $(TEST_STAMP) || { rm -f $(VENV)/.installed-* && $(PIP) install -e . ; }
	touch $@

$(TEST_STAMP): | $(VENV)/.torch-installed
	rm -f $(VENV)/.installed-*
	$(PIP) install -e '.[test]'
	touch $@ $(STAMP)

install: $(STAMP)

install-test: $(TEST_STAMP)

# Debian's chromium for the end-to-end browser tests (never `playwright install`).
browser:
	@command -v chromium >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; \
	  else echo "chromium not found: browser tests will be skipped (apt-get install chromium)"; fi; }

# e.g. `make demo DEMO_ARGS="--port 8600 --headless"`
DEMO_ARGS ?=
demo: install
	$(VENV)/bin/saliency-lab demo $(DEMO_ARGS)

test: install-test browser
	$(PY) -m pytest $(PYTEST_ARGS)

# The test extra brings the benches' baselines (Captum) and Ray (bench/audit.py).
bench: install-test
	$(PY) bench/threshold.py
	$(PY) bench/occlusion.py
	$(PY) bench/grid_occlusion.py
	$(PY) bench/audit.py
	$(PY) bench/dashboard.py

# Cold/warm time per page and the server's peak memory, in Debian's chromium (bench/dashboard.py).
bench-dashboard: install-test browser
	$(PY) bench/dashboard.py

# Install requirements.txt into a fresh venv as Streamlit Community Cloud does (uv, else pip), start
# the app from it and open every page in chromium (tools/deploy_check.py; several minutes).
deploy-check: install-test browser
	$(PY) tools/deploy_check.py

clean:
	rm -rf build *.egg-info saliency_core/_ext*.so $(VENV)/.installed-*
