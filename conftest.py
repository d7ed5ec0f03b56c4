import pytest
from django.conf import settings

from apps.common.redis import get_redis


def pytest_configure(config):
    engine = settings.DATABASES["default"]["ENGINE"]
    if "postgresql" not in engine:
        pytest.exit(
            "The tests run on PostgreSQL (locks and races behave differently on SQLite). "
            "Run scripts/test, or set DATABASE_URL=postgres://user@host:5432/dbname.",
            returncode=2,
        )
    if not settings.REDIS_URL:
        pytest.exit("The tests need Redis: run scripts/test, or set REDIS_URL=redis://host:6379/15.", returncode=2)


@pytest.fixture(autouse=True)
def _test_speed_and_static_files(settings):
    # Production uses the hashed manifest, which needs `collectstatic`; tests read the sources.
    settings.STORAGES = {
        **settings.STORAGES,
        "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
    }
    # Every test client builds the middleware anew, and WhiteNoise would walk STATIC_ROOT (tens
    # of MB after a collectstatic) each time; with autorefresh it looks files up when asked.
    settings.WHITENOISE_AUTOREFRESH = True
    # Staff test users (admin_client) get a password; the real hasher is slow on purpose.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture(autouse=True)
def _fresh_shared_store():
    """Each test starts with an empty Redis database (scripts/test points REDIS_URL at one of
    its own): no waiting line, no throttle counts left over from another test."""
    get_redis().flushdb()
    yield
    get_redis().flushdb()


pytest_plugins = ["apps.common.tests.fixtures", "apps.reservations.tests.fixtures"]
