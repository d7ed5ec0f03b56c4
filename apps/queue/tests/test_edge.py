"""The queue poll answered in front of Django (concert_booking/edge.py, apps/queue/edge.py):
the same answers as the API view, no SQL, and everything else handed on to Django."""

import io
import json
from wsgiref.util import setup_testing_defaults

import pytest
from django.conf import settings
from django.test.utils import override_settings
from rest_framework.test import APIClient

from apps.accounts.tests.factories import UserFactory
from apps.common.redis import get_redis
from apps.queue.services import queue_token_issue
from apps.queue.tests.factories import end_and_commit
from apps.queue.tokens import entry_id_for_token, token_for
from concert_booking.edge import EdgeApplication

pytestmark = pytest.mark.django_db
STATUS = "/api/v1/queue/status"


class Django:
    """Stands in for Django behind the edge: records what was handed on."""

    def __init__(self):
        self.handed_on = []

    def __call__(self, environ, start_response):
        self.handed_on.append(environ["PATH_INFO"])
        start_response("418 I'm a teapot", [])
        return [b""]


def call(app, *, token: str | None, method: str = "GET", path: str = STATUS, host: str = "localhost"):
    environ = {"REQUEST_METHOD": method, "PATH_INFO": path, "HTTP_HOST": host, "wsgi.input": io.BytesIO()}
    if token is not None:
        environ["HTTP_X_QUEUE_TOKEN"] = token
    setup_testing_defaults(environ)
    answer = {}

    def start_response(status, headers):
        answer["status"], answer["headers"] = int(status.split()[0]), dict(headers)

    answer["body"] = b"".join(app(environ, start_response))
    return answer


def api_poll(token: str) -> dict:
    client = APIClient()
    client.credentials(HTTP_X_QUEUE_TOKEN=token)
    response = client.get(STATUS)
    assert response.status_code == 200
    return response.json()


@pytest.fixture
def edge():
    return EdgeApplication(Django())


@pytest.fixture
def tokens(settings):
    """One ACTIVE token and two WAITING ones behind it."""
    settings.QUEUE_ACTIVE_LIMIT = 1
    return [token_for(queue_token_issue(user=UserFactory())[0]) for _ in range(3)]


def test_a_waiting_poll_is_answered_without_any_sql_and_as_the_api_answers_it(edge, tokens, django_assert_num_queries):
    with django_assert_num_queries(0):
        answer = call(edge, token=tokens[2])

    assert answer["status"] == 200
    assert answer["headers"]["Content-Type"] == "application/json"
    assert int(answer["headers"]["Content-Length"]) == len(answer["body"])
    assert json.loads(answer["body"]) == api_poll(tokens[2])
    assert json.loads(answer["body"])["position"] == 2
    assert edge.django_application.handed_on == []


def test_an_active_poll_is_answered_without_any_sql_and_as_the_api_answers_it(edge, tokens, django_assert_num_queries):
    with django_assert_num_queries(0):
        answer = call(edge, token=tokens[0])

    body = json.loads(answer["body"])
    assert (answer["status"], body["status"], body["position"]) == (200, "ACTIVE", 0)
    assert body == api_poll(tokens[0])


def test_the_edge_poll_keeps_the_place_and_admits_as_the_api_poll_does(edge, tokens):
    first = json.loads(call(edge, token=tokens[1])["body"])
    assert first["status"] == "WAITING"

    end_and_commit(entry_id=entry_id_for_token(tokens[0]))  # the slot frees

    assert json.loads(call(edge, token=tokens[1])["body"])["status"] == "ACTIVE"


@pytest.mark.parametrize(
    "case",
    ["no token", "forged token", "ended token", "other method", "other path", "unknown host", "line not loaded"],
)
def test_anything_but_a_plain_live_poll_goes_on_to_django(edge, tokens, case):
    token, method, path, host = tokens[1], "GET", STATUS, "localhost"
    if case == "no token":
        token = None
    elif case == "forged token":
        token = tokens[1][:-2] + "xx"
    elif case == "ended token":
        end_and_commit(entry_id=entry_id_for_token(tokens[0]))
        token = tokens[0]
    elif case == "other method":
        method = "POST"
    elif case == "other path":
        path = STATUS + "/"
    elif case == "unknown host":
        host = "evil.example"
    else:
        get_redis().flushdb()  # Redis restarted: the API view reloads the line

    answer = call(edge, token=token, method=method, path=path, host=host)

    assert answer["status"] == 418
    assert edge.django_application.handed_on == [path]


@override_settings(THROTTLING=True, THROTTLE_RATES={**settings.THROTTLE_RATES, "queue_poll": "2/min"})
def test_the_edge_counts_polls_against_the_same_throttle_as_the_api(edge, tokens):
    assert [call(edge, token=tokens[1])["status"] for _ in range(2)] == [200, 200]

    assert call(edge, token=tokens[1])["status"] == 418  # over the limit: Django answers it
    client = APIClient()
    client.credentials(HTTP_X_QUEUE_TOKEN=tokens[1])
    response = client.get(STATUS)
    assert (response.status_code, response.json()["code"]) == (429, "THROTTLED")
    assert call(edge, token=tokens[2])["status"] == 200  # another token counts apart


def test_the_deployed_wsgi_application_has_the_edge_in_front():
    from concert_booking import wsgi

    assert isinstance(wsgi.application, EdgeApplication)


# The admitted crowd's reads: dates and seat map


@pytest.fixture
def admitted(tokens):
    return tokens[0]


def read_paths(concert_date) -> list[str]:
    return [
        f"/api/v1/concerts/{concert_date.concert_id}/dates",
        f"/api/v1/concerts/{concert_date.concert_id}/dates/{concert_date.date.isoformat()}/seats",
    ]


def test_reads_are_answered_from_the_kept_body_without_sql(edge, admitted, concert_date, django_assert_num_queries):
    client = APIClient()
    client.credentials(HTTP_X_QUEUE_TOKEN=admitted)
    for path in read_paths(concert_date):
        from_django = client.get(path)  # computes and keeps the body
        assert from_django.status_code == 200

        with django_assert_num_queries(0):
            answer = call(edge, token=admitted, path=path)

        assert answer["status"] == 200
        assert answer["body"] == from_django.content
    assert edge.django_application.handed_on == []


@pytest.mark.parametrize("case", ["no body kept", "waiting token", "ended token", "forged token", "bad date"])
def test_reads_go_on_to_django_unless_an_active_token_asks_for_a_kept_body(edge, tokens, concert_date, case):
    client = APIClient()
    client.credentials(HTTP_X_QUEUE_TOKEN=tokens[0])
    paths = read_paths(concert_date)
    for path in paths:
        client.get(path)
    token = tokens[0]
    if case == "no body kept":
        get_redis().delete(*get_redis().keys("avail:*"))
    elif case == "waiting token":
        token = tokens[2]
    elif case == "ended token":
        end_and_commit(entry_id=entry_id_for_token(tokens[0]))
    elif case == "forged token":
        token = token[:-2] + "xx"
    else:
        paths = [paths[1].replace(concert_date.date.isoformat(), "2030-02-30")]

    for path in paths:
        assert call(edge, token=token, path=path)["status"] == 418
    assert edge.django_application.handed_on == paths
