"""POST /api/v1/reservations/{id}/cancel: a hold released, a bought seat refunded, with the API key."""

import datetime as dt

import pytest
from django.utils import timezone

from apps.accounts.tests.factories import UserFactory
from apps.common.tests.fixtures import client_with_key, client_with_queue_token
from apps.concerts.tests.factories import date_with_seats
from apps.payments.audit import ledger_audit
from apps.payments.services import payment_create
from apps.queue.tests.factories import QueueEntryFactory
from apps.reservations.models import Reservation
from apps.reservations.tests.factories import ReservationFactory
from apps.reservations.tests.helpers import PRICE, RESERVATIONS, assert_problem, seats_url
from apps.wallet.models import LedgerEntry, Wallet
from apps.wallet.services import wallet_charge

pytestmark = pytest.mark.django_db

Status = Reservation.Status
IMPOSSIBLE_PATH_IDS = ["0", "-1", "abc", "1.5", "١", "9" * 40]


def cancel_url(reservation_id) -> str:
    return f"{RESERVATIONS}/{reservation_id}/cancel"


def cancel(client, reservation_id, key: str | None = None, body=None):
    headers = {} if key is None else {"HTTP_IDEMPOTENCY_KEY": key}
    return client.post(cancel_url(reservation_id), {} if body is None else body, format="json", **headers)


def bought(user, seat) -> Reservation:
    wallet_charge(user=user, amount=seat.price)
    reservation = ReservationFactory(user=user, seat=seat)
    entry = QueueEntryFactory(user=user, active=True)
    payment_create(user=user, reservation_ids=[reservation.pk], queue_entry_id=entry.pk)
    return reservation


def balance(user) -> int:
    return Wallet.objects.get(user=user).balance


def refunds() -> int:
    return LedgerEntry.objects.filter(kind=LedgerEntry.Kind.REFUND).count()


@pytest.fixture
def seats(concert_date):
    return list(concert_date.seats.order_by("number"))


@pytest.fixture
def viewer():
    """Someone else in the booking flow, looking at the seat map."""
    return client_with_queue_token(QueueEntryFactory(active=True))


class TestCancel:
    def test_a_hold_is_released_with_no_refund(self, user, user_client, viewer, concert_date, seats):
        hold = ReservationFactory(user=user, seat=seats[3])

        response = cancel(user_client, hold.pk)

        assert response.status_code == 200
        assert response.json() == {
            "id": hold.pk,
            "concert_id": concert_date.concert_id,
            "date": concert_date.date.isoformat(),
            "seat_number": 4,
            "price": PRICE,
            "status": "CANCELLED",
            "expires_at": None,
            "refund": 0,
        }
        seat_map = viewer.get(seats_url(concert_date.concert_id, concert_date.date)).json()["seats"]
        assert seat_map[3] == {"number": 4, "price": PRICE, "available": True}
        assert refunds() == 0

    def test_a_bought_seat_is_refunded_and_on_sale_again(
        self, user, user_client, viewer, concert_date, seats, django_capture_on_commit_callbacks
    ):
        reservation = bought(user, seats[0])
        viewer.get(seats_url(concert_date.concert_id, concert_date.date))  # the map, kept as sold

        with django_capture_on_commit_callbacks(execute=True):
            response = cancel(user_client, reservation.pk)

        assert response.status_code == 200
        body = response.json()
        assert (body["status"], body["refund"], body["expires_at"]) == ("CANCELLED", PRICE, None)
        assert user_client.get(f"/api/v1/users/{user.pk}/wallet").json()["balance"] == PRICE
        newest = user_client.get(f"/api/v1/users/{user.pk}/wallet/transactions").json()["results"][0]
        assert (newest["kind"], newest["amount"], newest["balance_after"]) == ("REFUND", PRICE, PRICE)
        seat_map = viewer.get(seats_url(concert_date.concert_id, concert_date.date)).json()["seats"]
        assert seat_map[0]["available"] is True  # at once: the kept map was dropped
        assert user_client.get(f"{RESERVATIONS}/{reservation.pk}").json() == {
            key: value for key, value in body.items() if key != "refund"
        }
        assert ledger_audit() == []

    @pytest.mark.parametrize("trait", [{"lapsed": True}, {"expired": True}], ids=["lapsed", "swept"])
    def test_a_lapsed_hold_is_not_cancellable(self, user, user_client, seats, trait):
        hold = ReservationFactory(user=user, seat=seats[0], **trait)

        assert_problem(cancel(user_client, hold.pk), 409, "RESERVATION_NOT_CANCELLABLE")

    def test_cancelling_twice_is_not_cancellable_and_refunds_once(self, user, user_client, seats):
        reservation = bought(user, seats[0])
        assert cancel(user_client, reservation.pk).status_code == 200

        assert_problem(cancel(user_client, reservation.pk), 409, "RESERVATION_NOT_CANCELLABLE")
        assert balance(user) == PRICE
        assert refunds() == 1

    @pytest.mark.parametrize("days", [0, -1], ids=["today", "past"])
    def test_a_bought_seat_on_a_date_today_or_past_is_date_closed(self, user, user_client, days):
        concert_date = date_with_seats(seats=1, date=timezone.localdate() + dt.timedelta(days=days))
        reservation = bought(user, concert_date.seats.get())

        assert_problem(cancel(user_client, reservation.pk), 409, "DATE_CLOSED")
        assert balance(user) == 0

    def test_another_users_reservation_is_not_found_like_none_at_all(self, user_client, seats):
        theirs = bought(UserFactory(), seats[0])

        problems = [
            assert_problem(cancel(user_client, reservation_id), 404, "RESERVATION_NOT_FOUND")
            for reservation_id in (theirs.pk, theirs.pk + 1000)
        ]

        assert {**problems[0], "instance": None} == {**problems[1], "instance": None}
        theirs.refresh_from_db()
        assert theirs.status == Status.CONFIRMED

    @pytest.mark.parametrize("reservation_id", IMPOSSIBLE_PATH_IDS)
    def test_impossible_ids_are_not_found(self, user_client, reservation_id):
        assert_problem(cancel(user_client, reservation_id), 404, "RESERVATION_NOT_FOUND")

    def test_needs_the_api_key_before_anything_else(self, api_client, booking_client, user, seats):
        hold = ReservationFactory(user=user, seat=seats[0])

        for client in (api_client, booking_client):  # none, or a queue token: not the API key
            assert_problem(cancel(client, hold.pk), 401, "AUTHENTICATION_FAILED")
            assert_problem(cancel(client, hold.pk, body=[]), 401, "AUTHENTICATION_FAILED")
        hold.refresh_from_db()
        assert hold.status == Status.HELD

    def test_wrong_method(self, user, user_client, seats):
        hold = ReservationFactory(user=user, seat=seats[0])

        assert_problem(user_client.get(cancel_url(hold.pk)), 405, "METHOD_NOT_ALLOWED")
        assert_problem(user_client.delete(cancel_url(hold.pk)), 405, "METHOD_NOT_ALLOWED")

    def test_an_empty_body_is_the_same_as_an_empty_object(self, user, user_client, seats):
        hold = ReservationFactory(user=user, seat=seats[0])

        response = user_client.post(cancel_url(hold.pk))

        assert (response.status_code, response.json()["status"]) == (200, "CANCELLED")

    @pytest.mark.parametrize("raw", ["[]", "5", "{", "nope"])
    def test_a_body_that_is_not_an_object_is_a_validation_error(self, user, user_client, seats, raw):
        hold = ReservationFactory(user=user, seat=seats[0])

        response = user_client.post(cancel_url(hold.pk), raw, content_type="application/json")

        assert_problem(response, 400, "VALIDATION_ERROR")
        hold.refresh_from_db()
        assert hold.status == Status.HELD


