# Stylefinder: two commands on a fresh machine.
#   make demo   set up .venv, install, build the demo gallery, serve http://127.0.0.1:$(PORT)
#   make test   install the dev requirements (and Chromium if missing), lint, run the whole suite
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
PORT ?= 8000
export PORT
STAMPS := .stamps
# The demo uses the pretrained CNN beside the checkout when there is one (no download needed);
# without it, and with no network, the site runs on the style features alone.
SHARED_CNN := $(wildcard $(abspath ../shared/models/efficientnet_lite0_imagenet.keras))

# Integration tests: real PostgreSQL, Redis and a Celery worker process (scripts/ensure-services.sh
# starts PostgreSQL and Redis when they are down).
TEST_DATABASE_URL ?= postgres://postgres@127.0.0.1:5432/stylefinder
TEST_REDIS_URL ?= redis://127.0.0.1:6379/15
# The unit and browser suite a second time, on PostgreSQL (pytest-django makes test_<name>).
TEST_POSTGRES_URL ?= postgres://postgres@127.0.0.1:5432/stylefinder_unit

.PHONY: demo serve test test-unit test-postgres test-integration lint format install install-dev \
	system-deps services clean

# pip lists what it collects and installs; scripts/pip-install.sh adds a line every 15 s while pip
# is quiet, so a first install that takes minutes is never silent.
PIP_INSTALL := bash scripts/pip-install.sh $(PY)

$(PY):
	@echo "==> Creating the virtual environment $(VENV)"
	$(PYTHON) -m venv $(VENV) || { bash scripts/ensure-system-deps.sh venv && $(PYTHON) -m venv $(VENV); }
	@$(PY) -m pip install --quiet --disable-pip-version-check --upgrade pip

$(STAMPS)/requirements: requirements.txt | $(PY)
	@echo "==> Installing the site's packages (a few minutes the first time: TensorFlow is large)"
	@$(PIP_INSTALL) -r requirements.txt
	@mkdir -p $(STAMPS) && touch $@

$(STAMPS)/requirements-dev: requirements-dev.txt requirements.txt | $(PY)
	@echo "==> Installing the site's and the test suite's packages (a few minutes the first time)"
	@$(PIP_INSTALL) -r requirements-dev.txt
	@mkdir -p $(STAMPS) && touch $@ $(STAMPS)/requirements

install: $(STAMPS)/requirements
install-dev: $(STAMPS)/requirements-dev

system-deps:
	bash scripts/ensure-system-deps.sh browser

services:
	bash scripts/ensure-services.sh

demo serve: export STYLEFINDER_CNN_WEIGHTS ?= $(SHARED_CNN)

demo: install
	@echo "==> Building the demo gallery, then serving it"
	$(PY) manage.py demo --serve

serve: install
	$(PY) manage.py runserver 127.0.0.1:$(PORT)

lint: install-dev
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .
	$(VENV)/bin/lint-imports

format: install-dev
	$(PY) -m ruff format .
	$(PY) -m ruff check --fix .

test: install-dev system-deps services lint test-unit test-postgres test-integration

test-unit: install-dev
	$(PY) -m pytest --ignore=tests/integration

test-postgres: install-dev services
	DATABASE_URL=$(TEST_POSTGRES_URL) $(PY) -m pytest --ignore=tests/integration

test-integration: install-dev services
	DATABASE_URL=$(TEST_DATABASE_URL) REDIS_URL=$(TEST_REDIS_URL) \
	CELERY_BROKER_URL=$(TEST_REDIS_URL) STYLEFINDER_RECLUSTER_DELAY=2 \
	$(PY) -m pytest tests/integration

clean:
	rm -rf $(STAMPS) test-output .pytest_cache .ruff_cache .hypothesis
