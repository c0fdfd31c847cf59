# One entry point per thing a user does; `make help` lists them.
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
ASV := $(VENV)/bin/asv
PAPER ?=
TIER ?= full
DEVICE ?= auto
SEED ?= 0
JOBS ?= 2
RANGE ?= HEAD~5..HEAD
MACHINE ?= $(shell hostname)

.PHONY: help venv reproduce reproduce-all report site verify stale test mutate bench bench-dev bench-history publish asv-machine

help:
	@echo "make reproduce PAPER=<slug> [TIER=quick|full] [DEVICE=auto|cpu|cuda] [SEED=N]  one paper, its claims judged"
	@echo "make reproduce-all [TIER=quick] [JOBS=2]   every paper, each in its own process"
	@echo "make report                                 REPORT.md per paper, results/SUMMARY.md and summary.csv"
	@echo "make site                                   results/site/index.html: the static web report (open in a browser)"
	@echo "make test                                   ruff and the test suite (what CI runs)"
	@echo "make mutate                                 mutation score of papers/harness and papers/common (slow; not in CI)"
	@echo "make verify                                 validate every claims file and paper folder"
	@echo "make stale                                  list records older than the code they were run with"
	@echo "make bench | bench-dev | bench-history RANGE=a..b | publish   asv history of metrics and timings"

# The environment: torch pinned to the CPU build that lies on this kind of machine (an unpinned
# torch pulls a multi-GB CUDA build), jax for CPU, the package itself in editable mode.
$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e ".[ml,dev,reference]"
	$(PY) -m pip install --quiet --no-deps kronfluence==1.0.1
	touch $@

venv: $(VENV)/.installed

reproduce: venv
	@if [ -z "$(PAPER)" ]; then echo "usage: make reproduce PAPER=<slug> (one of: $$($(PY) -m papers list | tail -n +2 | cut -d' ' -f1 | xargs))" >&2; exit 2; fi
	$(PY) -m papers reproduce $(PAPER) --tier $(TIER) --device $(DEVICE) --seed $(SEED) --jobs $(JOBS)

reproduce-all: venv
	$(PY) -m papers reproduce --all --tier $(TIER) --device $(DEVICE) --seed $(SEED) --jobs $(JOBS)

report: venv
	$(PY) -m papers report

# The static web report: results/site/index.html (generated, not committed).
site: venv
	$(PY) -m papers site

verify: venv
	$(PY) -m papers verify

# Records older than their code (a commit after theirs touched the harness, papers/common or the paper).
stale: venv
	$(PY) scripts/stale_records.py

# ruff (pyflakes, pycodestyle, isort, bugbear; settings in pyproject.toml), then every test.
test: venv
	$(PY) -m ruff check .
	$(PY) -m pytest -n $(JOBS) -q

# Mutation testing (mutmut, settings in pyproject.toml): not part of CI, an hour or more on 2 cores.
# XLA's persistent compilation cache: a mutant's tests recompile only the jax programs its change
# reaches (a changed trace is a new cache key), not every program of every test, for each mutant.
mutate: venv
	rm -rf mutants
	JAX_COMPILATION_CACHE_DIR=$(CURDIR)/mutants/.jax-cache JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS=0 \
		$(PY) -m mutmut run --max-children $(JOBS) || true
	$(PY) scripts/mutation_report.py

# asv: the machine file (~/.asv-machine.json) is written with every field, from asv's own
# defaults for this machine, so that no command asks a question.
asv-machine: venv
	$(PY) -c "from asv.machine import Machine, MachineCollection; d = Machine.get_defaults(); \
	  d['machine'] = '$(MACHINE)'; MachineCollection.save(d['machine'], d)"

# asv needs a local branch main (a CI checkout may be detached).
bench: asv-machine
	git show-ref --verify --quiet refs/heads/main || git branch main HEAD
	$(ASV) run --machine "$(MACHINE)" HEAD^!

bench-history: asv-machine
	git show-ref --verify --quiet refs/heads/main || git branch main HEAD
	$(ASV) run --machine "$(MACHINE)" $(RANGE)

bench-dev: asv-machine
	$(ASV) run --machine "$(MACHINE)" --python=same --set-commit-hash "$$(git rev-parse HEAD)"

publish: venv
	$(ASV) publish
	@echo "open .asv/html/index.html (or: $(ASV) preview)"
