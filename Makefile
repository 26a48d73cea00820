# The README's commands. Each target sets up what it needs (uv, the virtualenv) first.
.DEFAULT_GOAL := help
UV := $(shell command -v uv 2>/dev/null || echo "$(HOME)/.local/bin/uv")
PY := $(UV) run --frozen

.PHONY: help run test lint format migrate superuser bench
help:
	@echo "make run    - install, migrate and serve on http://127.0.0.1:8000 (embedded default unless DATABASE_URL/REDIS_URL are set)"
	@echo "make test   - install and run the test suite against PostgreSQL and Redis"
	@echo "make lint   - ruff and mypy"

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
