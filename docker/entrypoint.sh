#!/bin/sh
# Container entrypoint.
#   serve (default)       python manage.py serve: uvicorn on HOST:PORT with WEB_CONCURRENCY workers
#                         (the one supported way to serve: config/serving.py)
#   migrate               apply the database migrations and exit (a one-off job)
#   <executable> ...      run it as is (python, sh, ...)
#   <anything else> ...   a manage.py command, e.g. createsuperuser
# RUN_MIGRATIONS=1 applies migrations before the command. Set it on one job or one container
# only, never on every replica: replicas starting together would race on the same schema.
set -eu

if [ "$#" -eq 0 ]; then
  set -- serve
fi

case "$(printf '%s' "${RUN_MIGRATIONS:-0}" | tr '[:upper:]' '[:lower:]')" in
  1 | true | yes | on)
    echo "entrypoint: applying migrations (RUN_MIGRATIONS is set)" >&2
    python manage.py migrate --noinput
    ;;
esac

case "$1" in
  serve)
    shift
    exec python manage.py serve "$@"
    ;;
  migrate)
    shift
    exec python manage.py migrate --noinput "$@"
    ;;
esac

if command -v "$1" >/dev/null 2>&1; then
  exec "$@"
fi
exec python manage.py "$@"
