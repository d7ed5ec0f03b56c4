import datetime as dt
import json

import pytest
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from rest_framework.test import APIClient

from apps.accounts.tests.factories import UserFactory
from apps.common.fields import MAX_BIGINT
from apps.common.tests.fixtures import client_with_key, client_with_queue_token
from apps.payments.models import Payment
from apps.queue.models import QueueEntry
from apps.queue.tests.factories import QueueEntryFactory
from apps.reservations.models import Reservation
from apps.reservations.tests.factories import ReservationFactory
from apps.reservations.tests.helpers import (
    PRICE,
    RESERVATIONS,
    assert_problem,
    dates_url,
    hold_body,
    seats_url,
)
from apps.wallet.models import LedgerEntry, Wallet
from apps.wallet.services import wallet_charge

pytestmark = pytest.mark.django_db

PAYMENTS = "/api/v1/payments"
Status = Reservation.Status


def pay(client, reservation_ids, key: str | None = None):
    headers = {} if key is None else {"HTTP_IDEMPOTENCY_KEY": key}
    return client.post(PAYMENTS, {"reservation_ids": reservation_ids}, format="json", **headers)


def balance(user) -> int | None:
    return Wallet.objects.filter(user=user).values_list("balance", flat=True).first()


def state(user) -> dict:
    """Everything a payment may change, to show a failed one changed nothing."""
    return {
        "balance": balance(user),
        "ledger": list(LedgerEntry.objects.filter(wallet__user=user).values_list("pk", flat=True)),
        "payments": Payment.objects.count(),
        "reservations": dict(Reservation.objects.values_list("pk", "status")),
        "queue": dict(QueueEntry.objects.values_list("pk", "status")),
    }


@pytest.fixture
def seats(concert_date):
    return list(concert_date.seats.order_by("number"))


@pytest.fixture
def funded(user):
    wallet_charge(user=user, amount=1_000_000)
    return user


def new_token(user):
    """A fresh ACTIVE queue token for a user whose last one ended."""
    return client_with_queue_token(QueueEntryFactory(user=user, active=True))


