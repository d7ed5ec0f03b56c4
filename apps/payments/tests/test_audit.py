import io

import pytest
from django.core.management import CommandError, call_command
from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from apps.accounts.tests.factories import UserFactory
from apps.payments.audit import ledger_audit
from apps.payments.models import Payment
from apps.payments.services import payment_create, refund_reference, reservation_cancel
from apps.queue.tests.factories import QueueEntryFactory
from apps.reservations.models import Reservation
from apps.reservations.tests.factories import ReservationFactory
from apps.wallet.models import LedgerEntry, Wallet
from apps.wallet.services import wallet_charge, wallet_refund

pytestmark = pytest.mark.django_db


@pytest.fixture
def paid(user):
    """A user who charged and paid for one seat."""
    wallet_charge(user=user, amount=500_000)
    reservation = ReservationFactory(user=user)
    entry = QueueEntryFactory(user=user, active=True)
    payment, _ = payment_create(user=user, reservation_ids=[reservation.pk], queue_entry_id=entry.pk)
    return payment


def test_a_consistent_database_passes(paid):
    assert ledger_audit() == []
    out = io.StringIO()
    call_command("audit_ledger", stdout=out)
    assert "audit ok" in out.getvalue()


def test_a_balance_changed_behind_the_ledgers_back_is_named(paid):
    wallet = Wallet.objects.get()
    Wallet.objects.filter(pk=wallet.pk).update(balance=wallet.balance + 1)

    problems = ledger_audit()

    assert any(f"wallet {wallet.pk}" in problem and "ledger sum" in problem for problem in problems)
    with pytest.raises(CommandError):
        call_command("audit_ledger", stdout=io.StringIO(), stderr=io.StringIO())


def test_a_confirmed_reservation_without_payment_is_named(paid, user):
    stray = ReservationFactory(user=user, status=Reservation.Status.CONFIRMED, confirmed_at=timezone.now())

    assert f"reservation {stray.pk}: CONFIRMED without a payment" in ledger_audit()


def test_a_payment_without_its_debit_is_named(paid):
    LedgerEntry.objects.filter(reference=f"payment:{paid.pk}").update(reference="lost")

    problems = ledger_audit()

    assert f"payment {paid.pk}: no single wallet debit of {paid.amount}" in problems
    assert any("ledger debit lost" in problem for problem in problems)


def test_a_payment_whose_items_do_not_add_up_is_named(paid):
    Payment.objects.filter(pk=paid.pk).update(amount=paid.amount + 5)

    assert any(f"payment {paid.pk}: amount" in problem for problem in ledger_audit())


# --- refunds: each matches exactly one cancelled, previously paid reservation ---


@pytest.fixture
def refunded(user):
    """A user who bought two seats and cancelled one (refunded)."""
    wallet_charge(user=user, amount=500_000)
    kept, cancelled = (ReservationFactory(user=user) for _ in range(2))
    entry = QueueEntryFactory(user=user, active=True)
    payment_create(user=user, reservation_ids=[kept.pk, cancelled.pk], queue_entry_id=entry.pk)
    reservation_cancel(user=user, reservation_id=cancelled.pk)
    kept.refresh_from_db()
    cancelled.refresh_from_db()
    return kept, cancelled


def refund_entry(reservation) -> LedgerEntry:
    return LedgerEntry.objects.get(kind=LedgerEntry.Kind.REFUND, reference=refund_reference(reservation.pk))


def test_cancels_and_refunds_keep_the_books_whole(refunded):
    assert ledger_audit() == []


def test_a_refund_of_a_reservation_still_confirmed_is_named(refunded, user):
    kept, _ = refunded
    wallet_refund(user=user, amount=kept.price, reference=refund_reference(kept.pk))
    entry = refund_entry(kept)

    problems = ledger_audit()

    assert f"ledger refund {entry.pk} ('reservation:{kept.pk}'): reservation {kept.pk} is CONFIRMED, not CANCELLED" in (
        problems
    )


def test_a_refund_of_a_hold_never_paid_is_named(refunded, user):
    hold = ReservationFactory(user=user)
    reservation_cancel(user=user, reservation_id=hold.pk)
    wallet_refund(user=user, amount=hold.price, reference=refund_reference(hold.pk))

    assert f"ledger refund {refund_entry(hold).pk} ('reservation:{hold.pk}'): reservation {hold.pk} was never paid" in (
        ledger_audit()
    )


