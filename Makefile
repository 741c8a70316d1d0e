# Day-to-day commands; README.rst documents "make run" and "make test".
PYTHON ?= python3
VENV ?= .venv
INI ?= development.ini
BIN := $(VENV)/bin
# Pyramid 2.1 still imports pkg_resources; its deprecation warning only confuses operators.
export PYTHONWARNINGS := ignore:pkg_resources is deprecated:UserWarning
# Debian packages the test suite starts real servers from.
TEST_PACKAGES := bind9 bind9-dnsutils postgresql pdns-server pdns-backend-sqlite3 knot ddclient inadyn
# The browser test drives Debian's Chromium through Playwright (never "playwright install").
TEST_PACKAGES += chromium fonts-dejavu-core

.PHONY: run test install install-test migrate catalogs lint admin-hint clean

$(BIN)/python:
	@$(PYTHON) -c "import ensurepip" 2>/dev/null || tools/debian-packages python3-venv
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip wheel "setuptools<82"

$(VENV)/.installed: setup.cfg setup.py | $(BIN)/python
	$(BIN)/pip install -q -e .
	touch $@

$(VENV)/.installed-testing: setup.cfg setup.py | $(BIN)/python
	$(BIN)/pip install -q -e '.[testing]'
	touch $@ $(VENV)/.installed

install: $(VENV)/.installed catalogs

install-test: $(VENV)/.installed-testing catalogs
	tools/debian-packages $(TEST_PACKAGES)

catalogs: | $(BIN)/python
	$(BIN)/python -m nsupdate_pyramid.scripts.catalogs compile

migrate: install
	$(BIN)/alembic -c $(INI) upgrade head

admin-hint: migrate
	@if [ -z "$$($(BIN)/nsupdate-admin $(INI) user list --admins)" ]; then \
	    echo; echo "No admin account yet. Create one (in another terminal) with:"; \
	    echo "    $(BIN)/nsupdate-admin $(INI) user add admin --email you@example.org --admin"; echo; \
	fi

run: admin-hint
	$(BIN)/pserve $(INI)

lint: $(VENV)/.installed-testing
	$(BIN)/ruff check .

test: install-test lint
	$(BIN)/pytest

clean:
	rm -rf $(VENV) var build *.egg-info .pytest_cache .ruff_cache
