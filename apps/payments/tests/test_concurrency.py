"""Payment races on PostgreSQL with real threads: every thread has its own connection."""

import datetime as dt
import threading
from collections import Counter

import pytest
from django.db.models import Sum

from apps.accounts.tests.factories import UserFactory
from apps.common.tests.fixtures import client_with_key, client_with_queue_token
from apps.common.tests.threads import run_in_threads
from apps.concerts.tests.factories import date_with_seats
from apps.payments import services as payment_services
from apps.payments.audit import ledger_audit
from apps.payments.models import Payment
from apps.payments.services import concert_date_cancel, payment_create, refund_reference, reservation_cancel
from apps.queue.tests.factories import QueueEntryFactory
from apps.reservations.errors import DateClosed, ReservationExpired, ReservationNotCancellable, SeatUnavailable
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


# --- cancelling ---


def bought(user, seat) -> Reservation:
    wallet_charge(user=user, amount=seat.price)
    reservation = ReservationFactory(user=user, seat=seat)
    payment_create(
        user=user, reservation_ids=[reservation.pk], queue_entry_id=QueueEntryFactory(user=user, active=True).pk
    )
    return reservation


def refunds_of(reservation) -> int:
    return LedgerEntry.objects.filter(kind=LedgerEntry.Kind.REFUND, reference=refund_reference(reservation.pk)).count()


def cancel_outcomes(user, reservation, count: int, headers=None) -> list[tuple[int, dict]]:
    clients = [client_with_key(user) for _ in range(count)]

    def post(index: int) -> tuple[int, dict]:
        response = clients[index].post(
            f"/api/v1/reservations/{reservation.pk}/cancel", {}, format="json", **(headers or {})
        )
        return response.status_code, response.json()

    return run_in_threads(post, count)


def test_twenty_cancels_of_one_bought_seat_at_once_refund_once():
    user = UserFactory()
    reservation = bought(user, date_with_seats(seats=1).seats.get())

    outcomes = cancel_outcomes(user, reservation, 20)

    assert Counter(status for status, _ in outcomes) == {200: 1, 409: 19}
    assert [body["refund"] for status, body in outcomes if status == 200] == [PRICE]
    assert {body["code"] for status, body in outcomes if status == 409} == {"RESERVATION_NOT_CANCELLABLE"}
    assert balance(user) == PRICE
    assert refunds_of(reservation) == 1
    assert_ledger_adds_up(user)
    assert ledger_audit() == []


def test_twenty_retries_of_one_cancel_with_its_key_answer_alike_and_refund_once():
    user = UserFactory()
    reservation = bought(user, date_with_seats(seats=1).seats.get())

    outcomes = cancel_outcomes(user, reservation, 20, headers={"HTTP_IDEMPOTENCY_KEY": "cancel-1"})

    assert {status for status, _ in outcomes} == {200}
    assert all(body == outcomes[0][1] for _, body in outcomes)
    assert outcomes[0][1]["refund"] == PRICE
    assert balance(user) == PRICE
    assert refunds_of(reservation) == 1
    assert ledger_audit() == []


def test_a_date_called_off_while_its_buyers_cancel_refunds_each_seat_once():
    concert_date = date_with_seats(seats=12)
    buyers = [(user := UserFactory(), bought(user, seat)) for seat in concert_date.seats.order_by("number")]

    def work(index: int):
        if index == len(buyers):
            return concert_date_cancel(concert_date_id=concert_date.pk)
        user, reservation = buyers[index]
        return reservation_cancel(user=user, reservation_id=reservation.pk)[1]

    results = run_in_threads(work, len(buyers) + 1)

    by_buyers = [result for result in results[:-1] if not isinstance(result, ReservationNotCancellable)]
    assert all(result == PRICE for result in by_buyers), results
    assert results[-1].refunded_seats + len(by_buyers) == len(buyers)
    for user, reservation in buyers:
        assert refunds_of(reservation) == 1
        assert balance(user) == PRICE
    assert set(Reservation.objects.values_list("status", flat=True)) == {Status.CANCELLED}
    assert ledger_audit() == []


def test_no_hold_outlives_a_date_called_off_while_people_hold_its_seats():
    """Each hold either lands before the date closes (and the cancel releases it) or sees the
    date closed: never a live hold on a closed date, never a deadlock or a 5xx."""
    concert_date = date_with_seats(seats=16)
    holders = [UserFactory() for _ in range(16)]

    def work(index: int):
        if index == len(holders):
            return concert_date_cancel(concert_date_id=concert_date.pk)
        return reservation_hold(
            user=holders[index], concert_id=concert_date.concert_id, date=concert_date.date, seat_number=index + 1
        )

    results = run_in_threads(work, len(holders) + 1)

    held = [result for result in results[:-1] if isinstance(result, Reservation)]
    assert all(isinstance(result, (Reservation, DateClosed)) for result in results[:-1]), results
    assert results[-1].released_holds == len(held)
    assert not Reservation.objects.filter(status=Status.HELD).exists()
    assert Reservation.objects.filter(status=Status.CANCELLED).count() == len(held)


def test_payments_racing_a_date_called_off_are_all_refunded():
    concert_date = date_with_seats(seats=10)
    payers = []
    for seat in concert_date.seats.order_by("number"):
        user = UserFactory()
        wallet_charge(user=user, amount=PRICE)
        payers.append((user, ReservationFactory(user=user, seat=seat), QueueEntryFactory(user=user, active=True)))

    def work(index: int):
        if index == len(payers):
            return concert_date_cancel(concert_date_id=concert_date.pk)
        user, reservation, entry = payers[index]
        return payment_create(user=user, reservation_ids=[reservation.pk], queue_entry_id=entry.pk)

    results = run_in_threads(work, len(payers) + 1)

    paid = [result for result in results[:-1] if isinstance(result, tuple)]
    assert all(isinstance(result, (tuple, ReservationExpired)) for result in results[:-1]), results
    assert results[-1].refunded_seats == len(paid)
    assert results[-1].released_holds == len(payers) - len(paid)
    assert set(Reservation.objects.values_list("status", flat=True)) == {Status.CANCELLED}
    for user, _, _ in payers:
        assert balance(user) == PRICE  # paid and refunded, or never charged
    assert ledger_audit() == []
