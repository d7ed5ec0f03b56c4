"""GET /metrics: who may read it, what each request adds, and the sale's numbers as the
stores hold them. The multi-worker sums under gunicorn: test_metrics_gunicorn.py."""

import datetime as dt

import pytest
from django.test import override_settings
from django.urls import resolve
from django.utils import timezone
from redis.exceptions import ConnectionError as RedisConnectionError

from apps.accounts.tests.factories import UserFactory
from apps.common.tests.fixtures import client_with_key
from apps.common.tests.wsgi import METRICS_TOKEN, application, scrape, value, wsgi_call
from apps.payments.services import payment_create
from apps.queue.services import queue_token_issue
from apps.queue.tests.factories import QueueEntryFactory
from apps.queue.tokens import token_for
from apps.reservations.models import Reservation
from apps.reservations.tests.factories import ReservationFactory
from apps.wallet.services import wallet_charge
from concert_booking import edge

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("wsgi_in_test_transaction")]

POLL = "/api/v1/queue/status"


@pytest.fixture
def metrics_on(settings):
    settings.METRICS_TOKEN = METRICS_TOKEN
    settings.METRICS_ALLOWED_NETWORKS = []


def metrics_status(*, authorization: str | None = None, remote_addr: str = "127.0.0.1") -> int:
    headers = {"Authorization": authorization} if authorization else {}
    return wsgi_call(application(), path="/metrics", headers=headers, remote_addr=remote_addr)["status"]


# --- the gate ---


def test_metrics_are_off_by_default_and_look_like_any_unknown_path():
    assert metrics_status() == 404
    assert metrics_status(authorization="Bearer ") == 404


def test_a_token_opens_them_to_its_bearer_only(metrics_on):
    assert metrics_status(authorization=f"Bearer {METRICS_TOKEN}") == 200
    assert metrics_status(authorization=f"bearer {METRICS_TOKEN}") == 200  # the scheme is case-insensitive
    for wrong in (None, "Bearer nope", f"Token {METRICS_TOKEN}", f"Bearer {METRICS_TOKEN}x"):
        assert metrics_status(authorization=wrong) == 404


def test_networks_open_them_to_scrapers_connecting_from_there(settings):
    settings.METRICS_TOKEN = ""
    settings.METRICS_ALLOWED_NETWORKS = ["10.1.0.0/16", "192.168.7.7"]
    assert metrics_status(remote_addr="10.1.200.3") == 200
    assert metrics_status(remote_addr="192.168.7.7") == 200
    assert metrics_status(remote_addr="::ffff:10.1.0.9") == 200
    assert metrics_status(remote_addr="10.2.0.1") == 404
    assert metrics_status(remote_addr="") == 404


def test_with_both_set_a_scrape_needs_both(settings):
    settings.METRICS_TOKEN = METRICS_TOKEN
    settings.METRICS_ALLOWED_NETWORKS = ["10.0.0.0/8"]
    assert metrics_status(authorization=f"Bearer {METRICS_TOKEN}", remote_addr="10.0.0.1") == 200
    assert metrics_status(authorization=f"Bearer {METRICS_TOKEN}", remote_addr="11.0.0.1") == 404
    assert metrics_status(remote_addr="10.0.0.1") == 404


def test_the_host_header_is_not_checked_a_scraper_names_the_server_by_address(metrics_on):
    headers = {"Authorization": f"Bearer {METRICS_TOKEN}", "Host": "10.9.8.7:8000"}  # not in ALLOWED_HOSTS

    answer = wsgi_call(application(), path="/metrics", headers=headers)

    assert answer["status"] == 200
    assert answer["headers"]["Content-Type"].startswith("text/plain")
    assert answer["headers"]["X-Request-ID"]


# --- requests ---


def test_edge_route_names_are_the_url_patterns_of_the_views_they_stand_in_for():
    examples = {
        "/api/v1/queue/status": POLL,
        "/api/v1/queue/tokens": "/api/v1/queue/tokens",
        "/api/v1/concerts/<str:concert_id>/dates": "/api/v1/concerts/7/dates",
        "/api/v1/concerts/<str:concert_id>/dates/<str:date>/seats": "/api/v1/concerts/7/dates/2030-01-02/seats",
    }
    assert {route.name for route in edge.ROUTES} == set(examples)
    for name, path in examples.items():
        assert "/" + resolve(path).route == name


def test_each_request_is_counted_once_by_its_route_never_its_path(metrics_on, user):
    client = client_with_key(user)
    token = token_for(queue_token_issue(user=user)[0])
    before = scrape()

    for _ in range(3):
        assert wsgi_call(application(), path=POLL, headers={"X-Queue-Token": token})["status"] == 200  # the edge
    assert client.get("/api/v1/reservations/123456").status_code == 404  # Django, a URL pattern with an id
    assert client.get("/api/v1/no/such/thing").status_code == 404
    assert wsgi_call(application(), path=POLL, headers={"X-Queue-Token": token + "x"})["status"] == 401  # to Django

    after = scrape()

    def grew(**labels):
        return value(after, "concert_http_requests_total", **labels) - value(
            before, "concert_http_requests_total", **labels
        )

    assert grew(layer="edge", method="GET", route=POLL, status="200") == 3
    assert grew(layer="django", method="GET", route=POLL, status="401") == 1
    assert grew(layer="django", method="GET", route="/api/v1/reservations/<str:reservation_id>", status="404") == 1
    assert grew(layer="django", method="GET", route="/^api/", status="404") == 1
    seconds = ("concert_http_request_duration_seconds_count", {"layer": "edge", "method": "GET", "route": POLL})
    assert value(after, seconds[0], **seconds[1]) - value(before, seconds[0], **seconds[1]) == 3
    assert not [key for key in after if "123456" in str(key)]


