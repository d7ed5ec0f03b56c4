import dataclasses
import datetime as dt
import json

import pytest
from django.conf import settings
from django.test.utils import override_settings
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from rest_framework.response import Response
from rest_framework.test import APIClient, APIRequestFactory
from rest_framework.views import APIView

from apps.accounts.authentication import ApiKeyAuthentication
from apps.accounts.models import User
from apps.accounts.services import api_key_issue
from apps.accounts.tests.factories import UserFactory
from apps.common.tests.fixtures import client_with_key
from apps.concerts.tests.factories import ConcertFactory
from apps.queue.authentication import HasActiveQueueToken, QueueTokenAuthentication
from apps.queue.models import QueueEntry
from apps.queue.services import queue_line_rebuild, queue_state_update, queue_token_issue
from apps.queue.tests.factories import QueueEntryFactory, end_and_commit
from apps.queue.tokens import entry_for_token, new_nonce, token_for

pytestmark = pytest.mark.django_db

ISSUE = "/api/v1/queue/tokens"
STATUS = "/api/v1/queue/status"
PROBLEM = "application/problem+json"
BODY = {"token", "status", "position", "estimated_wait_seconds", "expires_at", "paused", "poll_after_seconds"}


@pytest.fixture
def one_slot(settings):
    settings.QUEUE_ACTIVE_LIMIT = 1


@dataclasses.dataclass
class Clock:
    offset: dt.timedelta = dt.timedelta()

    def advance(self, **delta) -> None:
        self.offset += dt.timedelta(**delta)


@pytest.fixture
def clock(monkeypatch) -> Clock:
    """The server's clock, moved on with `clock.advance(seconds=...)`: from then on every
    timezone.now() reads real time plus the advance. The line's times (when a token last
    polled, when a slot ends) live in Redis, out of reach of a test's UPDATE: an API test that
    needs one of them to pass moves the clock instead."""
    clock = Clock()
    real_now = timezone.now
    monkeypatch.setattr(timezone, "now", lambda: real_now() + clock.offset)
    return clock


def take_token():
    """A new user asks for a token; returns (response, a client that sends that token)."""
    response = client_with_key(UserFactory()).post(ISSUE, {}, format="json")
    client = APIClient()
    client.credentials(HTTP_X_QUEUE_TOKEN=response.json()["token"])
    return response, client


def entry_of(response) -> QueueEntry:
    return entry_for_token(response.json()["token"])


def assert_problem(response, status: int, code: str) -> None:
    assert response.status_code == status
    assert response["Content-Type"] == PROBLEM
    body = json.loads(response.content)
    assert body["status"] == status
    assert body["code"] == code
    assert {"type", "title", "detail"} <= set(body)


# POST /queue/tokens


def test_the_first_token_is_active_at_once(user_client):
    before = timezone.now()

    response = user_client.post(ISSUE, {}, format="json")

    assert response.status_code == 201
    body = response.json()
    assert set(body) == BODY
    assert (body["status"], body["position"], body["estimated_wait_seconds"]) == ("ACTIVE", 0, 0)
    assert body["paused"] is False
    assert body["poll_after_seconds"] >= 1
    expires_at = parse_datetime(body["expires_at"])
    assert expires_at.utcoffset() is not None
    ttl = dt.timedelta(seconds=settings.QUEUE_ACTIVE_TTL_SECONDS)
    assert before + ttl <= expires_at <= timezone.now() + ttl


def test_past_the_limit_tokens_wait_with_their_place_and_an_estimate(one_slot):
    take_token()

    second, _ = take_token()
    third, _ = take_token()

    assert second.status_code == third.status_code == 201
    assert (second.json()["status"], second.json()["position"], second.json()["expires_at"]) == ("WAITING", 1, None)
    assert (third.json()["status"], third.json()["position"]) == ("WAITING", 2)
    assert 0 < second.json()["estimated_wait_seconds"] <= third.json()["estimated_wait_seconds"]


def test_asking_again_returns_the_same_token_and_place_with_200(one_slot, user, user_client):
    take_token()
    first = user_client.post(ISSUE, {}, format="json")
    take_token()

    again = client_with_key(user).post(ISSUE, {}, format="json")

    assert first.status_code == 201
    assert again.status_code == 200
    assert again.json()["token"] == first.json()["token"]
    assert again.json()["position"] == first.json()["position"] == 1
    assert QueueEntry.objects.filter(user=user).count() == 1


def test_an_active_token_asked_for_again_is_the_same_active_token(user_client):
    first = user_client.post(ISSUE, {}, format="json")

    again = user_client.post(ISSUE, {}, format="json")

    assert again.status_code == 200
    assert again.json() == first.json()


def test_the_request_body_is_not_needed_to_take_a_token(user_client):
    response = user_client.post(ISSUE)

    assert response.status_code == 201


