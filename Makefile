# MangaAssist developer commands. `make run` and `make test` set everything up on first use.
SHELL := /bin/bash
.DEFAULT_GOAL := help

# Prefer CPython 3.13 (the Lambda runtime); fall back to 3.12 / 3.11 where it is missing.
PYTHON_CANDIDATES := $(wildcard $(HOME)/.pyenv/versions/3.13*/bin/python3.13) python3.13 \
	$(wildcard $(HOME)/.pyenv/versions/3.12*/bin/python3.12) python3.12 python3.11 python3
PYTHON ?= $(firstword $(foreach p,$(PYTHON_CANDIDATES),$(shell $(p) -c 'import sys; sys.exit(sys.version_info < (3, 11))' >/dev/null 2>&1 && echo $(p))))
VENV := .venv
PY := $(VENV)/bin/python
SAM_VENV := .venv-sam
SAM := $(SAM_VENV)/bin/sam
CHECKOV_VENV := .venv-checkov
PORT ?= 3000
WORKERS ?= 2
PYTEST_ARGS ?=
# The layer's package and the repo root (local/, bench/, scripts/) import like they do under pytest.
export PYTHONPATH := $(CURDIR)/layers/mangaassist:$(CURDIR)

.PHONY: help
help: ## list the commands
	@grep -E '^[a-z][a-zA-Z_-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-16s %s\n", $$1, $$2}'

$(VENV)/.installed: requirements/dev.lock layers/mangaassist/requirements.txt layers/mangaassist/requirements-encoder.txt
	@test -n "$(PYTHON)" || { echo "no Python >= 3.11 found" >&2; exit 1; }
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements/dev.lock
	$(PY) -m mangaassist.understanding.encoder_pack >/dev/null
	@touch $@

.PHONY: venv
venv: $(VENV)/.installed ## create .venv and install the pinned dependencies

$(SAM_VENV)/.installed: requirements/sam.lock
	@test -x $(SAM_VENV)/bin/python || $(PYTHON) -m venv $(SAM_VENV)
	$(SAM_VENV)/bin/python -m pip install --quiet --upgrade pip
	$(SAM_VENV)/bin/python -m pip install --quiet -r requirements/sam.lock
	@touch $@

# checkov pins its own botocore and click, which clash with sam's: it gets a virtualenv of its own.
$(CHECKOV_VENV)/.installed: requirements/checkov.lock
	@test -x $(CHECKOV_VENV)/bin/python || $(PYTHON) -m venv $(CHECKOV_VENV)
	$(CHECKOV_VENV)/bin/python -m pip install --quiet --upgrade pip
	$(CHECKOV_VENV)/bin/python -m pip install --quiet -r requirements/checkov.lock
	@touch $@

.PHONY: test
test: $(VENV)/.installed ## run the whole test suite (unit, integration against moto server, concurrency)
	$(PY) -m pytest $(PYTEST_ARGS)

# Unit tests only: in-memory fakes and no network, so it stays well under a minute on two cores.
.PHONY: test-fast
test-fast: $(VENV)/.installed ## unit tests only (no moto, no simulators, no process fleet), under 60 s
	$(PY) -m pytest tests/unit -q $(PYTEST_ARGS)

.PHONY: lint
lint: $(VENV)/.installed $(SAM_VENV)/.installed $(CHECKOV_VENV)/.installed ## ruff, sam validate --lint, cfn-lint, checkov, generated parts in step
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(SAM) validate --lint --template template.yaml
	$(SAM_VENV)/bin/cfn-lint template.yaml
	$(CHECKOV_VENV)/bin/checkov --quiet --compact --skip-download --framework cloudformation --file template.yaml
	PYTHONPATH=layers/mangaassist $(PY) -m scripts.generate_template_parts --check

.PHONY: generate
generate: $(VENV)/.installed ## rewrite template.yaml's generated alarms and dashboard from the service registry
	PYTHONPATH=layers/mangaassist $(PY) -m scripts.generate_template_parts

.PHONY: format
format: $(VENV)/.installed ## apply ruff's formatting and safe fixes
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format .

.PHONY: run
run: $(VENV)/.installed ## start the embedded local stack on 127.0.0.1 (Ctrl-C stops it)
	PORT=$(PORT) WORKERS=$(WORKERS) $(PY) -m local.run

