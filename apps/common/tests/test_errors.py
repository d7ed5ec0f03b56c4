import pytest
import redis
from django.db import OperationalError
from django.test import Client
from django.urls import reverse

from apps.common.exception_handler import flatten_validation_errors
from apps.queue.tests.factories import QueueEntryFactory
from apps.queue.tokens import token_for

pytestmark = pytest.mark.django_db

PROBLEM = "application/problem+json"


@pytest.mark.parametrize("path", ["/api/v1/nope", "/api/v2/concerts", "/api/", "/api/v1/concerts/1/nope"])
@pytest.mark.parametrize("debug", [True, False])
def test_unknown_api_routes_are_404_problems(api_client, settings, path, debug):
    settings.DEBUG = debug

    response = api_client.get(path)

    assert response.status_code == 404
    assert response["Content-Type"] == PROBLEM
    body = response.json()
    assert body["code"] == "NOT_FOUND"
    assert {"type", "title", "status", "detail", "code"} <= set(body)


def test_a_wrong_method_is_405(api_client):
    response = api_client.delete("/api/v1/concerts")

    assert response.status_code == 405
    assert response["Content-Type"] == PROBLEM
    assert response.json()["code"] == "METHOD_NOT_ALLOWED"


def test_a_non_json_body_is_415(api_client):
    response = api_client.post("/api/v1/users", data="username=x", content_type="application/x-www-form-urlencoded")

    assert response.status_code == 415
    assert response.json()["code"] == "UNSUPPORTED_MEDIA_TYPE"


def test_a_lost_database_is_a_503_problem_not_a_500(api_client, monkeypatch):
    def down(*args, **kwargs):
        raise OperationalError("connection refused")

    monkeypatch.setattr("apps.concerts.apis.concert_list", down)

    response = api_client.get("/api/v1/concerts")

    assert response.status_code == 503
    assert response["Content-Type"] == PROBLEM
    assert response.json()["code"] == "SERVICE_UNAVAILABLE"
    assert response["Retry-After"] == "1"


@pytest.mark.parametrize(
    "error",
    [
        redis.exceptions.ConnectionError("Connection refused"),
        redis.exceptions.TimeoutError("Timeout reading from socket"),
        redis.exceptions.OutOfMemoryError("OOM command not allowed when used memory > 'maxmemory'."),
        redis.exceptions.ReadOnlyError("You can't write against a read only replica."),
    ],
)
def test_a_lost_or_full_redis_is_a_503_problem_not_a_500(api_client, monkeypatch, error):
    def down(**kwargs):
        raise error

    monkeypatch.setattr("apps.queue.line.poll", down)
    api_client.credentials(HTTP_X_QUEUE_TOKEN=token_for(QueueEntryFactory()))

    response = api_client.get("/api/v1/queue/status")

    assert response.status_code == 503
    assert response["Content-Type"] == PROBLEM
    assert response.json()["code"] == "SERVICE_UNAVAILABLE"
    assert response["Retry-After"] == "1"


def test_a_redis_lost_while_a_web_page_saves_its_session_is_a_503_not_a_500(monkeypatch):
    def down(self, must_create=False):
        raise redis.exceptions.ConnectionError("Connection refused")

    monkeypatch.setattr("django.contrib.sessions.backends.cache.SessionStore.save", down)
    client = Client(raise_request_exception=False)

    response = client.post(reverse("web:signup"), {"username": "minji"})  # signing in writes the session

    assert response.status_code == 503
    assert response.json()["code"] == "SERVICE_UNAVAILABLE"
    assert response["Retry-After"] == "1"


def test_validation_errors_are_flattened_to_field_messages():
    detail = {"amount": ["bad"], "items": [{"id": ["missing"]}], "non_field_errors": ["whole body"]}

    assert flatten_validation_errors(detail) == [
        {"field": "amount", "message": "bad"},
        {"field": "items[0].id", "message": "missing"},
        {"field": None, "message": "whole body"},
    ]


def test_a_request_django_refuses_before_any_view_is_a_400_problem(client):
    response = client.get("/api/v1/concerts", HTTP_HOST="evil.example")

    assert response.status_code == 400
    assert response["Content-Type"] == PROBLEM
    assert response.json()["code"] == "BAD_REQUEST"
