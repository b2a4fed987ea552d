# The two commands for a new user: `make run` and `make test`.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
HOST ?= 127.0.0.1
PORT ?= 8000
WORKERS ?= 2
GRADING_QUEUE ?= grading
SWEEPER_QUEUE ?= sweeper
STOP_WAIT_S ?= 5

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
	$(BIN)/python -m api seed-demo --url http://$(HOST):$(PORT)

## system-run, system-test: Debian packages (installed, or the exact command printed), services for the tests
system-run:
	@.ci/setup-system run
system-test:
	@.ci/setup-system test

## run: everything from scratch, then the API and the workers on http://$(HOST):$(PORT) (Ctrl-C stops them)
run: system-run runtime seed serve

## serve: the API, a grading worker, the similarity worker (its own queue: grading never waits behind
## it) and the sweeper. Each runs in a session of its own, so Ctrl-C reaches this shell alone (not the
## sandboxes, nor beat in the middle of a send): it stops each one, and kills what is left after
## STOP_WAIT_S (a job cut short is graded again).
serve:
	@echo "Starting the API on http://$(HOST):$(PORT), a grading worker, the similarity worker and the sweeper (Ctrl-C stops them)"
	@pids=(); \
	stop() { \
		trap '' INT TERM HUP; \
		kill -TERM "$${pids[@]}" 2>/dev/null; \
		for _ in $$(seq $$(( $(STOP_WAIT_S) * 10 ))); do kill -0 "$${pids[@]}" 2>/dev/null || break; sleep 0.1; done; \
		for pid in "$${pids[@]}"; do kill -KILL -- -$$pid 2>/dev/null; done; \
		exit $$1; \
	}; \
	trap 'stop 0' INT TERM HUP; \
	mkdir -p var; \
	$(BIN)/python -c 'from core.queue import declare_queues; declare_queues()' || exit; \
	setsid $(BIN)/celery -A worker.celery_app worker -Q $(GRADING_QUEUE) --concurrency=$(WORKERS) \
		--loglevel=INFO -n grading@%h & pids+=($$!); \
	setsid $(BIN)/celery -A worker.celery_app worker -Q $(GRADING_QUEUE).similarity --pool solo \
		--loglevel=INFO -n similarity@%h & pids+=($$!); \
	setsid $(BIN)/celery -A worker.celery_app worker -Q $(SWEEPER_QUEUE) --pool solo --beat \
		--schedule=var/celerybeat-schedule --loglevel=INFO -n sweeper@%h & pids+=($$!); \
	setsid $(BIN)/python -m api serve --host $(HOST) --port $(PORT) & pids+=($$!); \
	wait -n; stop 1

## test: the whole test suite (real PostgreSQL, Redis, bubblewrap and Chromium where the machine has them)
test: system-test install-test runtime
	$(BIN)/python -m grader runtime build py311 --if-needed  # the tests compare the two
	$(BIN)/python -m pytest -n 2 --dist loadfile  # a file's tests share its service: one process each

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
