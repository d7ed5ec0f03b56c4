import re

import psycopg
import pytest
from django.db import OperationalError, connection

from apps.common import views

pytestmark = pytest.mark.django_db


def test_health_checks_the_database(client):
    response = client.get("/health")

    assert response.status_code == 200
    assert response.json() == {"status": "ok", "database": "ok"}


class BrokenCursor:
    def __enter__(self):
        raise OperationalError("server closed the connection")

    def __exit__(self, *args):
        return False


@pytest.mark.django_db(transaction=True)  # the check closes the broken connection
def test_health_is_503_when_the_database_is_unreachable(client, monkeypatch):
    monkeypatch.setattr(views.connection, "cursor", lambda: BrokenCursor())

    response = client.get("/health")

    assert response.status_code == 503
    assert response.json()["database"] == "unreachable"


@pytest.mark.django_db(transaction=True)
def test_health_retries_once_on_a_new_connection_after_a_restart(client):
    """Kept connections are not health-checked before reuse, so after the server drops one
    its next use fails; /health must reconnect rather than report the database down."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        (backend,) = cursor.fetchone()
    with psycopg.connect(**connection.get_connection_params(), autocommit=True) as other:
        other.execute("SELECT pg_terminate_backend(%s)", [backend])

    response = client.get("/health")

    assert response.status_code == 200
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        assert cursor.fetchone()[0] != backend


def test_liveness_answers_without_the_database(client, django_assert_num_queries):
    with django_assert_num_queries(0):
        assert client.get("/health/live").json() == {"status": "ok"}


def test_swagger_ui_is_served_from_our_own_static_files(client):
    response = client.get("/api/docs/")

    assert response.status_code == 200
    html = response.content.decode()
    external = [url for url in re.findall(r'(?:src|href)="([^"]+)"', html) if url.startswith(("http:", "https:", "//"))]
    assert external == []
    assert "/static/drf_spectacular_sidecar/swagger-ui-dist/" in html
