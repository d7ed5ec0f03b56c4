import datetime as dt
import json

import pytest
import redis
from django.utils import timezone

from apps.accounts.tests.factories import UserFactory
from apps.common.fields import MAX_BIGINT
from apps.common.redis import get_redis
from apps.concerts.errors import DateNotFound
from apps.concerts.tests.factories import date_with_seats
from apps.payments.audit import ledger_audit
from apps.payments.models import Payment, PaymentItem
from apps.payments.selectors import DateCancelResult, concert_date_cancel_preview
from apps.payments.services import concert_date_cancel, payment_create, refund_reference, reservation_cancel
from apps.queue.models import QueueEntry
from apps.queue.tests.factories import QueueEntryFactory
from apps.reservations.availability import seat_map_json, seat_map_key
from apps.reservations.errors import (
    DateClosed,
    ReservationAlreadyPaid,
    ReservationExpired,
    ReservationNotCancellable,
    ReservationNotFound,
)
from apps.reservations.models import Reservation
from apps.reservations.selectors import bookable_dates, seat_map
from apps.reservations.services import reservation_hold
from apps.reservations.tests.factories import ReservationFactory
from apps.reservations.tests.helpers import PRICE, seat_taken
from apps.wallet.errors import InsufficientBalance
from apps.wallet.models import LedgerEntry, Wallet
from apps.wallet.services import wallet_charge

pytestmark = pytest.mark.django_db

Status = Reservation.Status


@pytest.fixture
def seats(concert_date):
    return list(concert_date.seats.order_by("number"))


def state(user) -> dict:
    """Everything a payment may change, to show a failed one changed nothing."""
    return {
        "balance": Wallet.objects.filter(user=user).values_list("balance", flat=True).first(),
        "ledger": LedgerEntry.objects.filter(wallet__user=user).count(),
        "payments": Payment.objects.count(),
        "items": PaymentItem.objects.count(),
        "reservations": dict(Reservation.objects.values_list("pk", "status")),
        "queue": dict(QueueEntry.objects.values_list("pk", "status")),
    }


class TestPaymentCreate:
    def test_debits_writes_the_ledger_confirms_and_ends_the_token(self, user, active_entry, seats):
        wallet_charge(user=user, amount=1_000_000)
        first = ReservationFactory(user=user, seat=seats[0])
        second = ReservationFactory(user=user, seat=seats[1])
        now = timezone.now()

        payment, balance = payment_create(
            user=user, reservation_ids=[second.pk, first.pk], queue_entry_id=active_entry.pk, now=now
        )

        assert balance == 1_000_000 - 2 * PRICE
        assert Wallet.objects.get(user=user).balance == balance
        payment.refresh_from_db()
        assert (payment.user, payment.amount, payment.status, payment.paid_at) == (user, 2 * PRICE, "PAID", now)
        assert set(payment.reservations.all()) == {first, second}
        assert sorted(payment.items.values_list("amount", flat=True)) == [PRICE, PRICE]
        entry = LedgerEntry.objects.filter(wallet__user=user).latest("id")
        assert (entry.kind, entry.amount, entry.balance_after) == ("PAYMENT", -2 * PRICE, balance)
        assert entry.reference == f"payment:{payment.pk}"
        for reservation in (first, second):
            reservation.refresh_from_db()
            assert (reservation.status, reservation.confirmed_at) == (Status.CONFIRMED, now)
        active_entry.refresh_from_db()
        assert (active_entry.status, active_entry.ended_at) == (QueueEntry.Status.EXPIRED, now)

    def test_pays_the_price_fixed_at_hold_time(self, user, active_entry, seats):
        wallet_charge(user=user, amount=1_000_000)
        reservation = ReservationFactory(user=user, seat=seats[0], price=120_000)

        payment, balance = payment_create(user=user, reservation_ids=[reservation.pk], queue_entry_id=active_entry.pk)

        assert (payment.amount, balance) == (120_000, 880_000)

    @pytest.mark.parametrize(
        "trait, error",
        [
            ({"lapsed": True}, ReservationExpired),
            ({"expired": True}, ReservationExpired),
            ({"confirmed": True}, ReservationAlreadyPaid),
        ],
    )
    def test_all_or_nothing(self, user, active_entry, seats, trait, error):
        wallet_charge(user=user, amount=1_000_000)
        live = ReservationFactory(user=user, seat=seats[0])
        bad = ReservationFactory(user=user, seat=seats[1], **trait)
        before = state(user)

        with pytest.raises(error):
            payment_create(user=user, reservation_ids=[live.pk, bad.pk], queue_entry_id=active_entry.pk)

        assert state(user) == before

    def test_insufficient_balance_changes_nothing(self, user, active_entry, seats):
        wallet_charge(user=user, amount=PRICE * 2 - 1)
        ids = [ReservationFactory(user=user, seat=seat).pk for seat in seats[:2]]
        before = state(user)

        with pytest.raises(InsufficientBalance):
            payment_create(user=user, reservation_ids=ids, queue_entry_id=active_entry.pk)

        assert state(user) == before

    def test_a_user_without_a_wallet_cannot_pay(self, user, active_entry, seats):
        reservation = ReservationFactory(user=user, seat=seats[0])

        with pytest.raises(InsufficientBalance):
            payment_create(user=user, reservation_ids=[reservation.pk], queue_entry_id=active_entry.pk)

        assert not Payment.objects.exists()

    def test_another_users_reservation_is_not_found(self, user, active_entry, seats):
        wallet_charge(user=user, amount=1_000_000)
        mine = ReservationFactory(user=user, seat=seats[0])
        theirs = ReservationFactory(user=UserFactory(), seat=seats[1])
        before = state(user)

        for ids in ([theirs.pk], [mine.pk, theirs.pk], [mine.pk, theirs.pk + 1000]):
            with pytest.raises(ReservationNotFound):
                payment_create(user=user, reservation_ids=ids, queue_entry_id=active_entry.pk)

        assert state(user) == before

    def test_a_hold_lapsing_at_payment_time_is_expired(self, user, active_entry, seats):
        wallet_charge(user=user, amount=1_000_000)
        reservation = ReservationFactory(user=user, seat=seats[0])

        with pytest.raises(ReservationExpired):
            payment_create(
                user=user,
                reservation_ids=[reservation.pk],
                queue_entry_id=active_entry.pk,
                now=reservation.expires_at,
            )


