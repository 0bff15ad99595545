# Two commands on a fresh machine: `make run` (the demo on SQLite, served by gunicorn) and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
HOST ?= 127.0.0.1
PORT ?= 8000
export FLASK_APP := wsgi

.PHONY: run test lint typecheck pytest jstest bench bench-ward clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(VENV)/.installed-run: pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e '.[postgres]'
	touch $@

$(VENV)/.installed-dev: pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e '.[postgres,dev]'
	touch $@ $(VENV)/.installed-run

# Front-end packages (the NHS.UK design system; test tools) from the committed lock file.
node_modules/.installed: package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	touch $@

instance/secret_key:
	mkdir -p instance
	$(BIN)/python -c 'import secrets; print(secrets.token_hex(32))' > $@
	chmod 600 $@

# The demo runs as CARELOOP_ENV=development (demo users with published passwords), with a generated secret.
run: export CARELOOP_ENV ?= development
run: $(VENV)/.installed-run node_modules/.installed instance/secret_key
	CARELOOP_SECRET_KEY=$$(cat instance/secret_key) $(BIN)/flask db upgrade
	CARELOOP_SECRET_KEY=$$(cat instance/secret_key) $(BIN)/flask demo load
	@echo
	@echo "Careloop is starting on http://$(HOST):$(PORT)/  (FHIR API: http://$(HOST):$(PORT)/fhir/metadata)"
	@CARELOOP_SECRET_KEY=$$(cat instance/secret_key) $(BIN)/flask demo logins
	@echo
	CARELOOP_SECRET_KEY=$$(cat instance/secret_key) exec $(BIN)/gunicorn --bind $(HOST):$(PORT) --workers 2 \
		--access-logfile - wsgi:app

test: $(VENV)/.installed-dev node_modules/.installed lint typecheck jstest pytest

lint: $(VENV)/.installed-dev
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: $(VENV)/.installed-dev
	$(BIN)/mypy

pytest: $(VENV)/.installed-dev node_modules/.installed
	$(BIN)/pytest $(PYTEST_ARGS)

# The browser copy of the care bundle rules against the rule cases (tests/data/rule_cases), with Node.
jstest: node_modules/.installed
	npm test --silent

# bench.ward first: it always exits 0 (it reports its goals), bench.validate exits 1 on a missed goal.
bench: $(VENV)/.installed-dev node_modules/.installed
	$(BIN)/python -m bench.ward
	$(BIN)/python -m bench.validate

# The ward pages under gunicorn: a new SQLite file, or CARELOOP_DATABASE_URL (a throwaway database).
bench-ward: $(VENV)/.installed-dev node_modules/.installed
	$(BIN)/python -m bench.ward

clean:
	rm -rf $(VENV) node_modules .pytest_cache .mypy_cache .ruff_cache .coverage
