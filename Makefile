# WebSocket from Scratch: the two commands that do all set-up.
#   make lab    open the notebook series in JupyterLab
#   make test   run every test (lint, types, unit and interop tests, every notebook)
# Both create (or reuse) a virtual environment in .venv with Python 3.10 or newer.

PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
# What ruff lints and formats (only the folders that exist)
LINTED := $(wildcard wslib tests benchmarks notebooks)
STAMP  := $(VENV)/.installed
# Extra options for `jupyter lab`, e.g. make lab LAB_ARGS="--no-browser --port=9999"
LAB_ARGS ?=
# Jupyter refuses to run as root unless told (containers, CI).
ROOT_FLAG := $(if $(filter 0,$(shell id -u)),--allow-root)
# The learner's own copy of the notebooks (ignored by git): answers typed into exercises never
# touch the tracked notebooks, so `git pull` for updates never conflicts with them.
WORK   ?= my-notebooks
# JupyterLab settings for this environment only (not the learner's home): no news pop-up, no
# update check (they need the internet, and they cover the notebook).
LAB_OVERRIDES := $(VENV)/share/jupyter/lab/settings/overrides.json

.PHONY: lab test lint strip bench reset clean help
.DEFAULT_GOAL := help

help:
	@echo "make lab    open the series in JupyterLab (creates .venv on first use); you work in"
	@echo "            $(WORK)/, your own copy of notebooks/ (new notebooks are added, yours kept)"
	@echo "make test   run every test, notebooks included"
	@echo "make lint   ruff only (check and format), faster than make test"
	@echo "make strip  remove outputs from the notebooks before committing"
	@echo "make bench  run the benchmark scripts"
	@echo "make reset  start $(WORK)/ afresh from notebooks/ (the old copy is kept as a backup)"
	@echo "make clean  remove .venv and caches (never $(WORK)/)"

$(BIN)/python:
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 10) else "Python 3.10 or newer is needed: run make with PYTHON=python3.x")'
	@$(PYTHON) -m venv $(VENV) || { rm -rf $(VENV); \
	  echo "Could not create a virtual environment. On Debian/Ubuntu: sudo apt-get install python3-venv"; \
	  exit 1; }

# Reinstall when the dependency list changes.
$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[lab,test]"
	@touch $(STAMP)

$(LAB_OVERRIDES): Makefile | $(STAMP)
	@mkdir -p $(dir $(LAB_OVERRIDES))
	@echo '{"@jupyterlab/apputils-extension:notification": {"fetchNews": "false", "checkForUpdates": false}}' > $@

# Copy the notebooks the learner does not have yet (all of them the first time); never overwrite.
$(WORK): FORCE
	@mkdir -p $(WORK)
	@for nb in notebooks/*.ipynb; do \
	  [ -e "$(WORK)/$${nb##*/}" ] || { cp "$$nb" "$(WORK)/" && echo "copied $$nb to $(WORK)/"; }; \
	done
	@[ -e $(WORK)/solutions ] || ln -s ../notebooks/solutions $(WORK)/solutions

lab: $(STAMP) $(LAB_OVERRIDES) $(WORK)
	$(BIN)/jupyter lab $(ROOT_FLAG) --ServerApp.root_dir=. $(LAB_ARGS) $(WORK)/00-welcome.ipynb

reset:
	@if [ -d $(WORK) ]; then backup=$(WORK).backup-$$(date +%Y%m%d-%H%M%S); \
	  mv $(WORK) $$backup && echo "your notebooks are kept in $$backup/"; fi
	@$(MAKE) --no-print-directory $(WORK)

.PHONY: FORCE
FORCE:

test: $(STAMP)
	$(BIN)/ruff check $(LINTED)
	$(BIN)/ruff format --check $(LINTED)
	$(BIN)/mypy
	$(BIN)/python -m pytest

lint: $(STAMP)
	$(BIN)/ruff check $(LINTED)
	$(BIN)/ruff format --check $(LINTED)

strip: $(STAMP)
	$(BIN)/nbstripout notebooks/*.ipynb

bench: $(STAMP)
	@for b in benchmarks/bench_*.py; do echo "== $$b"; $(BIN)/python $$b || exit 1; done

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache .hypothesis
