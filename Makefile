# The README's commands. Each target sets up what it needs (uv, the virtualenv) first.
.DEFAULT_GOAL := help
# uv: the one on PATH or in ~/.local/bin, else bootstrapped into a private venv (.tools/), which
# also works where the system Python refuses pip installs (PEP 668, Debian 12, Ubuntu 24.04).
UV := $(shell command -v uv 2>/dev/null || ls "$(HOME)/.local/bin/uv" 2>/dev/null || echo "$(CURDIR)/.tools/bin/uv")
PY := $(UV) run --frozen

.PHONY: help run worker test test-fast lint format migrate superuser bench
help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | sed 's/:.*## /\t/' | awk -F'\t' '{printf "make %-10s %s\n", $$1, $$2}'

$(CURDIR)/.tools/bin/uv:
	python3 -m venv "$(CURDIR)/.tools" || { echo "make: python3 -m venv failed: install python3-venv" >&2; exit 1; }
	"$(CURDIR)/.tools/bin/python" -m pip install --quiet "uv>=0.5"

.venv/.synced: $(UV) pyproject.toml uv.lock
	$(UV) sync --frozen
	@touch $@

run: .venv/.synced ## install, migrate and serve on http://127.0.0.1:8000 (embedded default unless DATABASE_URL/REDIS_URL are set)
	$(PY) python manage.py migrate --noinput
	$(PY) python manage.py serve

worker: .venv/.synced ## send queued mails (manage.py db_worker), for a service on PostgreSQL (DATABASE_URL)
	$(PY) python manage.py db_worker

test: .venv/.synced ## install and run the whole test suite against PostgreSQL and Redis
	$(PY) pytest

test-fast: .venv/.synced ## the tests that start no server (under a minute)
	$(PY) pytest -m "not slow"

lint: .venv/.synced ## ruff (lint and format check) and mypy
	$(PY) ruff check .
	$(PY) ruff format --check .
	$(PY) mypy accounts api config

format: .venv/.synced ## ruff format and fix
	$(PY) ruff format .
	$(PY) ruff check --fix .

migrate: .venv/.synced ## apply database migrations
	$(PY) python manage.py migrate --noinput

superuser: .venv/.synced ## create an admin account
	$(PY) python manage.py createsuperuser

# bench/README.md. The brief's service gets its own virtualenv, outside git; wrk comes from apt.
BRIEF_VENV := bench/brief/.venv
$(BRIEF_VENV)/.built: $(UV) bench/brief/requirements.txt
	$(UV) venv --allow-existing --python 3.11 $(BRIEF_VENV)
	VIRTUAL_ENV=$(BRIEF_VENV) $(UV) pip install -r bench/brief/requirements.txt
	@touch $@

bench: .venv/.synced $(BRIEF_VENV)/.built ## this service against the brief's (bench/brief/) with wrk; BENCH_ARGS=... passes options
	command -v wrk >/dev/null || (apt-get update -qq && apt-get install -y -qq wrk)
	$(PY) python bench/bench.py $(BENCH_ARGS)
