#!/bin/sh
# Migrate first (idempotent) unless told not to, then run the given command (gunicorn by default).
set -e
if [ "${MIGRATE_ON_START:-1}" = "1" ]; then
  python manage.py migrate --noinput
fi
exec "$@"
