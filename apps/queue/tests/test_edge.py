"""The requests answered in front of Django (concert_booking/edge.py and each app's edge.py):
the same answers as the API views, no SQL where none is needed, and everything else handed
on to Django."""

import io
import json
from wsgiref.util import setup_testing_defaults

import pytest
from django.conf import settings
from django.core import signals
from django.db import close_old_connections
from django.test.utils import override_settings
from rest_framework.test import APIClient

from apps.accounts.models import User
from apps.accounts.services import api_key_issue
from apps.accounts.tests.factories import UserFactory
from apps.common.redis import get_redis
from apps.queue.models import QueueEntry
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


# Taking a token: POST /queue/tokens


ISSUE = "/api/v1/queue/tokens"


def issue(app, *, key: str | None, body: bytes = b"{}", host: str = "localhost", **extra):
    environ = {
        "REQUEST_METHOD": "POST",
        "PATH_INFO": ISSUE,
        "HTTP_HOST": host,
        "CONTENT_TYPE": "application/json",
        "CONTENT_LENGTH": str(len(body)),
        "wsgi.input": io.BytesIO(body),
        "REMOTE_ADDR": "127.0.0.1",  # as Django's test client sends
        **extra,
    }
    if key is not None:
        environ["HTTP_AUTHORIZATION"] = f"Token {key}"
    setup_testing_defaults(environ)
    answer = {"environ": environ}

    def start_response(status, headers):
        answer["status"], answer["headers"] = int(status.split()[0]), dict(headers)

    answer["body"] = b"".join(app(environ, start_response))
    return answer


@pytest.fixture
def key(user):
    return api_key_issue(user=user)


@pytest.fixture(autouse=True)
def _keep_the_test_connection():
    """The edge sends Django's request signals around a request that uses the database, and
    their receiver would close the test's connection (and its transaction): Django's own test
    client disconnects it the same way."""
    signals.request_started.disconnect(close_old_connections)
    signals.request_finished.disconnect(close_old_connections)
    yield
    signals.request_started.connect(close_old_connections)
    signals.request_finished.connect(close_old_connections)


def test_a_new_token_is_issued_at_the_edge_in_one_statement_and_as_the_api_issues_it(
    edge, tokens, key, django_assert_num_queries
):
    with django_assert_num_queries(1):  # the API key's user and the join (the line is full: it waits)
        answer = issue(edge, key=key)

    assert answer["status"] == 201
    assert answer["headers"]["Allow"] == "POST, OPTIONS"
    assert answer["environ"]["wsgi.input"].read() == b"{}"  # read off the connection, kept for Django
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    again = client.post(ISSUE, {}, format="json")  # the API view: the same token and place, now 200
    assert again.status_code == 200
    assert json.loads(answer["body"]) == again.json()
    assert edge.django_application.handed_on == []


def test_asking_again_at_the_edge_returns_the_same_token_with_200(edge, key):
    first = json.loads(issue(edge, key=key)["body"])

    again = issue(edge, key=key)

    assert again["status"] == 200
    assert json.loads(again["body"])["token"] == first["token"]


@pytest.mark.parametrize(
    "case", ["no key", "other scheme", "unknown key", "deactivated user", "unknown host", "large body", "bad length"]
)
def test_a_token_request_the_edge_cannot_plainly_answer_goes_on_to_django(edge, key, user, case):
    arguments = {"key": key}
    if case == "no key":
        arguments["key"] = None
    elif case == "other scheme":
        arguments.update(key=None, HTTP_AUTHORIZATION=f"Bearer {key}")
    elif case == "unknown key":
        arguments["key"] = key[:-2] + "xx"
    elif case == "deactivated user":
        User.objects.filter(pk=user.pk).update(is_active=False)
    elif case == "unknown host":
        arguments["host"] = "evil.example"
    elif case == "large body":
        arguments["body"] = b"{" + b" " * 2000 + b"}"
    else:
        arguments["CONTENT_LENGTH"] = "x"

    assert issue(edge, **arguments)["status"] == 418
    assert edge.django_application.handed_on == [ISSUE]
    assert not QueueEntry.objects.exists()


@override_settings(THROTTLING=True, THROTTLE_RATES={**settings.THROTTLE_RATES, "queue_issue": "2/min"})
def test_the_edge_counts_token_requests_against_the_same_throttle_as_the_api(edge):
    keys = [api_key_issue(user=UserFactory()) for _ in range(3)]

    assert [issue(edge, key=keys[index])["status"] for index in range(2)] == [201, 201]

    assert issue(edge, key=keys[2])["status"] == 418  # over the limit: Django answers it
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {keys[2]}")
    response = client.post(ISSUE, {}, format="json")
    assert (response.status_code, response.json().get("code")) == (429, "THROTTLED"), response.content
    assert QueueEntry.objects.count() == 2
