# Front door: `make demo`, `make test`. Every target creates .venv from requirements.txt on first use.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PROJECT := $(CURDIR)

# Everything local stays in git-ignored var/, never in ~/airflow.
export AIRFLOW_HOME ?= $(PROJECT)/var/airflow
export KCM_HOME ?= $(PROJECT)/var/kcm_home
# deduce builds a lookup cache once (~80 s); keep it outside KCM_HOME so a demo reset keeps it.
export KCM_DEDUCE_CACHE ?= $(PROJECT)/var/cache/deduce
export PATH := $(PROJECT)/$(VENV)/bin:$(PATH)
export PYTHONPATH := $(PROJECT)$(if $(PYTHONPATH),:$(PYTHONPATH))
export AIRFLOW__CORE__DAGS_FOLDER := $(PROJECT)/dags
export AIRFLOW__CORE__PLUGINS_FOLDER := $(PROJECT)/plugins
export AIRFLOW__CORE__LOAD_EXAMPLES := False
export AIRFLOW__CORE__DEFAULT_TIMEZONE := Europe/Amsterdam
export AIRFLOW__USAGE_DATA_COLLECTION__ENABLED := False
export AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION := True
export GX_ANALYTICS_ENABLED := false
export SCARF_ANALYTICS := false
export DO_NOT_TRACK := 1

.PHONY: venv demo test test-integration lint format check-config airflow verify-audit bench lock clean

venv: $(VENV)/.installed

$(VENV)/.installed: requirements.txt
	test -d $(VENV) || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -r requirements.txt
	touch $@

lock: ## re-pin requirements.txt from requirements.in
	$(BIN)/pip install --quiet -r requirements.in
	{ echo "# Pinned lock of requirements.in (make lock)."; $(BIN)/pip freeze --exclude-editable | sort -f; } > requirements.txt

demo: venv ## generate sample deliveries and run the DAGs end to end
	$(BIN)/python -m scripts.demo

test: venv ## the whole suite, SQLite and PostgreSQL
	$(BIN)/python -m pytest $(PYTEST_ARGS)

test-integration: venv ## Airflow's components as processes (Celery, PostgreSQL, Redis), the UI in headless Chromium, the demo
	$(BIN)/python -m pytest -m integration $(PYTEST_ARGS)

lint: venv
	$(BIN)/ruff check . && $(BIN)/ruff format --check .

format: venv
	$(BIN)/ruff format . && $(BIN)/ruff check --fix .

check-config: venv ## validate every client config (R1); non-zero exit on any error
	$(BIN)/python -m scripts.check_config

verify-audit: venv ## recompute the audit trail's hash chain (R12)
	$(BIN)/python -m scripts.verify_audit

airflow: venv ## the Airflow UI on the same folders (airflow standalone)
	@# The demo's suppression secret (R7) when there is one, so catch-up nights can check erased people.
	KCM_SUPPRESSION_SECRET="$${KCM_SUPPRESSION_SECRET:-$$(cat var/demo-suppression-secret 2>/dev/null)}" $(BIN)/airflow standalone

bench: venv ## benchmarks: each prints its ratio against the goal of its issue
	$(BIN)/python bench/parse.py
	$(BIN)/python bench/ingest.py
	$(BIN)/python bench/retention.py
	$(BIN)/python bench/proof.py

bench-scale: venv ## 200 clients on the Celery topology (minutes)
	$(BIN)/python bench/scale.py

clean:
	rm -rf var .pytest_cache
