# city-pipeline: every command a user or CI needs. Quick start: `make run`, then `make test`.
SHELL := /bin/bash
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
PY := $(VENV)/bin/python
DATA_DIR ?= $(CURDIR)/data
UI_PORT ?= 3000

export CITY_PIPELINE_DATA_DIR ?= $(DATA_DIR)
export DAGSTER_HOME ?= $(DATA_DIR)/dagster_home
export DAGSTER_DISABLE_TELEMETRY := 1
export GX_ANALYTICS_ENABLED := false
export DO_NOT_TRACK := 1
export DBT_SEND_ANONYMOUS_USAGE_STATS := false

.PHONY: help install install-dev prepare run ui test lint format bench recordings clean

help:  ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-12s %s\n", $$1, $$2}'

$(VENV)/.installed: pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e .
	touch $@

$(VENV)/.installed-dev: $(VENV)/.installed
	$(PY) -m pip install --quiet -e '.[dev]'
	touch $@

install: $(VENV)/.installed  ## create .venv and install the pipeline

install-dev: $(VENV)/.installed-dev  ## install the pipeline with test and lint tools

prepare: $(VENV)/.installed  ## prepare the dbt manifest (definitions never parse dbt at import)
	$(PY) -m city_pipeline.defs.curate prepare

run: prepare  ## run the whole pipeline offline on the bundled recordings
	$(VENV)/bin/city-pipeline run

ui: prepare  ## start the Dagster UI; prints "open http://127.0.0.1:$(UI_PORT)" when ready, Ctrl-C stops it
	mkdir -p $(DAGSTER_HOME)
	exec $(PY) -m city_pipeline.ui --host 127.0.0.1 --port $(UI_PORT)

lint: $(VENV)/.installed-dev  ## ruff (Python) and sqlfluff (dbt SQL, duckdb dialect)
	$(VENV)/bin/ruff check city_pipeline tests bench
	$(VENV)/bin/ruff format --check city_pipeline tests bench
	cd dbt_project && $(CURDIR)/$(VENV)/bin/sqlfluff lint models tests

test: install-dev prepare lint  ## run the whole test suite
	$(VENV)/bin/pytest

format: $(VENV)/.installed-dev  ## format Python code
	$(VENV)/bin/ruff format city_pipeline tests bench
	$(VENV)/bin/ruff check --fix city_pipeline tests bench

SIZE ?= S
$(VENV)/.installed-bench: $(VENV)/.installed
	$(PY) -m pip install --quiet -e '.[bench]'
	touch $@

bench: $(VENV)/.installed-bench prepare  ## benchmark capture, dbt, definitions load and GX (SIZE=S|M|L)
	$(PY) -m bench --size $(SIZE)

recordings: $(VENV)/.installed  ## regenerate the generated recordings (seeded, reproducible)
	$(PY) -m city_pipeline.synth

clean:  ## remove generated data (lake, warehouse, published, Dagster runs)
	rm -rf data/lake data/warehouse data/published data/dagster_home dbt_project/target
