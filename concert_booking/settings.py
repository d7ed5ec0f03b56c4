"""Settings for the concert booking service.

One module, driven by environment variables. Every variable has a default that runs the
demo on a local SQLite file; production sets DATABASE_URL, SECRET_KEY, ALLOWED_HOSTS.
"""

import ipaddress
import os
from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent


def env_str(name: str, default: str) -> str:
    return os.environ.get(name, default)


def _env_parsed(name: str, default, parse, kind: str):
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    try:
        return parse(raw)
    except ValueError as exc:
        raise ImproperlyConfigured(f"{name} must be {kind}, got {raw!r}") from exc


def env_int(name: str, default: int) -> int:
    return _env_parsed(name, default, int, "an integer")


def env_bool(name: str, default: bool) -> bool:
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    return raw.strip().lower() in {"1", "true", "yes", "on"}


def env_float(name: str, default: float) -> float:
    return _env_parsed(name, default, float, "a number")


def env_list(name: str, default: str) -> list[str]:
    return [item.strip() for item in env_str(name, default).split(",") if item.strip()]


DEBUG = env_bool("DEBUG", False)
# The default key only exists so the demo runs without set-up; `check --deploy` flags it.
SECRET_KEY = env_str("SECRET_KEY", "django-insecure-demo-key-change-me-in-production")
ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", "localhost,127.0.0.1,[::1]")
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", "")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "django_q",
    "apps.common",
    "apps.accounts",
    "apps.concerts",
    "apps.queue",
    "apps.reservations",
    "apps.wallet",
    "apps.payments",
    "apps.web",
    "apps.demo",
]

MIDDLEWARE = [
    # First: the request id, the access log line and the request metrics cover every answer,
    # the other middleware's redirects and refusals included.
    "apps.common.middleware.RequestLogMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "apps.common.middleware.DatabaseUnavailableMiddleware",
]

ROOT_URLCONF = "concert_booking.urls"
WSGI_APPLICATION = "concert_booking.wsgi.application"
ASGI_APPLICATION = "concert_booking.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

# Database: a SQLite file by default (no server needed), PostgreSQL through DATABASE_URL.
DATABASE_URL = env_str("DATABASE_URL", f"sqlite:///{BASE_DIR / 'db.sqlite3'}")
DATABASES = {
    "default": dj_database_url.parse(
        DATABASE_URL,
        conn_max_age=env_int("DB_CONN_MAX_AGE", 60),
        # Off by default: the check is a `SELECT 1` round trip on every request (in bench/, a
        # fifth of an ACTIVE poll's cost). Without it, a kept connection the server dropped
        # (restart, failover, idle timeout) fails its next request with a 503, and the one
        # after reconnects.
        conn_health_checks=env_bool("DB_CONN_HEALTH_CHECKS", False),
    )
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # IMMEDIATE takes SQLite's write lock at BEGIN, so two writers queue up instead of one
    # failing with "database is locked" halfway through a transaction.
    DATABASES["default"]["OPTIONS"] = {"transaction_mode": "IMMEDIATE", "timeout": 20}
    DATABASES["default"]["CONN_MAX_AGE"] = 0
else:
    # A lock wait longer than this is a clean, retryable 503 instead of an endless wait.
    DATABASES["default"].setdefault("OPTIONS", {})
    DATABASES["default"]["OPTIONS"].setdefault("options", f"-c lock_timeout={env_int('DB_LOCK_TIMEOUT_MS', 5000)}")
    # Parameters sent apart from the SQL instead of quoted into it by psycopg in Python: less
    # CPU per query (bench/: 1.45 -> 0.96 ms app CPU per poll). Statements are not prepared
    # (Django leaves psycopg's prepare_threshold off), so PgBouncer's pooling modes all work.
    DATABASES["default"]["OPTIONS"].setdefault("server_side_binding", True)

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
AUTH_USER_MODEL = "accounts.User"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LANGUAGE_CODE = "en"
LANGUAGES = [("en", "English"), ("ko", "한국어")]
LOCALE_PATHS = [BASE_DIR / "locale"]
# Concert dates are calendar days in this zone ("today or later" is decided here).
TIME_ZONE = env_str("TIME_ZONE", "UTC")
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": (
            "django.contrib.staticfiles.storage.StaticFilesStorage"
            if DEBUG
            else "whitenoise.storage.CompressedManifestStaticFilesStorage"
        )
    },
}

# Sessions (web pages, admin) live in the cache below: signing out deletes the session there,
# so a copied cookie stops working at once (a signed cookie would stay valid until it expired),
# and the database keeps nothing of them.
SESSION_ENGINE = "django.contrib.sessions.backends.cache"
SESSION_COOKIE_HTTPONLY = True

# The shared store (apps/common/redis.py): the waiting room's hot state and the throttle
# counters. Production needs it (`check --deploy`); without it the demo embeds one per process.
REDIS_URL = env_str("REDIS_URL", "")
REDIS_TIMEOUT_SECONDS = env_int("REDIS_TIMEOUT_MS", 2000) / 1000

# The shared Redis, so every process sees every session; the demo's one process keeps them in
# its own memory (a restart signs everybody out).
CACHES = {
    "default": (
        {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": REDIS_URL,
            "OPTIONS": {"socket_connect_timeout": REDIS_TIMEOUT_SECONDS, "socket_timeout": REDIS_TIMEOUT_SECONDS},
        }
        if REDIS_URL
        else {"BACKEND": "django.core.cache.backends.locmem.LocMemCache", "LOCATION": "concert-booking"}
    )
}

