# Two commands set up everything on a fresh machine:
#   make demo   the whole pipeline (dvc repro) on the embedded demo data
#   make test   the test suite
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
BIN := $(abspath $(VENV))/bin
STAMP := $(VENV)/.installed-stamp
EXTRAS ?= cpu,test,docs

export PATH := $(BIN):$(PATH)
export DO_NOT_TRACK := 1
export DVC_NO_ANALYTICS := 1
export GX_ANALYTICS_ENABLED := False
export PREFECT_SERVER_ANALYTICS_ENABLED := false

.PHONY: install browser demo test flow docs clean-outputs help

help:
	@echo "make demo   install (into $(VENV)) and run the full pipeline on the demo data"
	@echo "make test   install and run the tests"
	@echo "make flow   run the same pipeline as a Prefect flow"
	@echo "make docs   build the documentation (offline) into docs/_build/html"

$(STAMP): pyproject.toml constraints.txt
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -c constraints.txt -e '.[$(EXTRAS)]'
	# the default model's pretrained weights (musicnn's own pins ask for numpy < 1.17: no deps; it needs none at run time)
	$(BIN)/python -m pip install -q --no-deps -c constraints.txt musicnn
	# tests only: musicnn's own TF1 graph (tf.compat.v1.layers) runs on tf_keras; it names `tensorflow`, we have tensorflow-cpu
	$(BIN)/python -m pip install -q --no-deps -c constraints.txt tf_keras
	@touch $(STAMP)

install: $(STAMP)

# Debian's chromium for the browser tests (tests/test_*_chromium.py, driven by Playwright's Python package from the
# test extra through executable_path: Playwright's own browser download is never used; they skip without it, except in CI).
# Skipped when /usr/bin/chromium exists; needs root (CI runs as root on a fresh Debian machine).
browser:
	@test -x /usr/bin/chromium || { test "$$(id -u)" = 0 && apt-get update -qq && \
	  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium >/dev/null; } || \
	  echo "chromium not installed (not root?): the headless-browser test will be skipped"

demo: install
	dvc repro
	@mir summary

flow: install
	mir flow run

# the documentation site, offline; warnings are errors, as in `make test` (tests/test_docs.py)
docs: install
	$(BIN)/python -m sphinx -W --keep-going -q -b html docs docs/_build/html
	@echo "Docs: $(abspath docs/_build/html/index.html)"

# two pytest-xdist workers, one test file each at a time (a file's module fixtures are built once): most of the
# suite's time is single-threaded (subprocess start-up, imports, DVC, Prefect), so 2 cores run it in ~60 %
TEST_JOBS ?= 2
test: install browser
	$(BIN)/python -m pytest -q -n $(TEST_JOBS) --dist loadfile
