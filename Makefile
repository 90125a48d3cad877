# The two commands a new user needs: `make demo` runs the portal, `make test` runs every test.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
CSS := portal/static/portal/css/portal.css

.PHONY: demo demo-check test lint bench prereqs install install-dev assets migrate totp clean

demo: prereqs install assets migrate  ## run the portal, a Celery worker and beat; Ctrl-C stops all
	$(PY) manage.py run_demo

demo-check: prereqs install assets migrate  ## the same, unattended: boot, check, run a job, stop
	$(PY) manage.py run_demo --check

TEST_WORKERS ?= 2
JOURNEY_SCREENSHOTS ?= $(CURDIR)/var/journey-screenshots

# Whole files go to the two workers in the order they are collected, so the long browser journeys start first;
# sorted by their number of tests (pytest-xdist's default), the two-test journey file ran last, alone.
test: prereqs install-dev assets  ## the whole suite (PostgreSQL/Redis/browser tests run when configured)
	@rm -rf $(JOURNEY_SCREENSHOTS)
	PORTAL_JOURNEY_SCREENSHOTS=$(JOURNEY_SCREENSHOTS) $(PY) -m pytest -n $(TEST_WORKERS) --dist loadfile --no-loadscope-reorder; \
	status=$$?; \
	if [ -d $(JOURNEY_SCREENSHOTS) ]; then echo "The browser journey's screenshots: $(JOURNEY_SCREENSHOTS)"; fi; \
	exit $$status

lint: install-dev
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

bench: install-dev  ## benchmarks (minutes): not part of `make test` or CI
	$(PY) bench/audit_chain.py
	$(PY) bench/welfare_console.py
	$(PY) bench/exhibit_upload.py
	$(PY) bench/exhibit_concurrency.py
	$(PY) bench/bundle_scale.py
	$(PY) bench/volume.py
	$(PY) bench/deconfliction.py

prereqs:
	@bash portal/scripts/prereqs.sh

install: $(VENV)/.installed  ## what production runs (requirements.txt)

install-dev: $(VENV)/.installed-dev  ## and the test and lint tools (requirements-dev.txt)

$(VENV)/.installed: requirements.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements.txt
	touch $@

$(VENV)/.installed-dev: requirements-dev.txt $(VENV)/.installed
	$(PY) -m pip install --quiet -r requirements-dev.txt
	touch $@

node_modules/.installed: package.json package-lock.json
	npm ci --no-audit --no-fund
	touch $@

assets: $(CSS)

$(CSS): node_modules/.installed $(wildcard portal/assets/scss/*.scss) portal/assets/copy-govuk.mjs
	npm run build

migrate: install
	$(PY) manage.py migrate --noinput
	$(PY) manage.py seed_curriculum
	$(PY) manage.py create_signing_key
	$(PY) manage.py seed_demo > /dev/null

totp: install  ## the current authenticator code of a demo account: make totp EMAIL=owen.officer@demo.example
	@$(PY) manage.py demo_totp $(EMAIL)

clean:
	rm -rf var/ staticfiles/ portal/static/portal/css portal/static/govuk
