import pytest
from django.utils import timezone

from apps.accounts.tests.factories import UserFactory
from apps.payments.models import Payment, PaymentItem
from apps.payments.services import payment_create
from apps.queue.models import QueueEntry
from apps.reservations.errors import ReservationAlreadyPaid, ReservationExpired, ReservationNotFound
from apps.reservations.models import Reservation
from apps.reservations.tests.factories import ReservationFactory
from apps.reservations.tests.helpers import PRICE
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
