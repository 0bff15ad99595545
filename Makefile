# Two commands on a fresh machine: `make run` (the demo on SQLite, served by gunicorn) and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
HOST ?= 127.0.0.1
PORT ?= 8000
# The local FHIR server standing in for the demo sites' EHR.
EHR_PORT ?= 8090
LFORMS_VERSION := 40.1.3
LFORMS_INTEGRITY := sha512-WLruTm+BcVnafC0rSAQ3/cNqhxvclBUxyBG68aub/uha2NaK9H8ZZcEXTTuORuGzzCt0wa7fvhuieZtcDIdPzQ==
LFORMS_DIR := tests/browser/lforms
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
# honcho (Procfile) runs the web app, the delivery worker and a local FHIR server as the demo sites' EHR;
# Ctrl-C stops all three.
run: export CARELOOP_ENV ?= development
run: export RUN_HOST = $(HOST)
run: export RUN_WEB_PORT = $(PORT)
run: export RUN_EHR_PORT = $(EHR_PORT)
run: $(VENV)/.installed-run node_modules/.installed instance/secret_key
	CARELOOP_SECRET_KEY=$$(cat instance/secret_key) $(BIN)/flask db upgrade
	CARELOOP_SECRET_KEY=$$(cat instance/secret_key) $(BIN)/flask demo load --ehr-url http://$(HOST):$(EHR_PORT)/fhir
	@echo
	@echo "Careloop is starting on http://$(HOST):$(PORT)/  (FHIR API: http://$(HOST):$(PORT)/fhir/metadata)"
	@echo "The demo EHR (a local FHIR server) is on http://$(HOST):$(EHR_PORT)/fhir; completed checklists arrive there:"
	@echo "  curl -s 'http://$(HOST):$(EHR_PORT)/fhir/QuestionnaireResponse?_count=5'"
	@CARELOOP_SECRET_KEY=$$(cat instance/secret_key) $(BIN)/flask demo logins
	@echo
	CARELOOP_SECRET_KEY=$$(cat instance/secret_key) exec $(BIN)/honcho start --no-colour --procfile Procfile

test: $(VENV)/.installed-dev node_modules/.installed lint typecheck jstest pytest

lint: $(VENV)/.installed-dev
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: $(VENV)/.installed-dev
	$(BIN)/mypy

pytest: $(VENV)/.installed-dev node_modules/.installed $(LFORMS_DIR)/.installed-$(LFORMS_VERSION)
	$(BIN)/pytest $(PYTEST_ARGS)

# NLM's LHC-Forms, a real form app for the browser test of our Questionnaires (tests/browser/test_lforms.py),
# in a test-only folder: the package's built files (`npm pack`, without its dependencies), checked against
# the registry's integrity pinned here.
$(LFORMS_DIR)/.installed-$(LFORMS_VERSION):
	rm -rf $(LFORMS_DIR) && mkdir -p $(LFORMS_DIR)
	cd $(LFORMS_DIR) && npm pack --silent --no-fund lforms@$(LFORMS_VERSION) >/dev/null
	$(PYTHON) -c 'import base64, hashlib, sys; data = open(sys.argv[1], "rb").read(); \
	  got = "sha512-" + base64.b64encode(hashlib.sha512(data).digest()).decode(); \
	  sys.exit(0 if got == sys.argv[2] else "lforms: integrity " + got + " is not the pinned " + sys.argv[2])' \
	  $(LFORMS_DIR)/lforms-$(LFORMS_VERSION).tgz $(LFORMS_INTEGRITY)
	tar -xzf $(LFORMS_DIR)/lforms-$(LFORMS_VERSION).tgz -C $(LFORMS_DIR) --strip-components=3 \
	  package/dist/lforms/webcomponent package/dist/lforms/fhir/R4
	rm $(LFORMS_DIR)/lforms-$(LFORMS_VERSION).tgz
	touch $@

# The browser copy of the care bundle rules against the rule cases (tests/data/rule_cases), with Node.
jstest: node_modules/.installed
	npm test --silent

# bench.ward and bench.delivery first: they exit 0 either way (they report their goals); bench.validate
# exits 1 on a missed goal.
bench: $(VENV)/.installed-dev node_modules/.installed
	$(BIN)/python -m bench.ward
	$(BIN)/python -m bench.delivery
	$(BIN)/python -m bench.fhir_api
	$(BIN)/python -m bench.compliance
	$(BIN)/python -m bench.validate

# The ward pages under gunicorn: a new SQLite file, or CARELOOP_DATABASE_URL (a throwaway database).
bench-ward: $(VENV)/.installed-dev node_modules/.installed
	$(BIN)/python -m bench.ward

clean:
	rm -rf $(VENV) node_modules .pytest_cache .mypy_cache .ruff_cache .coverage