# --- cancelling ---


def bought(user, seat, *, now=None) -> Reservation:
    """A seat the user held and paid for (through payment_create, so the books are as in life)."""
    wallet_charge(user=user, amount=seat.price)
    reservation = ReservationFactory(user=user, seat=seat)
    payment_create(
        user=user,
        reservation_ids=[reservation.pk],
        queue_entry_id=QueueEntryFactory(user=user, active=True).pk,
        now=now,
    )
    reservation.refresh_from_db()
    return reservation


def balance(user) -> int:
    return Wallet.objects.get(user=user).balance


class TestReservationCancel:
    def test_a_hold_is_released_and_no_money_moves(self, user, seats):
        wallet_charge(user=user, amount=1_000)
        hold = ReservationFactory(user=user, seat=seats[0])
        now = timezone.now()

        reservation, refund = reservation_cancel(user=user, reservation_id=hold.pk, now=now)

        assert (reservation.pk, refund) == (hold.pk, 0)
        hold.refresh_from_db()
        assert (hold.status, hold.cancelled_at, hold.confirmed_at) == (Status.CANCELLED, now, None)
        assert balance(user) == 1_000
        assert not LedgerEntry.objects.filter(kind=LedgerEntry.Kind.REFUND).exists()
        assert not seat_taken(seats[0], timezone.now())
        assert ledger_audit() == []

    def test_a_bought_seat_is_refunded_to_the_wallet_and_on_sale_again(self, user, seats):
        reservation = bought(user, seats[0])
        assert balance(user) == 0
        now = timezone.now()

        cancelled, refund = reservation_cancel(user=user, reservation_id=reservation.pk, now=now)

        assert refund == PRICE
        assert (cancelled.status, cancelled.cancelled_at) == (Status.CANCELLED, now)
        reservation.refresh_from_db()
        assert (reservation.status, reservation.cancelled_at) == (Status.CANCELLED, now)
        assert reservation.confirmed_at is not None  # it was bought
        assert balance(user) == PRICE
        entry = LedgerEntry.objects.filter(wallet__user=user).latest("id")
        assert (entry.kind, entry.amount, entry.balance_after) == ("REFUND", PRICE, PRICE)
        assert entry.reference == refund_reference(reservation.pk)
        assert not seat_taken(seats[0], timezone.now())
        assert ledger_audit() == []

    def test_the_refunded_seat_can_be_bought_again_by_someone_else(self, user, seats):
        reservation_cancel(user=user, reservation_id=bought(user, seats[0]).pk)

        again = bought(UserFactory(), seats[0])

        assert again.status == Status.CONFIRMED
        assert ledger_audit() == []

    @pytest.mark.parametrize(
        "trait, stored", [({"lapsed": True}, Status.HELD), ({"expired": True}, Status.EXPIRED)], ids=["lapsed", "swept"]
    )
    def test_a_lapsed_hold_is_not_cancellable(self, user, seats, trait, stored):
        hold = ReservationFactory(user=user, seat=seats[0], **trait)

        with pytest.raises(ReservationNotCancellable) as raised:
            reservation_cancel(user=user, reservation_id=hold.pk)

        assert raised.value.detail == ReservationNotCancellable.lapsed
        hold.refresh_from_db()
        assert hold.status == stored

    def test_a_hold_lapsing_at_the_very_instant_is_not_cancellable(self, user, seats):
        hold = ReservationFactory(user=user, seat=seats[0])

        with pytest.raises(ReservationNotCancellable):
            reservation_cancel(user=user, reservation_id=hold.pk, now=hold.expires_at)

    def test_cancelling_twice_refunds_once(self, user, seats):
        reservation = bought(user, seats[0])
        reservation_cancel(user=user, reservation_id=reservation.pk)

        with pytest.raises(ReservationNotCancellable) as raised:
            reservation_cancel(user=user, reservation_id=reservation.pk)

        assert raised.value.detail == ReservationNotCancellable.default_detail
        assert balance(user) == PRICE
        assert LedgerEntry.objects.filter(kind=LedgerEntry.Kind.REFUND).count() == 1

    @pytest.mark.parametrize("days", [0, -1], ids=["today", "past"])
    def test_a_bought_seat_on_a_date_today_or_past_is_closed(self, user, days):
        concert_date = date_with_seats(seats=1, date=timezone.localdate() + dt.timedelta(days=days))
        reservation = bought(user, concert_date.seats.get())

        with pytest.raises(DateClosed) as raised:
            reservation_cancel(user=user, reservation_id=reservation.pk)

        assert raised.value.detail == DateClosed.too_late_to_cancel
        reservation.refresh_from_db()
        assert reservation.status == Status.CONFIRMED
        assert balance(user) == 0

    def test_a_hold_on_todays_date_may_be_released(self, user):
        concert_date = date_with_seats(seats=1, date=timezone.localdate())
        hold = ReservationFactory(user=user, seat=concert_date.seats.get())

        assert reservation_cancel(user=user, reservation_id=hold.pk)[1] == 0

    def test_another_users_or_an_unknown_reservation_is_not_found(self, user, seats):
        theirs = bought(UserFactory(), seats[0])

        for reservation_id in (theirs.pk, theirs.pk + 1000, 0, MAX_BIGINT + 1):
            with pytest.raises(ReservationNotFound):
                reservation_cancel(user=user, reservation_id=reservation_id)

        theirs.refresh_from_db()
        assert theirs.status == Status.CONFIRMED

    def test_a_cancelled_hold_cannot_be_paid(self, user, active_entry, seats):
        wallet_charge(user=user, amount=PRICE)
        hold = ReservationFactory(user=user, seat=seats[0])
        reservation_cancel(user=user, reservation_id=hold.pk)
        before = state(user)

        with pytest.raises(ReservationExpired, match="cancelled"):
            payment_create(user=user, reservation_ids=[hold.pk], queue_entry_id=active_entry.pk)

        assert state(user) == before

    def test_the_kept_seat_map_is_dropped_after_commit(
        self, user, seats, concert_date, django_capture_on_commit_callbacks
    ):
        reservation = bought(user, seats[0])
        now = timezone.now()
        key = seat_map_key(concert_id=concert_date.concert_id, date=concert_date.date)
        seat_map_json(concert_id=concert_date.concert_id, date=concert_date.date, now=now)
        assert get_redis().exists(key)

        with django_capture_on_commit_callbacks(execute=False) as callbacks:
            reservation_cancel(user=user, reservation_id=reservation.pk)
        assert get_redis().exists(key)  # not before the commit
        for callback in callbacks:
            callback()

        assert not get_redis().exists(key)
        body = seat_map_json(concert_id=concert_date.concert_id, date=concert_date.date, now=timezone.now())
        assert json.loads(body)["seats"][0] == {"number": seats[0].number, "price": PRICE, "available": True}

    def test_a_redis_that_is_down_after_commit_does_not_fail_the_cancel(
        self, user, seats, monkeypatch, django_capture_on_commit_callbacks
    ):
        reservation = bought(user, seats[0])

        def down(*args, **kwargs):
            raise redis.exceptions.ConnectionError("Connection refused")

        monkeypatch.setattr(get_redis(), "delete", down)
        with django_capture_on_commit_callbacks(execute=True):
            _, refund = reservation_cancel(user=user, reservation_id=reservation.pk)

        assert refund == PRICE
        reservation.refresh_from_db()
        assert reservation.status == Status.CANCELLED


