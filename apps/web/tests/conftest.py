import pytest


@pytest.fixture(autouse=True)
def _plain_static_files(settings):
    """Outside DEBUG the project serves hashed file names from collectstatic's manifest; tests
    render pages without running collectstatic, so they use the plain names."""
    settings.STORAGES = {
        **settings.STORAGES,
        "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
    }
