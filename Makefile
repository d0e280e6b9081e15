# Two commands matter: `make run` (serve the whole product) and `make test`.
SHELL := /bin/bash
.DEFAULT_GOAL := run

VENV ?= .venv
# Django 6 wants Python >= 3.12: take the newest 3.13/3.12/3.11 on this machine
# (pyenv's too). On 3.11 the requirements select Django 5.2 LTS.
PYTHON ?= $(shell for v in 3.13 3.12 3.11; do \
	for c in python$$v $$HOME/.pyenv/versions/$$v*/bin/python$$v /usr/local/bin/python$$v /usr/bin/python$$v; do \
	  [ -x "$$(command -v $$c 2>/dev/null)" ] && $$c -c 'import sys' >/dev/null 2>&1 && { echo $$c; exit 0; }; \
	done; done; echo python3)
PY := $(VENV)/bin/python
HOST ?= 127.0.0.1
PORT ?= 8000

# mysqlclient compiles against MariaDB's headers: only install it when the
# database really is MySQL/MariaDB, so a fresh machine needs nothing but Python.
ifneq (,$(filter mysql%,$(DATABASE_URL)))
REQUIREMENTS := requirements.txt
else
REQUIREMENTS := requirements/base.txt
endif

$(VENV)/bin/activate:
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip

$(VENV)/.installed-%: $(VENV)/bin/activate requirements.txt requirements/*.txt
	$(PY) -m pip install --quiet --disable-pip-version-check -r $(subst +,/,$*)
	touch $@

.PHONY: install install-test messages run test lint clean
install: $(VENV)/.installed-$(subst /,+,$(REQUIREMENTS))
	@$(MAKE) --no-print-directory messages

install-test: install $(VENV)/.installed-requirements+test.txt

# Compile translations with Babel (no system gettext needed).
messages:
	@$(PY) manage.py compiletranslations >/dev/null

# The product as a newcomer meets it: DEBUG off (its own error pages), the dev
# outboxes on (/dev/mail/, /dev/sms/: no mail server or SMS provider here).
# `make run DJANGO_DEBUG=1` for Django's debug pages.
run: install
	PATH="$(CURDIR)/$(VENV)/bin:$$PATH" DJANGO_DEBUG=$${DJANGO_DEBUG:-0} DEV_OUTBOX=$${DEV_OUTBOX:-1} \
	  WEB_HOST=$(HOST) WEB_PORT=$(PORT) $(VENV)/bin/honcho start

# Uses the real MariaDB and Redis when they answer on their standard ports,
# the embedded stand-ins otherwise (scripts/test.py says which at the top).
test: install-test
	@if $(PY) scripts/test.py --mysql-reachable; then \
	  $(MAKE) --no-print-directory $(VENV)/.installed-requirements+mysql.txt; fi
	$(PY) scripts/test.py $(ARGS)

lint: install-test
	$(VENV)/bin/ruff check accounts events webhooks tickets orders analytics ticketing tests scripts bench

clean:
	rm -rf $(VENV) var staticfiles
