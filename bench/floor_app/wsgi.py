"""`gunicorn -c gunicorn.conf.py bench.floor_app.wsgi:application` (see bench/server.py)."""

import os

from django.core.wsgi import get_wsgi_application

os.environ["DJANGO_SETTINGS_MODULE"] = "bench.floor_app.settings"

application = get_wsgi_application()