class TestPay:
    def test_pays_confirms_and_ends_the_token(self, booking_client, funded, active_entry, seats, concert_date):
        first = ReservationFactory(user=funded, seat=seats[0])
        second = ReservationFactory(user=funded, seat=seats[1])

        response = pay(booking_client, [second.pk, first.pk])

        assert response.status_code == 201
        body = response.json()
        payment = Payment.objects.get()
        assert set(body) == {"id", "reservation_ids", "amount", "balance", "status", "paid_at"}
        assert body["id"] == payment.pk
        assert body["reservation_ids"] == sorted([first.pk, second.pk])
        assert (body["amount"], body["balance"], body["status"]) == (2 * PRICE, 1_000_000 - 2 * PRICE, "PAID")
        paid_at = parse_datetime(body["paid_at"])
        assert paid_at.utcoffset() is not None
        assert paid_at == payment.paid_at
        assert balance(funded) == 1_000_000 - 2 * PRICE
        for reservation in (first, second):
            reservation.refresh_from_db()
            assert reservation.status == Status.CONFIRMED
        active_entry.refresh_from_db()
        assert active_entry.status == QueueEntry.Status.EXPIRED

        # The ended token is refused everywhere, with the code that says so.
        assert_problem(booking_client.get("/api/v1/queue/status"), 401, "QUEUE_TOKEN_EXPIRED")
        assert_problem(booking_client.get(dates_url(concert_date.concert_id)), 401, "QUEUE_TOKEN_EXPIRED")
        assert_problem(booking_client.post(RESERVATIONS, hold_body(concert_date, 3)), 401, "QUEUE_TOKEN_EXPIRED")
        assert_problem(pay(booking_client, [first.pk]), 401, "QUEUE_TOKEN_EXPIRED")

    def test_the_account_shows_the_payment(self, booking_client, funded, seats):
        reservation = ReservationFactory(user=funded, seat=seats[0])
        payment = pay(booking_client, [reservation.pk]).json()
        account = client_with_key(funded)

        ledger = account.get(f"/api/v1/users/{funded.pk}/wallet/transactions").json()["results"]
        mine = account.get(f"{RESERVATIONS}/{reservation.pk}").json()

        assert ledger[0] == {
            "id": ledger[0]["id"],
            "kind": "PAYMENT",
            "amount": -PRICE,
            "balance_after": payment["balance"],
            "created_at": ledger[0]["created_at"],
        }
        assert account.get(f"/api/v1/users/{funded.pk}/wallet").json()["balance"] == payment["balance"]
        assert mine["status"] == "CONFIRMED"

    def test_the_seat_is_sold(self, booking_client, funded, seats, concert_date):
        reservation = ReservationFactory(user=funded, seat=seats[0])
        pay(booking_client, [reservation.pk])
        other = client_with_queue_token(QueueEntryFactory(active=True))

        seat_map = other.get(seats_url(concert_date.concert_id, concert_date.date)).json()["seats"]

        assert seat_map[0] == {"number": 1, "price": PRICE, "available": False}
        assert_problem(other.post(RESERVATIONS, hold_body(concert_date, 1), format="json"), 409, "SEAT_UNAVAILABLE")

    @pytest.mark.parametrize("trait", ["lapsed", "expired"])
    def test_one_lapsed_hold_fails_the_whole_payment(self, booking_client, funded, seats, concert_date, trait):
        live = ReservationFactory(user=funded, seat=seats[0])
        lapsed = ReservationFactory(user=funded, seat=seats[1], **{trait: True})
        before = state(funded)

        assert_problem(pay(booking_client, [live.pk, lapsed.pk]), 409, "RESERVATION_EXPIRED")

        assert state(funded) == before
        assert booking_client.get(dates_url(concert_date.concert_id)).status_code == 200  # token still ACTIVE

    def test_insufficient_balance_changes_nothing(self, booking_client, user, seats, concert_date):
        wallet_charge(user=user, amount=PRICE - 1)
        reservation = ReservationFactory(user=user, seat=seats[0])
        before = state(user)

        assert_problem(pay(booking_client, [reservation.pk]), 402, "INSUFFICIENT_BALANCE")

        assert state(user) == before
        assert booking_client.get(dates_url(concert_date.concert_id)).status_code == 200

    def test_no_wallet_yet_is_insufficient(self, booking_client, user, seats):
        reservation = ReservationFactory(user=user, seat=seats[0])

        assert_problem(pay(booking_client, [reservation.pk]), 402, "INSUFFICIENT_BALANCE")

    def test_already_paid(self, booking_client, funded, seats):
        reservation = ReservationFactory(user=funded, seat=seats[0])
        assert pay(booking_client, [reservation.pk]).status_code == 201
        retry = new_token(funded)
        live = ReservationFactory(user=funded, seat=seats[1])
        before = state(funded)

        assert_problem(pay(retry, [reservation.pk]), 409, "RESERVATION_ALREADY_PAID")
        assert_problem(pay(retry, [live.pk, reservation.pk]), 409, "RESERVATION_ALREADY_PAID")

        assert state(funded) == before

    def test_another_users_reservation_is_not_found(self, booking_client, funded, seats):
        theirs = ReservationFactory(seat=seats[0])
        mine = ReservationFactory(user=funded, seat=seats[1])
        before = state(funded)

        problems = [
            assert_problem(pay(booking_client, ids), 404, "RESERVATION_NOT_FOUND")
            for ids in ([theirs.pk], [mine.pk, theirs.pk], [theirs.pk + 1000], [MAX_BIGINT])
        ]

        # Someone else's looks like none at all (but for `instance`, each request's own id).
        assert all({**problem, "instance": None} == {**problems[0], "instance": None} for problem in problems)
        assert state(funded) == before

    @pytest.mark.parametrize(
        "body",
        [
            {},
            {"reservation_ids": []},
            {"reservation_ids": None},
            {"reservation_ids": 1},
            {"reservation_ids": "1"},
            {"reservation_ids": {"1": 1}},
            {"reservation_ids": ["1"]},
            {"reservation_ids": [1.0]},
            {"reservation_ids": [True]},
            {"reservation_ids": [None]},
            {"reservation_ids": [0]},
            {"reservation_ids": [-5]},
            {"reservation_ids": [MAX_BIGINT + 1]},
            {"reservation_ids": [10**30]},
            {"reservation_ids": [1, 1]},
            {"reservation_ids": list(range(1, 52))},
            [1],
            "text",
        ],
    )
    def test_invalid_body(self, booking_client, funded, body):
        before = state(funded)

        problem = assert_problem(booking_client.post(PAYMENTS, body, format="json"), 400, "VALIDATION_ERROR")

        assert problem["errors"]
        assert state(funded) == before

    @pytest.mark.parametrize("raw", [b"{", b"", b"null", b'{"reservation_ids": [1,]}', b"\xff"])
    def test_malformed_json(self, booking_client, funded, raw):
        response = booking_client.post(PAYMENTS, raw, content_type="application/json")

        assert_problem(response, 400, "VALIDATION_ERROR")

    @pytest.mark.parametrize("key", [None, "pay-1"])
    def test_deeply_nested_json(self, booking_client, key):
        headers = {} if key is None else {"HTTP_IDEMPOTENCY_KEY": key}
        response = booking_client.post(PAYMENTS, b"[" * 100_000, content_type="application/json", **headers)

        assert_problem(response, 400, "VALIDATION_ERROR")

    def test_credentials_come_before_the_body(self, api_client, user_client, user, seats):
        reservation = ReservationFactory(user=user, seat=seats[0])
        ended = QueueEntryFactory(user=user, status=QueueEntry.Status.EXPIRED, ended_at=timezone.now())
        lapsed = QueueEntryFactory(active=True, user=UserFactory(), expires_at=timezone.now() - dt.timedelta(seconds=1))
        api_client.credentials(HTTP_X_QUEUE_TOKEN="forged")
        cases = [
            (APIClient(), 401, "QUEUE_TOKEN_MISSING"),
            (user_client, 401, "QUEUE_TOKEN_MISSING"),
            (api_client, 401, "QUEUE_TOKEN_INVALID"),
            (client_with_queue_token(ended), 401, "QUEUE_TOKEN_EXPIRED"),
            (client_with_queue_token(lapsed), 401, "QUEUE_TOKEN_EXPIRED"),
            (client_with_queue_token(QueueEntryFactory()), 403, "QUEUE_TOKEN_NOT_ACTIVE"),
        ]
        for client, status, code in cases:
            for body in ({"reservation_ids": [reservation.pk]}, {"reservation_ids": "junk"}):
                assert_problem(client.post(PAYMENTS, body, format="json"), status, code)
                for key in ("fresh-key", "k" * 300):
                    response = client.post(PAYMENTS, body, format="json", HTTP_IDEMPOTENCY_KEY=key)
                    assert_problem(response, status, code)
        assert not Payment.objects.exists()


