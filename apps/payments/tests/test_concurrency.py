"""Payment races on PostgreSQL with real threads: every thread has its own connection."""

import datetime as dt
import threading
from collections import Counter

import pytest
from django.db.models import Sum

from apps.accounts.tests.factories import UserFactory
from apps.common.tests.fixtures import client_with_queue_token
from apps.common.tests.threads import run_in_threads
from apps.concerts.tests.factories import date_with_seats
from apps.payments import services as payment_services
from apps.payments.models import Payment
from apps.payments.services import payment_create
from apps.queue.tests.factories import QueueEntryFactory
from apps.reservations.errors import SeatUnavailable
from apps.reservations.models import Reservation
from apps.reservations.services import holds_sweep, reservation_hold
from apps.reservations.tests.factories import ReservationFactory
from apps.reservations.tests.helpers import PRICE
from apps.wallet.models import LedgerEntry, Wallet
from apps.wallet.services import wallet_charge

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.concurrency]

PAYMENTS = "/api/v1/payments"
Status = Reservation.Status
WAIT_SECONDS = 10


def balance(user) -> int:
    return Wallet.objects.get(user=user).balance


def assert_ledger_adds_up(user) -> None:
    entries = LedgerEntry.objects.filter(wallet__user=user).order_by("id")
    assert entries.aggregate(total=Sum("amount"))["total"] == balance(user)
    assert all(entry.balance_after >= 0 for entry in entries)
    assert entries.last().balance_after == balance(user)


def pay_outcomes(clients, bodies, headers=None) -> list[tuple[int, dict]]:
    def post(index: int) -> tuple[int, dict]:
        response = clients[index].post(PAYMENTS, bodies[index], format="json", **(headers or {}))
        return response.status_code, response.json()

    return run_in_threads(post, len(clients))


def test_paying_one_reservation_many_times_at_once_charges_once():
    user = UserFactory()
    wallet_charge(user=user, amount=1_000_000)
    reservation = ReservationFactory(user=user, seat=date_with_seats(seats=1).seats.get())
    entry = QueueEntryFactory(user=user, active=True)
    clients = [client_with_queue_token(entry) for _ in range(10)]

    outcomes = pay_outcomes(clients, [{"reservation_ids": [reservation.pk]}] * 10)

    statuses = Counter(status for status, _ in outcomes)
    assert statuses[201] == 1
    # The losers either saw the payment (already paid) or the token it ended.
    assert {(status, body["code"]) for status, body in outcomes if status != 201} <= {
        (409, "RESERVATION_ALREADY_PAID"),
        (401, "QUEUE_TOKEN_EXPIRED"),
    }
    assert balance(user) == 1_000_000 - PRICE
    assert Payment.objects.count() == 1
    assert_ledger_adds_up(user)


def test_one_payment_retried_at_once_with_its_key_answers_all_alike_and_charges_once():
    user = UserFactory()
    wallet_charge(user=user, amount=1_000_000)
    reservation = ReservationFactory(user=user, seat=date_with_seats(seats=1).seats.get())
    entry = QueueEntryFactory(user=user, active=True)
    clients = [client_with_queue_token(entry) for _ in range(10)]

    outcomes = pay_outcomes(
        clients, [{"reservation_ids": [reservation.pk]}] * 10, headers={"HTTP_IDEMPOTENCY_KEY": "checkout-1"}
    )

    assert {status for status, _ in outcomes} == {201}
    assert all(body == outcomes[0][1] for _, body in outcomes)
    assert balance(user) == 1_000_000 - PRICE
    assert Payment.objects.count() == 1


def test_sweeping_while_users_pay_is_safe():
    concert_date = date_with_seats(seats=40)
    seats = list(concert_date.seats.all())
    lapsed = [ReservationFactory(seat=seat, lapsed=True) for seat in seats[:24]]
    payers = []
    for seat in seats[24:36]:
        user = UserFactory()
        wallet_charge(user=user, amount=PRICE)
        reservation = ReservationFactory(user=user, seat=seat)
        payers.append((client_with_queue_token(QueueEntryFactory(user=user, active=True)), reservation))

    def work(index: int):
        if index >= len(payers):
            return holds_sweep(batch_size=5)
        client, reservation = payers[index]
        response = client.post(PAYMENTS, {"reservation_ids": [reservation.pk]}, format="json")
        return response.status_code

    results = run_in_threads(work, len(payers) + 4)

    assert results[: len(payers)] == [201] * len(payers)
    assert sum(results[len(payers) :]) == len(lapsed)
    assert Counter(Reservation.objects.values_list("status", flat=True)) == {
        Status.EXPIRED: len(lapsed),
        Status.CONFIRMED: len(payers),
    }


