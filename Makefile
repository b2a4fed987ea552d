# The two commands for a new user: `make run` and `make test`.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
HOST ?= 127.0.0.1
PORT ?= 8000
WORKERS ?= 2

.PHONY: run test system-run system-test install install-test runtime migrate seed serve doctor handout expected lint clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e .
	touch $@

$(VENV)/.installed-test: pyproject.toml $(VENV)/.installed
	$(BIN)/pip install --quiet -e '.[test]'
	touch $@

install: $(VENV)/.installed
install-test: $(VENV)/.installed-test

## runtime: build the sandbox runtime if needed: the 2020 course's Python 3.8, numpy 1.18.1, scipy 1.4.1
runtime: install
	$(BIN)/python -m grader runtime build default --if-needed

## doctor: can this machine grade? (the sandbox, its cgroups, the runtimes)
doctor: install
	$(BIN)/python -m grader doctor

migrate: install
	$(BIN)/alembic upgrade head

seed: migrate
	$(BIN)/python -m api seed-demo

## system-run, system-test: Debian packages (installed, or the exact command printed), services for the tests
system-run:
	@.ci/setup-system run
system-test:
	@.ci/setup-system test

## run: everything from scratch, then the API and a worker on http://$(HOST):$(PORT) (Ctrl-C stops both)
run: system-run runtime seed serve

serve:
	@echo "Starting the API on http://$(HOST):$(PORT), a grading worker and the sweeper (Ctrl-C stops them)"
	@trap 'kill 0' INT TERM EXIT; \
	$(BIN)/celery -A worker.celery_app worker --loglevel=INFO --concurrency=$(WORKERS) -n grading@%h & \
	$(BIN)/celery -A worker.celery_app worker -Q sweeper --pool solo --beat --loglevel=INFO -n sweeper@%h \
		--schedule=var/celerybeat-schedule & \
	$(BIN)/python -m api serve --host $(HOST) --port $(PORT) & \
	wait

## test: the whole test suite (real PostgreSQL, Redis, bubblewrap and Chromium where the machine has them)
test: system-test install-test runtime
	$(BIN)/python -m grader runtime build py311 --if-needed  # the tests compare the two
	$(BIN)/python -m pytest

## handout: dist/handout.tar, what course staff publish to students
handout:
	mkdir -p dist
	tar -C handout -cf dist/handout.tar --exclude='__pycache__' --exclude='*.pyc' --transform 's,^\.,handout,' .
	@echo "wrote dist/handout.tar"

## expected: regenerate the handout's expected answers from the reference solution
expected: install
	$(BIN)/python -m grader expected

lint: install-test
	$(BIN)/ruff check .

clean:
	rm -rf $(VENV) .runtime var dist