class TestIdempotencyKey:
    def test_a_reused_key_with_another_body_is_judged_on_its_token_first(self, booking_client, funded, seats):
        first, second = (ReservationFactory(user=funded, seat=seat) for seat in seats[:2])
        assert pay(booking_client, [first.pk], key="pay-1").status_code == 201  # ends the token

        response = pay(booking_client, [second.pk], key="pay-1")

        assert_problem(response, 401, "QUEUE_TOKEN_EXPIRED")

    def test_a_retry_returns_the_first_response_and_charges_once(self, booking_client, funded, seats):
        reservation = ReservationFactory(user=funded, seat=seats[0])
        first = pay(booking_client, [reservation.pk], key="pay-1")
        assert first.status_code == 201

        # The token ended with the payment; the retry is still answered, as the first was.
        retry = pay(booking_client, [reservation.pk], key="pay-1")

        assert retry.status_code == 201
        assert retry.json() == first.json()
        assert balance(funded) == 1_000_000 - PRICE
        assert LedgerEntry.objects.filter(wallet__user=funded, kind="PAYMENT").count() == 1
        assert Payment.objects.count() == 1

    def test_the_same_body_written_differently_is_the_same_request(self, booking_client, funded, seats):
        first_seat, second_seat = (ReservationFactory(user=funded, seat=seat).pk for seat in seats[:2])
        first = pay(booking_client, [first_seat, second_seat], key="pay-1")

        raw = json.dumps({"reservation_ids": [first_seat, second_seat]}, indent=4).encode()
        retry = booking_client.post(PAYMENTS, raw, content_type="application/json", HTTP_IDEMPOTENCY_KEY="pay-1")

        assert (retry.status_code, retry.json()) == (201, first.json())

    def test_the_same_ids_in_another_order_are_the_same_request(self, booking_client, funded, seats):
        first_seat, second_seat = (ReservationFactory(user=funded, seat=seat).pk for seat in seats[:2])
        first = pay(booking_client, [second_seat, first_seat], key="pay-1")

        retry = pay(booking_client, [first_seat, second_seat], key="pay-1")

        assert (retry.status_code, retry.json()) == (201, first.json())
        assert first.json()["reservation_ids"] == [first_seat, second_seat]
        assert Payment.objects.count() == 1
        assert balance(funded) == 1_000_000 - 2 * PRICE

    def test_a_subset_of_the_ids_is_another_request(self, booking_client, funded, seats):
        first_seat, second_seat = (ReservationFactory(user=funded, seat=seat).pk for seat in seats[:2])
        pay(booking_client, [first_seat, second_seat], key="pay-1")

        retry = pay(new_token(funded), [first_seat], key="pay-1")

        assert_problem(retry, 422, "IDEMPOTENCY_KEY_REUSED")

    def test_an_invalid_body_with_a_used_key_is_another_request(self, booking_client, funded, seats):
        reservation = ReservationFactory(user=funded, seat=seats[0])
        pay(booking_client, [reservation.pk], key="pay-1")

        assert_problem(pay(new_token(funded), "junk", key="pay-1"), 422, "IDEMPOTENCY_KEY_REUSED")

    def test_a_retry_after_the_token_lapsed_by_time(self, booking_client, funded, seats, active_entry):
        reservation = ReservationFactory(user=funded, seat=seats[0])
        first = pay(booking_client, [reservation.pk], key="pay-1")
        QueueEntry.objects.filter(pk=active_entry.pk).update(
            status=QueueEntry.Status.ACTIVE, expires_at=timezone.now() - dt.timedelta(seconds=1)
        )

        retry = pay(booking_client, [reservation.pk], key="pay-1")

        assert (retry.status_code, retry.json()) == (201, first.json())

    def test_a_retry_has_no_second_effect_under_a_new_token(self, booking_client, funded, seats):
        reservation = ReservationFactory(user=funded, seat=seats[0])
        first = pay(booking_client, [reservation.pk], key="pay-1")
        entry = QueueEntryFactory(user=funded, active=True)

        retry = pay(client_with_queue_token(entry), [reservation.pk], key="pay-1")

        assert (retry.status_code, retry.json()) == (201, first.json())
        entry.refresh_from_db()
        assert entry.status == QueueEntry.Status.ACTIVE  # the replay did not end the new token

    def test_the_same_key_with_another_body_is_refused(self, booking_client, funded, seats):
        reservation = ReservationFactory(user=funded, seat=seats[0])
        other = ReservationFactory(user=funded, seat=seats[1])
        pay(booking_client, [reservation.pk], key="pay-1")
        retry_client = new_token(funded)
        before = state(funded)

        assert_problem(pay(retry_client, [other.pk], key="pay-1"), 422, "IDEMPOTENCY_KEY_REUSED")

        assert state(funded) == before
        assert pay(retry_client, [other.pk], key="pay-2").status_code == 201

    def test_a_failed_attempt_is_not_remembered(self, booking_client, user, seats):
        reservation = ReservationFactory(user=user, seat=seats[0])
        assert_problem(pay(booking_client, [reservation.pk], key="pay-1"), 402, "INSUFFICIENT_BALANCE")
        assert_problem(pay(booking_client, "junk", key="pay-1"), 400, "VALIDATION_ERROR")
        wallet_charge(user=user, amount=PRICE)

        retry = pay(booking_client, [reservation.pk], key="pay-1")

        assert retry.status_code == 201
        assert retry.json()["balance"] == 0

    def test_keys_belong_to_one_user(self, booking_client, funded, seats):
        mine = ReservationFactory(user=funded, seat=seats[0])
        stranger = UserFactory()
        wallet_charge(user=stranger, amount=PRICE)
        theirs = ReservationFactory(user=stranger, seat=seats[1])
        pay(booking_client, [mine.pk], key="shared")

        response = pay(client_with_queue_token(QueueEntryFactory(user=stranger, active=True)), [theirs.pk], "shared")

        assert response.status_code == 201
        assert response.json()["reservation_ids"] == [theirs.pk]

    @pytest.mark.parametrize(
        "key, status",
        [
            ("", 400),
            ("k" * 256, 400),
            ("k" * 255, 201),
            ("k", 201),
            ("!\"#$%&'()*+,-./0-9:;<=>?@A-Z[\\]^_`a-z{|}~", 201),  # every kind of visible ASCII
            ("two words", 400),
            ("tab\there", 400),
            ("caf\u00e9", 400),
            ("del\x7f", 400),
        ],
    )
    def test_a_key_is_1_to_255_visible_ascii_characters(self, booking_client, funded, seats, key, status):
        reservation = ReservationFactory(user=funded, seat=seats[0])

        response = pay(booking_client, [reservation.pk], key=key)

        assert response.status_code == status
        if status == 400:
            assert response.json()["code"] == "VALIDATION_ERROR"
            assert not Payment.objects.exists()
