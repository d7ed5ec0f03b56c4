import pytest
from django.db import IntegrityError, transaction

from apps.wallet.errors import InsufficientBalance, InvalidAmount
from apps.wallet.models import MAX_BALANCE, LedgerEntry, Wallet
from apps.wallet.selectors import wallet_balance
from apps.wallet.services import wallet_adjust, wallet_charge, wallet_debit, wallet_refund

pytestmark = pytest.mark.django_db


def test_debit_takes_money_and_records_it(user):
    wallet_charge(user=user, amount=1000)

    balance = wallet_debit(user=user, amount=400, reference="payment:7")

    assert balance == 600
    entry = LedgerEntry.objects.latest("id")
    assert (entry.kind, entry.amount, entry.balance_after, entry.reference) == ("PAYMENT", -400, 600, "payment:7")


def test_debit_beyond_the_balance_is_refused_and_changes_nothing(user):
    wallet_charge(user=user, amount=100)

    with pytest.raises(InsufficientBalance):
        wallet_debit(user=user, amount=101, reference="payment:1")

    assert wallet_balance(user=user) == 100
    assert LedgerEntry.objects.count() == 1


def test_debit_from_a_user_without_a_wallet_is_insufficient(user):
    with pytest.raises(InsufficientBalance):
        wallet_debit(user=user, amount=1, reference="payment:1")


def test_adjustment_goes_through_the_ledger(user):
    wallet_charge(user=user, amount=100)

    wallet_adjust(user=user, amount=-30, reason="goodwill correction")

    assert wallet_balance(user=user) == 70
    assert LedgerEntry.objects.latest("id").kind == "ADJUSTMENT"
    with pytest.raises(InvalidAmount):
        wallet_adjust(user=user, amount=-71, reason="too much")
    assert wallet_balance(user=user) == 70


@pytest.mark.parametrize("amount", [2**63 - 1, -(2**63) + 1, MAX_BALANCE + 1])
def test_an_adjustment_beyond_any_balance_is_refused_and_changes_nothing(user, amount):
    """Staff type the amount in the admin; however large, it is a refusal, not a crash."""
    wallet_charge(user=user, amount=5)

    with pytest.raises(InvalidAmount):
        wallet_adjust(user=user, amount=amount, reason="typo")

    assert wallet_balance(user=user) == 5
    assert LedgerEntry.objects.count() == 1


def test_the_database_refuses_a_negative_balance(user):
    Wallet.objects.create(user=user, balance=5)

    with pytest.raises(IntegrityError), transaction.atomic():
        Wallet.objects.filter(user=user).update(balance=-1)


def test_the_ledger_replays_to_the_balance(user):
    wallet_charge(user=user, amount=1000)
    wallet_debit(user=user, amount=250, reference="payment:1")
    wallet_adjust(user=user, amount=20, reason="fix")

    assert sum(LedgerEntry.objects.values_list("amount", flat=True)) == wallet_balance(user=user) == 770


@pytest.mark.parametrize(
    "balance, amount, detail", [(138_000, 150_000, "You need 12,000 won more."), (0, 5, "You need 5 won more.")]
)
def test_an_insufficient_balance_says_the_shortfall(user, balance, amount, detail):
    if balance:
        wallet_charge(user=user, amount=balance)

    with pytest.raises(InsufficientBalance) as raised:
        wallet_debit(user=user, amount=amount, reference="payment:1")

    assert raised.value.detail == detail


def test_with_no_shortfall_left_the_general_text_is_said():
    assert InsufficientBalance.short_by(0).detail == InsufficientBalance.default_detail


def test_a_refund_gives_money_back_through_the_ledger(user):
    wallet_charge(user=user, amount=1_000)
    wallet_debit(user=user, amount=600, reference="payment:1")

    assert wallet_refund(user=user, amount=600, reference="reservation:1") == 1_000

    entry = LedgerEntry.objects.latest("id")
    assert (entry.kind, entry.amount, entry.balance_after, entry.reference) == ("REFUND", 600, 1_000, "reservation:1")
    assert wallet_balance(user=user) == 1_000


def test_one_cause_is_refunded_once(user):
    wallet_charge(user=user, amount=1_000)
    wallet_refund(user=user, amount=10, reference="reservation:1")

    with pytest.raises(IntegrityError), transaction.atomic():
        wallet_refund(user=user, amount=10, reference="reservation:1")
    assert wallet_balance(user=user) == 1_010
    assert wallet_refund(user=user, amount=10, reference="reservation:2") == 1_020


def test_a_refund_past_the_balance_limit_is_refused_and_changes_nothing(user):
    wallet_charge(user=user, amount=1_000)
    Wallet.objects.filter(user=user).update(balance=MAX_BALANCE)  # as if charged to the limit
    LedgerEntry.objects.filter(wallet__user=user).update(amount=MAX_BALANCE, balance_after=MAX_BALANCE)

    with pytest.raises(InvalidAmount):
        wallet_refund(user=user, amount=1, reference="reservation:1")
    assert wallet_balance(user=user) == MAX_BALANCE