@pytest.fixture
def pause_after_locking(monkeypatch):
    """Makes payment_create stop right after it locked the reservations: `locked` is set,
    then it waits for `resume` (or a fixed pause) before debiting and confirming."""
    locked, resume = threading.Event(), threading.Event()
    lock_payable = payment_services.reservations_lock_payable

    def paused(**kwargs):
        reservations = lock_payable(**kwargs)
        locked.set()
        resume.wait(WAIT_SECONDS)
        return reservations

    monkeypatch.setattr(payment_services, "reservations_lock_payable", paused)
    return locked, resume


@pytest.fixture
def paying_at_the_last_moment(pause_after_locking):
    """A funded user whose hold lapses while its payment (started in time) is in flight."""
    user = UserFactory()
    wallet_charge(user=user, amount=PRICE)
    reservation = ReservationFactory(user=user, seat=date_with_seats(seats=1).seats.get())
    entry = QueueEntryFactory(user=user, active=True)

    def pay():
        return payment_create(
            user=user,
            reservation_ids=[reservation.pk],
            queue_entry_id=entry.pk,
            now=reservation.expires_at - dt.timedelta(seconds=1),
        )

    return reservation, pay, *pause_after_locking


def test_the_sweeper_skips_a_hold_being_paid_and_never_waits(paying_at_the_last_moment):
    reservation, pay, locked, resume = paying_at_the_last_moment

    def sweep_during_payment():
        assert locked.wait(WAIT_SECONDS)
        try:
            return holds_sweep(now=reservation.expires_at + dt.timedelta(seconds=1))
        finally:
            resume.set()

    payment, swept = run_in_threads(lambda index: pay() if index == 0 else sweep_during_payment(), 2)

    assert isinstance(payment, tuple), payment
    assert swept == 0
    reservation.refresh_from_db()
    assert reservation.status == Status.CONFIRMED
    assert holds_sweep() == 0


@pytest.mark.parametrize("same_user", [True, False], ids=["by the payer", "by someone else"])
def test_holding_a_seat_again_while_its_lapsing_hold_is_paid(paying_at_the_last_moment, same_user):
    """The hold arrives after expiry and finds the seat free by time, but the payment that
    locked the row in time wins: the hold gets SEAT_UNAVAILABLE, never a deadlock or a 5xx."""
    reservation, pay, locked, resume = paying_at_the_last_moment
    holder = reservation.user if same_user else UserFactory()
    seat = reservation.seat

    def hold_during_payment():
        assert locked.wait(WAIT_SECONDS)
        # Let the hold reach the payment's row lock before the payment goes on.
        threading.Timer(0.5, resume.set).start()
        return reservation_hold(
            user=holder,
            concert_id=seat.concert_date.concert_id,
            date=seat.concert_date.date,
            seat_number=seat.number,
            now=reservation.expires_at + dt.timedelta(seconds=1),
        )

    payment, held = run_in_threads(lambda index: pay() if index == 0 else hold_during_payment(), 2)

    assert isinstance(payment, tuple), payment
    assert isinstance(held, SeatUnavailable), held
    assert list(Reservation.objects.values_list("pk", "status")) == [(reservation.pk, Status.CONFIRMED)]


def test_one_token_buys_once_even_when_two_payments_race():
    """Two payments of different holds sent at once with one token: the token is for one
    purchase, so the first ends it and the second is refused, charging nothing."""
    user = UserFactory()
    wallet_charge(user=user, amount=1_000_000)
    seats = date_with_seats(seats=2).seats.order_by("number")
    first, second = (ReservationFactory(user=user, seat=seat) for seat in seats)
    entry = QueueEntryFactory(user=user, active=True)
    clients = [client_with_queue_token(entry) for _ in range(2)]

    outcomes = pay_outcomes(clients, [{"reservation_ids": [first.pk]}, {"reservation_ids": [second.pk]}])

    assert sorted(status for status, _ in outcomes) == [201, 401]
    assert [body["code"] for status, body in outcomes if status == 401] == ["QUEUE_TOKEN_EXPIRED"]
    assert Payment.objects.count() == 1
    assert balance(user) == 1_000_000 - PRICE
    assert_ledger_adds_up(user)