.PHONY: status
status: $(VENV)/.installed ## the service health table of the running stack (start it with make run first)
	PORT=$(PORT) $(PY) -m local.status_cli

.PHONY: gameday
gameday: $(VENV)/.installed ## the seed's chaos game days on a fresh local stack; fails when an expectation does
	WORKERS=$(WORKERS) $(PY) -m bench.gameday --workers $(WORKERS)

.PHONY: fuzz
fuzz: $(VENV)/.installed ## schemathesis from openapi.json against a fresh local stack: no 5xx, no schema breaks
	$(PY) -m bench.fuzz

.PHONY: bench-breaker
bench-breaker: $(VENV)/.installed ## fleet of 8 processes: this breaker vs Powertools' vs pybreaker
	$(PY) -m bench.breaker_fleet

# Virtual time: the 10,000-environment runs take minutes of CPU, not the hours they simulate.
.PHONY: bench-fleet-sim
bench-fleet-sim: $(VENV)/.installed ## the real breaker on a virtual clock at 10 to 10,000 environments vs per-environment counting
	$(PY) -m bench.fleet_sim

.PHONY: size
size: build ## each function's deployed size (its code plus its layers, unzipped and zipped)
	PYTHONPATH=layers/mangaassist $(PY) -m scripts.size_report --json bench/results/size.json

.PHONY: bench-coldstart
bench-coldstart: $(VENV)/.installed ## chat module import+init vs a minimal Powertools REST handler (goal <= 1.5x)
	PYTHONPATH=layers/mangaassist $(PY) -m bench.coldstart

.PHONY: bench-first-answer
bench-first-answer: $(VENV)/.installed ## first FAQ answer of a new environment, before vs after the encoder (goal <= 1.5x)
	$(PY) -m bench.first_answer

.PHONY: build
build: $(SAM_VENV)/.installed ## sam build (no Docker needed: makefile build method, aarch64 wheels)
	PATH="$(CURDIR)/$(SAM_VENV)/bin:$$PATH" $(SAM) build --template template.yaml

.PHONY: lock
lock: ## re-pin requirements/dev.lock from requirements/dev.in (needs network to PyPI)
	rm -rf /tmp/mangaassist-lock && $(PYTHON) -m venv /tmp/mangaassist-lock
	/tmp/mangaassist-lock/bin/pip install --quiet -r requirements/dev.in
	/tmp/mangaassist-lock/bin/pip freeze > requirements/dev.lock

.PHONY: clean
clean: ## remove build output and caches (keeps the virtualenvs)
	rm -rf .aws-sam .pytest_cache .ruff_cache .hypothesis
	find . -name __pycache__ -type d -prune -not -path './.venv*' -exec rm -rf {} +

.PHONY: print-python
print-python:
	@echo $(PYTHON)

.PHONY: seed-faq
seed-faq: $(VENV)/.installed ## upload the FAQ document to FAQ_BUCKET/FAQ_KEY (SEED_FAQ_ARGS=--create-bucket locally)
	$(PY) scripts/seed_faq.py $(SEED_FAQ_ARGS)

.PHONY: eval
eval: $(VENV)/.installed ## intent and FAQ understanding on the dev and hold-out sets (bench/results/understanding.json)
	$(PY) -m bench.understanding_eval

.PHONY: vectors
vectors: $(VENV)/.installed ## recompute the bundled FAQ document's and the intent examples' sentence vectors
	$(PY) -m mangaassist.understanding.vectors_cli

.PHONY: calibrate-faq
calibrate-faq: $(VENV)/.installed ## print the FAQ matcher's no-match thresholds calibrated on development data
	cd layers/mangaassist && ../../$(PY) -m mangaassist.faq.calibration --offtopic ../../tests/data/faq_offtopic_dev.json

.PHONY: simulators
simulators: $(VENV)/.installed ## only the downstream + Bedrock simulators on 127.0.0.1 (Ctrl-C stops)
	$(PY) -m local.simulators --base-port 18100

.PHONY: receivers
receivers: $(VENV)/.installed ## only the local Slack and PagerDuty stand-ins (Ctrl-C stops)
	$(PY) -m local.receivers

.PHONY: openapi
openapi: $(VENV)/.installed ## write openapi.json from the chat routes (a test fails when it is stale)
	$(PY) scripts/write_openapi.py
