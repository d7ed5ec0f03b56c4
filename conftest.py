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
def _static_files_without_collectstatic(settings):
    # Production uses the hashed manifest, which needs `collectstatic`; tests read the sources.
    settings.STORAGES = {
        **settings.STORAGES,
        "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
    }


@pytest.fixture(autouse=True)
def _fresh_throttle_counters():
    cache.clear()
    yield
    cache.clear()


pytest_plugins = ["apps.common.tests.fixtures"]