@pytest.mark.parametrize("header", [None, "Token nope", "Bearer abc"])
def test_taking_a_token_needs_a_valid_api_key(api_client, header):
    if header:
        api_client.credentials(HTTP_AUTHORIZATION=header)

    response = api_client.post(ISSUE, {}, format="json")

    assert_problem(response, 401, "AUTHENTICATION_FAILED")
    assert not QueueEntry.objects.exists()


def test_a_queue_token_is_no_api_key(booking_client):
    response = booking_client.post(ISSUE, {}, format="json")

    assert_problem(response, 401, "AUTHENTICATION_FAILED")


# GET /queue/status


def test_polling_an_active_token_shows_when_it_ends(booking_client, active_entry):
    response = booking_client.get(STATUS)

    assert response.status_code == 200
    body = response.json()
    assert body["token"] == token_for(active_entry)
    assert (body["status"], body["position"], body["estimated_wait_seconds"]) == ("ACTIVE", 0, 0)
    assert parse_datetime(body["expires_at"]) == active_entry.expires_at


def test_polling_shows_the_place_in_line(one_slot):
    take_token()
    _, second = take_token()
    _, third = take_token()

    assert second.get(STATUS).json()["position"] == 1
    third_body = third.get(STATUS).json()
    assert (third_body["status"], third_body["position"], third_body["expires_at"]) == ("WAITING", 2, None)


def test_after_the_active_token_pays_the_head_is_admitted_on_its_next_poll(one_slot):
    first, first_client = take_token()
    _, second_client = take_token()
    assert second_client.get(STATUS).json()["status"] == "WAITING"

    end_and_commit(entry_id=entry_of(first).pk)
    response = second_client.get(STATUS)

    assert response.status_code == 200
    assert (response.json()["status"], response.json()["position"]) == ("ACTIVE", 0)
    assert response.json()["expires_at"] is not None
    assert_problem(first_client.get(STATUS), 401, "QUEUE_TOKEN_EXPIRED")


def test_after_the_ttl_the_head_is_admitted_on_its_next_poll(one_slot, settings, clock):
    settings.QUEUE_ACTIVE_TTL_SECONDS = 60  # shorter than QUEUE_ABANDON_SECONDS: the head keeps its place
    first, first_client = take_token()
    _, second_client = take_token()

    clock.advance(seconds=60)  # the first token's time is up

    assert second_client.get(STATUS).json()["status"] == "ACTIVE"
    assert_problem(first_client.get(STATUS), 401, "QUEUE_TOKEN_EXPIRED")


def test_a_paid_user_asking_again_gets_a_new_token_at_the_end(one_slot, user):
    first = client_with_key(user).post(ISSUE, {}, format="json")
    take_token()
    end_and_commit(entry_id=QueueEntry.objects.get(user=user).pk)

    again = client_with_key(user).post(ISSUE, {}, format="json")

    assert again.status_code == 201
    assert again.json()["token"] != first.json()["token"]
    assert (again.json()["status"], again.json()["position"]) == ("WAITING", 1)


def test_polling_without_a_token_is_401_missing(api_client):
    assert_problem(api_client.get(STATUS), 401, "QUEUE_TOKEN_MISSING")


def test_an_api_key_is_no_queue_token(user_client):
    assert_problem(user_client.get(STATUS), 401, "QUEUE_TOKEN_MISSING")


@pytest.mark.parametrize("token", ["nope", "1.abc:def", "x" * 1000, " "])
def test_polling_an_unknown_token_is_401_invalid(api_client, token):
    api_client.credentials(HTTP_X_QUEUE_TOKEN=token)

    assert_problem(api_client.get(STATUS), 401, "QUEUE_TOKEN_INVALID")


def test_polling_a_tampered_token_is_401_invalid(api_client, active_entry):
    token = token_for(active_entry)
    api_client.credentials(HTTP_X_QUEUE_TOKEN=token[:-1] + ("A" if token[-1] != "A" else "B"))

    assert_problem(api_client.get(STATUS), 401, "QUEUE_TOKEN_INVALID")


def test_a_deactivated_users_token_can_no_longer_book(booking_client, user):
    concert = ConcertFactory()
    User.objects.filter(pk=user.pk).update(is_active=False)

    # Polls read no database, so the line still answers one (by design); booking reads the user.
    assert booking_client.get(STATUS).status_code == 200
    assert_problem(booking_client.get(f"/api/v1/concerts/{concert.pk}/dates"), 401, "QUEUE_TOKEN_INVALID")


def test_polling_an_abandoned_waiting_token_is_401_expired(one_slot, clock):
    take_token()
    _, client = take_token()

    clock.advance(seconds=settings.QUEUE_ABANDON_SECONDS)  # it stopped polling that long ago

    assert_problem(client.get(STATUS), 401, "QUEUE_TOKEN_EXPIRED")