# Logs (apps/common/logs.py, docs/deploy.md "Logs"): one JSON object per line on stderr, each
# with the request id; LOG_FORMAT=text for people reading a terminal. Every request Django
# answers gets an access line (logger concert_booking.access); of the edge's answers (polls,
# token issues, dates, seat maps: the crowd's requests, logged at a cost of about 4% of a poll
# each) only the fraction LOG_EDGE_SAMPLE, 0 by default: the metrics count every one of them.
LOG_FORMAT = env_str("LOG_FORMAT", "json").strip().lower()
if LOG_FORMAT not in {"json", "text"}:
    raise ImproperlyConfigured(f"LOG_FORMAT must be json or text, got {LOG_FORMAT!r}")
LOG_EDGE_SAMPLE = env_float("LOG_EDGE_SAMPLE", 0.0)
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"request": {"()": "apps.common.logs.RequestContextFilter"}},
    "formatters": {
        "json": {"()": "apps.common.logs.JsonFormatter"},
        "text": {"format": "%(asctime)s %(levelname)s %(name)s [%(request_id)s] %(message)s"},
    },
    "handlers": {
        "console": {"class": "logging.StreamHandler", "formatter": LOG_FORMAT, "filters": ["request"]},
    },
    "root": {"handlers": ["console"], "level": env_str("LOG_LEVEL", "INFO")},
    # At DEBUG, Django's template engine logs a whole template context whenever a variable is
    # missing: the CSRF token, and the API key a page shows once. Never, whatever LOG_LEVEL says.
    "loggers": {"django.template": {"level": "INFO"}},
}

# GET /metrics (Prometheus; apps/common/metrics.py, docs/deploy.md "Metrics"): off unless one of
# these is set (404 as for any unknown path). METRICS_TOKEN: scrapes send `Authorization: Bearer
# <token>`. METRICS_ALLOWED_NETWORKS: comma-separated addresses or networks (10.0.0.0/8) the
# scraper connects from. With both set, a scrape needs both.
METRICS_TOKEN = env_str("METRICS_TOKEN", "")
METRICS_ALLOWED_NETWORKS = env_list("METRICS_ALLOWED_NETWORKS", "")
for _network in METRICS_ALLOWED_NETWORKS:
    try:
        ipaddress.ip_network(_network, strict=False)
    except ValueError as exc:
        raise ImproperlyConfigured(f"METRICS_ALLOWED_NETWORKS: {_network!r} is not an address or network") from exc

# --- Booking knobs (see README "Settings") ---
HOLD_SECONDS = env_int("HOLD_SECONDS", 300)
MAX_HOLDS_PER_USER = env_int("MAX_HOLDS_PER_USER", 4)
QUEUE_ACTIVE_LIMIT = env_int("QUEUE_ACTIVE_LIMIT", 100)
QUEUE_ACTIVE_TTL_SECONDS = env_int("QUEUE_ACTIVE_TTL_SECONDS", 600)
# A WAITING token not polled for this long gives up its place in line.
QUEUE_ABANDON_SECONDS = env_int("QUEUE_ABANDON_SECONDS", 120)
SWEEP_BATCH_SIZE = env_int("SWEEP_BATCH_SIZE", 20000)

THROTTLING = env_str("THROTTLING", "on").strip().lower() != "off"
THROTTLE_RATES = {
    "signup": env_str("THROTTLE_SIGNUP", "30/min"),
    "queue_issue": env_str("THROTTLE_QUEUE_ISSUE", "60/min"),
    "queue_poll": env_str("THROTTLE_QUEUE_POLL", "120/min"),
    "wallet_charge": env_str("THROTTLE_WALLET_CHARGE", "30/min"),
}

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": ["apps.accounts.authentication.ApiKeyAuthentication"],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": ["apps.common.parsers.JSONParser"],
    "DEFAULT_PAGINATION_CLASS": "apps.common.pagination.PagePagination",
    "PAGE_SIZE": 20,
    "EXCEPTION_HANDLER": "apps.common.exception_handler.problem_exception_handler",
    "DEFAULT_SCHEMA_CLASS": "apps.common.schema.AutoSchema",
    "UNAUTHENTICATED_USER": None,
    "TEST_REQUEST_DEFAULT_FORMAT": "json",
    # Proxies in front of us; 0 means REMOTE_ADDR is the client (X-Forwarded-For is not trusted).
    "NUM_PROXIES": env_int("NUM_PROXIES", 0),
}

SPECTACULAR_SETTINGS = {
    "TITLE": "Concert booking API",
    "DESCRIPTION": (
        "Waiting queue, seat holds and wallet payments for concerts. Errors are RFC 9457 "
        "problem details; clients branch on `status` and `code`."
    ),
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
    "ENUM_NAME_OVERRIDES": {
        "QueueTokenStatusEnum": "apps.queue.models.QueueEntry.Status",
        "ReservationStatusEnum": "apps.reservations.models.ReservationStatus",
    },
}

Q_CLUSTER = {
    "name": "concert_booking",
    "orm": "default",
    "workers": env_int("Q_WORKERS", 1),
    "timeout": 120,
    "retry": 180,
    "catch_up": False,
    "max_attempts": 1,
    "label": "Scheduled tasks",
}

# Security headers that matter once DEBUG is off behind TLS; tunable for plain-HTTP demos.
SECURE_CONTENT_TYPE_NOSNIFF = True
# Off by default so the admin works on a plain-HTTP demo; turn on behind TLS.
SESSION_COOKIE_SECURE = env_bool("SECURE_COOKIES", False)
CSRF_COOKIE_SECURE = env_bool("SECURE_COOKIES", False)
SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", False)
SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", SECURE_HSTS_SECONDS > 0)
SECURE_HSTS_PRELOAD = env_bool("SECURE_HSTS_PRELOAD", SECURE_HSTS_SECONDS > 0)
if env_bool("BEHIND_TLS_PROXY", False):
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