@pytest.mark.parametrize("reference", ["reservation:987654", "reservation:x", "goodwill"])
def test_a_refund_naming_no_reservation_is_named(refunded, user, reference):
    wallet_refund(user=user, amount=1_000, reference=reference)
    entry = LedgerEntry.objects.get(reference=reference)

    assert f"ledger refund {entry.pk} ({reference!r}): names no reservation" in ledger_audit()


def test_a_refund_of_another_amount_than_was_paid_is_named(refunded, user):
    _, cancelled = refunded
    entry = refund_entry(cancelled)
    LedgerEntry.objects.filter(pk=entry.pk).update(amount=entry.amount + 1, balance_after=entry.balance_after + 1)
    Wallet.objects.filter(user=user).update(balance=entry.balance_after + 1)

    problems = ledger_audit()

    assert problems == [
        f"ledger refund {entry.pk}: {cancelled.price + 1} won for reservation {cancelled.pk}, paid {cancelled.price}"
    ]


def test_a_refund_to_someone_elses_wallet_is_named(refunded, user):
    _, cancelled = refunded
    stranger = UserFactory()
    wallet_charge(user=stranger, amount=1)
    entry = refund_entry(cancelled)
    LedgerEntry.objects.filter(pk=entry.pk).update(wallet=Wallet.objects.get(user=stranger))

    problems = ledger_audit()

    assert (
        f"ledger refund {entry.pk}: to user {stranger.pk}'s wallet, reservation {cancelled.pk} is user {user.pk}'s"
        in problems
    )


def test_a_paid_reservation_cancelled_without_its_refund_is_named(paid):
    (reservation,) = paid.reservations.all()
    Reservation.objects.filter(pk=reservation.pk).update(
        status=Reservation.Status.CANCELLED, cancelled_at=timezone.now()
    )

    assert ledger_audit() == [f"reservation {reservation.pk}: paid and CANCELLED but never refunded"]


def test_the_database_refuses_a_second_refund_of_one_reservation(refunded, user):
    _, cancelled = refunded

    with pytest.raises(IntegrityError), transaction.atomic():
        wallet_refund(user=user, amount=cancelled.price, reference=refund_reference(cancelled.pk))


def test_a_refund_counted_twice_is_named(refunded, user):
    """Were the unique index ever dropped: two refund rows for one reservation."""
    _, cancelled = refunded
    entry = refund_entry(cancelled)
    with connection.cursor() as cursor:  # a partial unique index; the test's transaction brings it back
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")  # no pending foreign-key checks may hold up the DROP
        cursor.execute("DROP INDEX wallet_ledger_one_refund_per_reference")
    wallet_refund(user=user, amount=cancelled.price, reference=entry.reference)

    assert f"reservation {cancelled.pk}: refunded 2 times" in ledger_audit()


# --- the books: charges + refunds + adjustments = balances + payments ---


def test_money_of_no_known_kind_breaks_the_books(refunded, user):
    wallet = Wallet.objects.get(user=user)
    LedgerEntry.objects.create(wallet=wallet, kind="BONUS", amount=5, balance_after=wallet.balance + 5)
    Wallet.objects.filter(pk=wallet.pk).update(balance=wallet.balance + 5)

    problems = ledger_audit()

    assert len(problems) == 1 and problems[0].startswith("books: charges + refunds + adjustments = ")


@pytest.mark.parametrize("kind, amount", [("CHARGE", -5), ("REFUND", -5), ("PAYMENT", 5)])
def test_an_entry_of_the_wrong_sign_is_named(refunded, user, kind, amount):
    wallet = Wallet.objects.get(user=user)
    entry = LedgerEntry.objects.create(
        wallet=wallet, kind=kind, amount=amount, balance_after=wallet.balance + amount, reference="x"
    )
    Wallet.objects.filter(pk=wallet.pk).update(balance=wallet.balance + amount)

    assert f"ledger entry {entry.pk}: a {kind} of {amount:+d} (the wrong sign)" in ledger_audit()
