import pytest
from django.conf import settings
from django.core.cache import cache


def pytest_configure(config):
    engine = settings.DATABASES["default"]["ENGINE"]
    if "postgresql" not in engine:
        pytest.exit(
            "The tests run on PostgreSQL (locks and races behave differently on SQLite). "
            "Run scripts/test, or set DATABASE_URL=postgres://user@host:5432/dbname.",
            returncode=2,
        )


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
def _fresh_throttle_counters():
    cache.clear()
    yield
    cache.clear()


pytest_plugins = ["apps.common.tests.fixtures", "apps.reservations.tests.fixtures"]
