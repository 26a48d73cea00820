# The README's commands. Each target sets up what it needs (uv, the virtualenv) first.
.DEFAULT_GOAL := help
UV := $(shell command -v uv 2>/dev/null || echo "$(HOME)/.local/bin/uv")
PY := $(UV) run --frozen

.PHONY: help run test lint format migrate superuser bench
help:
	@echo "make run    - install, migrate and serve on http://127.0.0.1:8000 (embedded default unless DATABASE_URL/REDIS_URL are set)"
	@echo "make test   - install and run the test suite against PostgreSQL and Redis"
	@echo "make lint   - ruff and mypy"
	@echo "make bench  - this service against the brief's (bench/brief/) with wrk; BENCH_ARGS=... passes options"

$(UV):
	python3 -m pip install --quiet --user "uv>=0.5" || python3 -m pip install --quiet "uv>=0.5"

.venv/.synced: $(UV) pyproject.toml uv.lock
	$(UV) sync --frozen
	@touch $@

run: .venv/.synced
	$(PY) python manage.py migrate --noinput
	$(PY) python manage.py serve

test: .venv/.synced
	$(PY) pytest

lint: .venv/.synced
	$(PY) ruff check .
	$(PY) ruff format --check .
	$(PY) mypy accounts api config

format: .venv/.synced
	$(PY) ruff format .
	$(PY) ruff check --fix .

migrate: .venv/.synced
	$(PY) python manage.py migrate --noinput

superuser: .venv/.synced
	$(PY) python manage.py createsuperuser

# bench/README.md. The brief's service gets its own virtualenv, outside git; wrk comes from apt.
BRIEF_VENV := bench/brief/.venv
$(BRIEF_VENV)/.built: $(UV) bench/brief/requirements.txt
	$(UV) venv --allow-existing --python 3.11 $(BRIEF_VENV)
	VIRTUAL_ENV=$(BRIEF_VENV) $(UV) pip install -r bench/brief/requirements.txt
	@touch $@

bench: .venv/.synced $(BRIEF_VENV)/.built
	command -v wrk >/dev/null || (apt-get update -qq && apt-get install -y -qq wrk)
	$(PY) python bench/bench.py $(BENCH_ARGS)