def test_made_up_methods_are_counted_as_other(metrics_on, client):
    before = scrape()
    response = client.generic("BREW", "/health/live")
    after = scrape()
    labels = {"layer": "django", "method": "other", "route": "/health/live", "status": str(response.status_code)}
    assert (
        value(after, "concert_http_requests_total", **labels) - value(before, "concert_http_requests_total", **labels)
        == 1
    )


@override_settings(THROTTLING=True)
def test_throttled_requests_are_counted_where_they_are_refused(metrics_on, settings, user):
    settings.THROTTLE_RATES = {**settings.THROTTLE_RATES, "queue_poll": "1/min"}
    token = token_for(queue_token_issue(user=user)[0])
    before = scrape()

    answers = [wsgi_call(application(), path=POLL, headers={"X-Queue-Token": token})["status"] for _ in range(3)]

    assert answers == [200, 429, 429]  # the edge hands the refused ones on to the view
    after = scrape()
    assert (
        value(after, "concert_throttled_requests_total", scope="queue_poll")
        - value(before, "concert_throttled_requests_total", scope="queue_poll")
        == 2
    )


def test_a_lost_database_or_redis_is_counted_with_its_cause(metrics_on, booking_client, concert_date, monkeypatch):
    from apps.reservations import apis

    before = scrape()
    monkeypatch.setattr(apis, "reservation_hold", _raises(RedisConnectionError("gone")), raising=False)
    body = {"concert_id": concert_date.concert_id, "date": concert_date.date.isoformat(), "seat_number": 1}
    response = booking_client.post("/api/v1/reservations", body, format="json")
    assert response.status_code == 503
    after = scrape()
    grew = value(after, "concert_unavailable_responses_total", cause="redis") - value(
        before, "concert_unavailable_responses_total", cause="redis"
    )
    assert grew == 1


def _raises(error):
    def fail(**kwargs):
        raise error

    return fail


# --- the sale, read from the stores at scrape time ---


def test_the_sale_numbers_are_what_the_stores_hold(
    metrics_on, settings, concert_date, django_assert_max_num_queries, django_capture_on_commit_callbacks
):
    settings.QUEUE_ACTIVE_LIMIT = 1
    entries = [queue_token_issue(user=UserFactory())[0] for _ in range(3)]  # one admitted, two waiting
    now = timezone.now()
    buyer = entries[0].user
    seats = list(concert_date.seats.order_by("number"))
    ReservationFactory(user=buyer, seat=seats[0])  # a live hold
    ReservationFactory(seat=seats[1], expires_at=now - dt.timedelta(seconds=1))  # lapsed, not swept
    ReservationFactory(seat=seats[2], status=Reservation.Status.EXPIRED, expires_at=now - dt.timedelta(hours=1))
    sold = ReservationFactory(user=buyer, seat=seats[3])
    wallet_charge(user=buyer, amount=500_000)
    with django_capture_on_commit_callbacks(execute=True):  # the line learns that the token ended
        payment, _ = payment_create(user=buyer, reservation_ids=[sold.pk], queue_entry_id=entries[0].pk)

    with django_assert_max_num_queries(2):
        samples = scrape()

    # The payment ended the buyer's token; its slot went to the head of the line.
    assert value(samples, "concert_queue_waiting") == 1
    assert value(samples, "concert_queue_active") == 1
    assert value(samples, "concert_queue_admitted_total") == 2
    assert value(samples, "concert_holds_placed_total") == 4
    assert value(samples, "concert_holds_lapsed_total") == 2
    assert value(samples, "concert_holds_cancelled_total") == 0
    assert value(samples, "concert_seats_sold") == 1
    assert value(samples, "concert_reservations", status="HELD") == 1
    assert value(samples, "concert_wallet_entries_total", kind="CHARGE") == 1
    assert value(samples, "concert_wallet_entries_total", kind="PAYMENT") == 1
    assert value(samples, "concert_wallet_won_total", kind="PAYMENT") == payment.amount
    for source in ("line", "books", "audit"):
        assert value(samples, "concert_metrics_source_up", source=source) == 1


def test_a_source_that_cannot_be_read_is_left_out_and_said_to_be_down(metrics_on, monkeypatch):
    from concert_booking import metrics as sale_metrics

    QueueEntryFactory()
    monkeypatch.setattr(sale_metrics, "queue_line_counts", _raises(RedisConnectionError("gone")))

    samples = scrape()

    assert value(samples, "concert_metrics_source_up", source="line") == 0
    assert value(samples, "concert_metrics_source_up", source="books") == 1
    assert not [key for key in samples if key[0].startswith("concert_queue_")]


def test_the_books_are_counted_once_for_all_the_servers_scraped_within_seconds(metrics_on, django_assert_num_queries):
    scrape()  # counts them, and keeps the counts in Redis for a few seconds

    with django_assert_num_queries(0):
        samples = scrape()  # another server, or the same one

    assert value(samples, "concert_metrics_source_up", source="books") == 1
    assert ("concert_holds_placed_total", ()) in samples
