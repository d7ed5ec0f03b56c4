import io

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone

from apps.payments.audit import ledger_audit
from apps.payments.models import Payment
from apps.payments.services import payment_create
from apps.queue.tests.factories import QueueEntryFactory
from apps.reservations.models import Reservation
from apps.reservations.tests.factories import ReservationFactory
from apps.wallet.models import LedgerEntry, Wallet
from apps.wallet.services import wallet_charge

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