class TestConcertDateCancel:
    @pytest.fixture
    def sale(self, concert_date, seats):
        """Two buyers (one with two seats), a live hold, a lapsed hold, a cancelled and a free seat."""
        alice, bob, carol = UserFactory(), UserFactory(), UserFactory()
        sold = [bought(alice, seats[0]), bought(alice, seats[1]), bought(bob, seats[2])]
        held = ReservationFactory(user=carol, seat=seats[3])
        lapsed = ReservationFactory(user=carol, seat=seats[4], lapsed=True)
        reservation_cancel(user=bob, reservation_id=bought(bob, seats[5]).pk)
        return {"users": (alice, bob, carol), "sold": sold, "held": held, "lapsed": lapsed}

    def test_refunds_every_bought_seat_releases_every_hold_and_closes_the_date(self, concert_date, sale):
        alice, bob, carol = sale["users"]
        now = timezone.now()

        result = concert_date_cancel(concert_date_id=concert_date.pk, now=now)

        assert result == DateCancelResult(refunded_seats=3, refund_total=3 * PRICE, released_holds=1)
        assert (balance(alice), balance(bob)) == (2 * PRICE, 2 * PRICE)  # bob: this refund and the earlier one
        for reservation in [*sale["sold"], sale["held"]]:
            reservation.refresh_from_db()
            assert (reservation.status, reservation.cancelled_at) == (Status.CANCELLED, now)
        sale["lapsed"].refresh_from_db()
        assert sale["lapsed"].status == Status.HELD  # already free: the sweeper marks it
        concert_date.refresh_from_db()
        assert concert_date.cancelled_at == now
        assert LedgerEntry.objects.filter(kind=LedgerEntry.Kind.REFUND).count() == 4
        assert ledger_audit() == []

    def test_the_closed_date_sells_nothing(self, user, concert_date, sale):
        concert_date_cancel(concert_date_id=concert_date.pk)
        now = timezone.now()

        assert not any(
            seat["available"] for seat in seat_map(concert_id=concert_date.concert_id, date=concert_date.date, now=now)
        )
        assert bookable_dates(concert_id=concert_date.concert_id, today=timezone.localdate(now), now=now) == []
        with pytest.raises(DateClosed) as raised:
            reservation_hold(user=user, concert_id=concert_date.concert_id, date=concert_date.date, seat_number=10)
        assert raised.value.detail == DateClosed.called_off

    def test_a_second_run_changes_nothing_and_reports_zeros(self, concert_date, sale):
        first_time = timezone.now()
        concert_date_cancel(concert_date_id=concert_date.pk, now=first_time)
        before = (
            list(LedgerEntry.objects.values_list("pk", flat=True)),
            dict(Reservation.objects.values_list("pk", "status")),
        )

        again = concert_date_cancel(concert_date_id=concert_date.pk)

        assert again == DateCancelResult(refunded_seats=0, refund_total=0, released_holds=0)
        assert (
            list(LedgerEntry.objects.values_list("pk", flat=True)),
            dict(Reservation.objects.values_list("pk", "status")),
        ) == before
        concert_date.refresh_from_db()
        assert concert_date.cancelled_at == first_time
        assert ledger_audit() == []

    def test_the_preview_says_what_it_will_do_and_changes_nothing(self, concert_date, sale):
        before = dict(Reservation.objects.values_list("pk", "status"))

        preview = concert_date_cancel_preview(concert_date_id=concert_date.pk)

        assert preview == DateCancelResult(refunded_seats=3, refund_total=3 * PRICE, released_holds=1)
        assert dict(Reservation.objects.values_list("pk", "status")) == before
        assert concert_date_cancel(concert_date_id=concert_date.pk) == preview
        assert concert_date_cancel_preview(concert_date_id=concert_date.pk) == DateCancelResult(0, 0, 0)

    def test_other_dates_are_untouched(self, user, concert_date, sale):
        other = date_with_seats(seats=1)
        elsewhere = bought(user, other.seats.get())

        concert_date_cancel(concert_date_id=concert_date.pk)

        elsewhere.refresh_from_db()
        assert elsewhere.status == Status.CONFIRMED
        other.refresh_from_db()
        assert other.cancelled_at is None

    def test_an_empty_date_is_just_closed(self, concert_date):
        assert concert_date_cancel(concert_date_id=concert_date.pk) == DateCancelResult(0, 0, 0)
        concert_date.refresh_from_db()
        assert concert_date.cancelled_at is not None

    @pytest.mark.parametrize("concert_date_id", [987_654, 0, MAX_BIGINT + 1])
    def test_an_unknown_date_is_not_found(self, concert_date_id):
        with pytest.raises(DateNotFound):
            concert_date_cancel(concert_date_id=concert_date_id)
        with pytest.raises(DateNotFound):
            concert_date_cancel_preview(concert_date_id=concert_date_id)