@override_settings(THROTTLING=True, THROTTLE_RATES={**settings.THROTTLE_RATES, "queue_poll": "2/min"})
def test_polling_is_throttled_per_token(one_slot):
    _, first = take_token()
    _, second = take_token()
    for _ in range(2):
        assert first.get(STATUS).status_code == 200

    assert_problem(first.get(STATUS), 429, "THROTTLED")
    assert second.get(STATUS).status_code == 200


# The body's revision-2 fields


def test_while_admission_is_paused_the_body_says_so_and_gives_no_estimate(one_slot):
    first, active = take_token()
    _, waiting = take_token()
    assert waiting.get(STATUS).json()["paused"] is False

    queue_state_update(active_limit=None, paused=True)
    end_and_commit(entry_id=entry_of(first).pk)  # a slot frees, but nobody is admitted while paused
    newcomer, _ = take_token()

    body = waiting.get(STATUS).json()
    assert (body["status"], body["position"], body["paused"]) == ("WAITING", 1, True)
    assert body["estimated_wait_seconds"] is None
    assert body["poll_after_seconds"] >= 1
    assert newcomer.status_code == 201
    assert (newcomer.json()["status"], newcomer.json()["position"], newcomer.json()["paused"]) == ("WAITING", 2, True)
    assert newcomer.json()["estimated_wait_seconds"] is None


def test_an_active_token_reads_paused_too_and_keeps_an_estimate_of_0(booking_client):
    queue_state_update(active_limit=None, paused=True)

    body = booking_client.get(STATUS).json()

    assert (body["status"], body["paused"], body["estimated_wait_seconds"]) == ("ACTIVE", True, 0)
    assert body["poll_after_seconds"] >= 1


def test_resuming_admission_brings_the_estimate_back_and_admits(one_slot):
    first, _ = take_token()
    _, waiting = take_token()
    queue_state_update(active_limit=None, paused=True)
    end_and_commit(entry_id=entry_of(first).pk)

    queue_state_update(active_limit=None, paused=False)

    body = waiting.get(STATUS).json()
    assert (body["status"], body["paused"], body["estimated_wait_seconds"]) == ("ACTIVE", False, 0)


def test_those_far_back_are_asked_to_poll_less_often(one_slot, settings):
    # Before any admission history a slot is assumed to take its whole TTL to free. With the
    # default 600 s and one slot even the head's estimate is long enough for the longest interval.
    settings.QUEUE_ACTIVE_TTL_SECONDS = 60
    take_token()
    _, head = take_token()
    for _ in range(58):
        queue_token_issue(user=UserFactory())
    _, last = take_token()

    head_body, last_body = head.get(STATUS).json(), last.get(STATUS).json()

    assert (head_body["position"], last_body["position"]) == (1, 60)
    assert 1 <= head_body["poll_after_seconds"] < last_body["poll_after_seconds"]
    # Never so long that someone who follows the advice drops out of the line.
    assert last_body["poll_after_seconds"] < settings.QUEUE_ABANDON_SECONDS


# Cost does not grow with the crowd


@pytest.mark.parametrize("status", ["ACTIVE", "WAITING"])
def test_a_poll_runs_no_sql(one_slot, django_assert_num_queries, status):
    _, active = take_token()
    _, waiting = take_token()  # the line is loaded now, and this token waits
    client = active if status == "ACTIVE" else waiting

    with django_assert_num_queries(0):
        response = client.get(STATUS)

    assert response.status_code == 200
    assert response.json()["status"] == status


def crowd_joins(count: int) -> None:
    """`count` more people wait at the end of the line: stored in bulk, then the line reloaded
    from PostgreSQL (as after a Redis restart), which keeps the ACTIVE slot and the order."""
    start = User.objects.count()
    users = User.objects.bulk_create(User(username=f"crowd{start + n}") for n in range(count))
    now = timezone.now()
    QueueEntry.objects.bulk_create(QueueEntry(user=user, nonce=new_nonce(), created_at=now) for user in users)
    queue_line_rebuild()


def test_polling_and_taking_a_token_cost_the_same_with_5_or_500_waiting(
    one_slot, django_assert_num_queries, django_assert_max_num_queries
):
    take_token()
    cost = {}
    for crowd in (5, 495):
        crowd_joins(crowd)
        _, waiting = take_token()
        newcomer = client_with_key(UserFactory())
        with django_assert_num_queries(0):
            assert waiting.get(STATUS).status_code == 200
        with django_assert_max_num_queries(15) as issue:
            assert newcomer.post(ISSUE, {}, format="json").status_code == 201
        cost[crowd] = len(issue)
        # A place is the ticket's rank in the line (Redis), never a count of the line in SQL.
        assert not any("COUNT" in query["sql"] for query in issue.captured_queries)

    assert waiting.get(STATUS).json()["position"] > 500
    assert cost[5] == cost[495]


