"""Log lines: JSON, one access line per request with its request id, route, status, duration and
user; the id in the X-Request-ID header and in problem bodies; the edge's answers too; and no
credential in any line, whatever the request."""

import io
import json
import logging

import pytest
from django.test import Client

from apps.accounts.tests.factories import UserFactory
from apps.common.logs import JsonFormatter, RequestContextFilter
from apps.common.tests.fixtures import client_with_key
from apps.common.tests.wsgi import application, wsgi_call
from apps.queue.services import queue_token_issue
from apps.queue.tokens import token_for

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("wsgi_in_test_transaction")]

POLL = "/api/v1/queue/status"


@pytest.fixture
def log_lines():
    """Every record of every logger at DEBUG, as the deployed handler writes it; a function that
    returns the lines so far, parsed."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter())
    handler.addFilter(RequestContextFilter())
    root, django_logger = logging.getLogger(), logging.getLogger("django")
    levels = root.level, django_logger.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    django_logger.setLevel(logging.DEBUG)
    yield lambda: [json.loads(line) for line in stream.getvalue().splitlines()]
    root.removeHandler(handler)
    root.setLevel(levels[0])
    django_logger.setLevel(levels[1])


def access_lines(lines: list[dict]) -> list[dict]:
    return [line for line in lines if line["logger"].startswith("concert_booking.access")]


def test_a_request_django_answers_has_one_access_line_with_its_id_route_status_duration_and_user(log_lines, user):
    response = client_with_key(user).get(f"/api/v1/users/{user.pk}/wallet")

    [line] = access_lines(log_lines())
    assert response.status_code == 200
    assert line["request_id"] == response["X-Request-ID"]
    assert len(line["request_id"]) == 32
    assert (line["level"], line["layer"], line["method"]) == ("INFO", "django", "GET")
    assert (line["route"], line["status"], line["user_id"]) == ("/api/v1/users/<str:user_id>/wallet", 200, user.pk)
    assert line["duration_ms"] > 0
    assert line["time"]


def test_a_sane_request_id_from_the_client_is_kept_and_anything_else_replaced(log_lines, client):
    kept = client.get("/health/live", HTTP_X_REQUEST_ID="lb-7f3a.42:trace@edge_1")
    assert kept["X-Request-ID"] == "lb-7f3a.42:trace@edge_1"

    for insane in ("two words", "a\nforged line", "x" * 129, "", 'quote"d'):
        replaced = client.get("/health/live", HTTP_X_REQUEST_ID=insane)
        assert replaced["X-Request-ID"] != insane
        assert len(replaced["X-Request-ID"]) == 32
    assert [line["request_id"] for line in access_lines(log_lines())][0] == "lb-7f3a.42:trace@edge_1"


def test_a_problem_names_its_request_as_instance(log_lines, client):
    response = client.get("/api/v1/reservations", HTTP_X_REQUEST_ID="ticket-1234")

    assert response.status_code == 401
    assert response.json()["instance"] == "urn:request:ticket-1234"
    # Django's own line for the 4xx, logged after the middleware returned, carries the id too.
    assert {line["request_id"] for line in log_lines() if line["logger"] == "django.request"} == {"ticket-1234"}


def test_the_edge_answers_with_a_request_id_and_logs_only_the_sampled_fraction(log_lines, settings, user):
    token = token_for(queue_token_issue(user=user)[0])
    settings.LOG_EDGE_SAMPLE = 0

    answer = wsgi_call(application(), path=POLL, headers={"X-Queue-Token": token, "X-Request-ID": "poll-1"})

    assert (answer["status"], answer["headers"]["X-Request-ID"]) == (200, "poll-1")
    assert access_lines(log_lines()) == []

    settings.LOG_EDGE_SAMPLE = 1
    wsgi_call(application(), path=POLL, headers={"X-Queue-Token": token, "X-Request-ID": "poll-2"})

    [line] = access_lines(log_lines())
    assert line["logger"] == "concert_booking.access.edge"
    assert (line["request_id"], line["layer"], line["route"], line["status"]) == ("poll-2", "edge", POLL, 200)


def test_a_request_the_edge_hands_on_keeps_one_id(log_lines):
    answer = wsgi_call(application(), path=POLL, headers={"X-Queue-Token": "1.forged:nope"})

    assert answer["status"] == 401
    request_id = answer["headers"]["X-Request-ID"]
    assert json.loads(answer["body"])["instance"] == f"urn:request:{request_id}"
    [line] = access_lines(log_lines())
    assert (line["request_id"], line["layer"]) == (request_id, "django")


def test_no_credential_is_ever_logged_in_a_whole_flow(log_lines, settings, concert_date):
    """Sign up, charge, take a token, poll, read dates and seats, hold, pay (the edge and Django
    both answering), sign in on the web with the API key and in the admin with a password, and
    a few refusals; at DEBUG, with every edge answer logged. No line holds any of the secrets."""
    settings.LOG_EDGE_SAMPLE = 1
    app = application()

    def call(method, path, body=None, **headers):
        data = json.dumps(body).encode() if body is not None else b""
        answer = wsgi_call(
            app, method=method, path=path, body=data, headers={"Content-Type": "application/json", **headers}
        )
        return answer["status"], json.loads(answer["body"] or b"null")

    status, signup = call("POST", "/api/v1/users", {"username": "minji"})
    assert status == 201
    key, me = signup["api_key"], signup["id"]
    auth = {"Authorization": f"Token {key}"}
    assert (
        call("POST", f"/api/v1/users/{me}/wallet/charge", {"amount": 500_000}, **auth, Idempotency_Key="top-1")[0]
        == 200
    )
    status, issued = call("POST", "/api/v1/queue/tokens", {}, **auth)  # the edge
    token = issued["token"]
    queue = {"X-Queue-Token": token}
    assert call("GET", POLL, **queue)[1]["status"] == "ACTIVE"
    dates = f"/api/v1/concerts/{concert_date.concert_id}/dates"
    seats = f"{dates}/{concert_date.date.isoformat()}/seats"
    for path in (dates, seats, dates, seats):  # Django keeps the bodies, then the edge answers
        assert call("GET", path, **queue)[0] == 200
    hold = {"concert_id": concert_date.concert_id, "date": concert_date.date.isoformat(), "seat_number": 3}
    status, reservation = call("POST", "/api/v1/reservations", hold, **queue)
    assert status == 201
    status, _ = call(
        "POST", "/api/v1/payments", {"reservation_ids": [reservation["id"]]}, **queue, Idempotency_Key="p-1"
    )
    assert status == 201
    # Refusals: a wrong key, a forged token, a token no longer ACTIVE.
    assert call("POST", "/api/v1/queue/tokens", {}, Authorization=f"Token {key[:-3]}abc")[0] == 401
    assert call("GET", POLL, **{"X-Queue-Token": token[:-2] + "zz"})[0] == 401
    assert call("POST", "/api/v1/reservations", hold, **queue)[0] in (401, 403)

    web = Client()
    assert web.post("/signin", {"api_key": key}).status_code == 302
    web.get("/")
    newcomer = Client()
    assert newcomer.post("/signup", {"username": "jisoo"}).status_code == 302
    newcomer_key = newcomer.session["web_new_api_key"]
    assert newcomer_key in newcomer.get("/").content.decode()  # shown once, on the next page
    password = "correct horse battery staple 42"
    staff = UserFactory(username="boss", is_staff=True, is_superuser=True)
    staff.set_password(password)
    staff.save()
    admin = Client()
    assert admin.post("/admin/login/?next=/admin/", {"username": "boss", "password": password}).status_code == 302
    assert admin.get("/admin/").status_code == 200
    admin.post("/admin/login/", {"username": "boss", "password": password + "-wrong"})

    output = "\n".join(json.dumps(line) for line in log_lines())
    secrets = {
        "API key": key,
        "API key made on the web": newcomer_key,
        "queue token": token,
        "queue token's nonce and signature": token.split(".", 1)[1],
        "password": password,
        "web session cookie": web.cookies["sessionid"].value,
        "admin session cookie": admin.cookies["sessionid"].value,
        "CSRF cookie": admin.cookies["csrftoken"].value if "csrftoken" in admin.cookies else None,
    }
    assert len(access_lines(log_lines())) >= 20
    assert [name for name, secret in secrets.items() if secret and secret in output] == []