class TestIdempotencyKey:
    def test_a_retry_returns_the_first_response_and_refunds_once(self, user, user_client, seats):
        reservation = bought(user, seats[0])

        first = cancel(user_client, reservation.pk, key="cancel-1")
        retry = cancel(user_client, reservation.pk, key="cancel-1")

        assert (first.status_code, retry.status_code) == (200, 200)
        assert retry.json() == first.json()
        assert first.json()["refund"] == PRICE
        assert (balance(user), refunds()) == (PRICE, 1)

    def test_the_same_key_for_another_reservation_is_refused(self, user, user_client, seats):
        first, second = bought(user, seats[0]), bought(user, seats[1])
        cancel(user_client, first.pk, key="cancel-1")

        assert_problem(cancel(user_client, second.pk, key="cancel-1"), 422, "IDEMPOTENCY_KEY_REUSED")
        second.refresh_from_db()
        assert second.status == Status.CONFIRMED

    def test_a_failed_attempt_is_not_remembered(self, user, user_client, seats):
        hold = ReservationFactory(user=user, seat=seats[0], lapsed=True)
        assert_problem(cancel(user_client, hold.pk, key="cancel-1"), 409, "RESERVATION_NOT_CANCELLABLE")
        Reservation.objects.filter(pk=hold.pk).update(expires_at=timezone.now() + dt.timedelta(minutes=5))

        assert cancel(user_client, hold.pk, key="cancel-1").status_code == 200

    def test_keys_belong_to_one_user(self, user, user_client, seats):
        mine = bought(user, seats[0])
        other = UserFactory()
        theirs = bought(other, seats[1])
        cancel(user_client, mine.pk, key="cancel-1")

        response = cancel(client_with_key(other), theirs.pk, key="cancel-1")

        assert (response.status_code, response.json()["id"]) == (200, theirs.pk)

    @pytest.mark.parametrize("key", ["", " ", "x" * 256, "é"])
    def test_a_malformed_key_is_a_validation_error(self, user, user_client, seats, key):
        hold = ReservationFactory(user=user, seat=seats[0])

        assert_problem(cancel(user_client, hold.pk, key=key), 400, "VALIDATION_ERROR")
        hold.refresh_from_db()
        assert hold.status == Status.HELD