# HasActiveQueueToken on a booking view


class BookingProbeApi(APIView):
    authentication_classes = [QueueTokenAuthentication]
    permission_classes = [HasActiveQueueToken]

    def get(self, request):
        return Response({"user_id": request.user.pk, "entry_id": request.auth.pk})


class AccountOrBookingProbeApi(BookingProbeApi):
    authentication_classes = [ApiKeyAuthentication, QueueTokenAuthentication]


def call_probe(view=BookingProbeApi, **headers):
    response = view.as_view()(APIRequestFactory().get("/probe", **headers))
    response.render()
    return response


def probe_with(entry: QueueEntry):
    return call_probe(HTTP_X_QUEUE_TOKEN=token_for(entry))


def test_the_permission_lets_an_active_token_through_as_its_user(active_entry, django_assert_num_queries):
    with django_assert_num_queries(1):
        response = probe_with(active_entry)

    assert response.status_code == 200
    assert response.data == {"user_id": active_entry.user_id, "entry_id": active_entry.pk}


def test_the_permission_refuses_a_waiting_token_with_403():
    assert_problem(probe_with(QueueEntryFactory()), 403, "QUEUE_TOKEN_NOT_ACTIVE")


def test_the_permission_refuses_a_missing_token():
    assert_problem(call_probe(), 401, "QUEUE_TOKEN_MISSING")


def test_the_permission_refuses_an_unknown_token():
    assert_problem(call_probe(HTTP_X_QUEUE_TOKEN="made-up"), 401, "QUEUE_TOKEN_INVALID")


def test_the_permission_refuses_a_paid_token(active_entry):
    end_and_commit(entry_id=active_entry.pk)

    assert_problem(probe_with(active_entry), 401, "QUEUE_TOKEN_EXPIRED")


def test_the_permission_refuses_a_token_whose_ttl_is_up_before_any_job_marks_it(active_entry, clock):
    clock.advance(seconds=settings.QUEUE_ACTIVE_TTL_SECONDS)

    assert_problem(probe_with(active_entry), 401, "QUEUE_TOKEN_EXPIRED")


def test_the_permission_refuses_an_abandoned_waiting_token(one_slot, clock):
    take_token()
    waiting, _ = take_token()

    clock.advance(seconds=settings.QUEUE_ABANDON_SECONDS)  # it stopped polling that long ago

    assert_problem(probe_with(entry_of(waiting)), 401, "QUEUE_TOKEN_EXPIRED")


def test_the_permission_needs_a_queue_token_even_next_to_an_api_key(user):
    response = call_probe(AccountOrBookingProbeApi, HTTP_AUTHORIZATION=f"Token {api_key_issue(user=user)}")

    assert_problem(response, 401, "QUEUE_TOKEN_MISSING")


def test_a_token_admitted_on_poll_passes_the_permission_at_once(one_slot):
    first, _ = take_token()
    waiting, client = take_token()
    assert_problem(probe_with(entry_of(waiting)), 403, "QUEUE_TOKEN_NOT_ACTIVE")

    end_and_commit(entry_id=entry_of(first).pk)
    client.get(STATUS)

    assert probe_with(entry_of(waiting)).status_code == 200


def test_a_booking_request_does_not_admit_a_poll_does(one_slot, settings, clock):
    settings.QUEUE_ACTIVE_TTL_SECONDS = 60
    take_token()
    waiting, client = take_token()
    clock.advance(seconds=60)  # the slot is free, and nobody has polled since

    assert_problem(probe_with(entry_of(waiting)), 403, "QUEUE_TOKEN_NOT_ACTIVE")
    assert client.get(STATUS).json()["status"] == "ACTIVE"
    assert probe_with(entry_of(waiting)).status_code == 200


@pytest.mark.parametrize("token", [None, "forged"])
def test_a_queue_token_401_names_the_scheme_in_www_authenticate(api_client, token):
    if token:
        api_client.credentials(HTTP_X_QUEUE_TOKEN=token)

    response = api_client.get("/api/v1/queue/status")

    assert response.status_code == 401
    assert response["WWW-Authenticate"].startswith("X-Queue-Token")


@override_settings(THROTTLING=True, THROTTLE_RATES={**settings.THROTTLE_RATES, "queue_issue": "2/min"})
def test_taking_tokens_is_throttled_per_client_ip():
    clients = [client_with_key(UserFactory()) for _ in range(3)]  # three people behind one address

    assert [client.post(ISSUE).status_code for client in clients[:2]] == [201, 201]
    refused = clients[2].post(ISSUE)

    assert_problem(refused, 429, "THROTTLED")
    assert int(refused["Retry-After"]) > 0
    assert QueueEntry.objects.count() == 2
