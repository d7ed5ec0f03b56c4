"""Every change to a wallet goes through `_wallet_apply`: one conditional UPDATE (so concurrent
changes never lose an update and the balance never leaves its range), then a ledger row."""

from django.db import transaction
from django.utils.translation import gettext as _

from apps.accounts.models import User
from apps.common.locking import lock_rows
from apps.common.sql import fetch_one
from apps.wallet.errors import InsufficientBalance, InvalidAmount
from apps.wallet.models import MAX_BALANCE, MAX_CHARGE, LedgerEntry, Wallet
from apps.wallet.selectors import wallet_balance

# The ORM's update() cannot return the balance it made: written out, it is one round trip.
_APPLY = f"""
    UPDATE {Wallet._meta.db_table} SET balance = balance + %(amount)s
     WHERE user_id = %(user_id)s AND balance + %(amount)s BETWEEN 0 AND %(max_balance)s
    RETURNING id, balance"""


def _wallet_apply(*, user: User, amount: int, kind: str, reference: str) -> LedgerEntry | None:
    """Add `amount` (signed) if the result stays within 0..MAX_BALANCE; None if it would not.
    The row stays locked by the UPDATE until commit, so the ledger row records the balance
    this change made."""
    if not -MAX_BALANCE <= amount <= MAX_BALANCE:
        return None  # out of range whatever the balance; in SQL the sum could overflow bigint
    row = fetch_one(_APPLY, {"amount": amount, "user_id": user.pk, "max_balance": MAX_BALANCE})
    if row is None:
        return None
    wallet_id, balance = row
    return LedgerEntry.objects.create(
        wallet_id=wallet_id, kind=kind, amount=amount, balance_after=balance, reference=reference
    )


def _wallet_ensure(*, user: User) -> None:
    # A user has no wallet until the first change; get_or_create also settles two first charges at once.
    Wallet.objects.get_or_create(user=user)


@transaction.atomic
def wallet_charge(*, user: User, amount: int) -> int:
    """Top up; returns the new balance."""
    if not 1 <= amount <= MAX_CHARGE:
        raise InvalidAmount()
    _wallet_ensure(user=user)
    entry = _wallet_apply(user=user, amount=amount, kind=LedgerEntry.Kind.CHARGE, reference="charge")
    if entry is None:
        raise InvalidAmount(_("The balance may not exceed %(max)s won.") % {"max": f"{MAX_BALANCE:,}"})
    return entry.balance_after


@transaction.atomic
def wallet_debit(*, user: User, amount: int, reference: str) -> int:
    """Take a payment; returns the new balance. Never goes below zero."""
    if amount <= 0:
        raise ValueError("a debit must be positive")
    entry = _wallet_apply(user=user, amount=-amount, kind=LedgerEntry.Kind.PAYMENT, reference=reference)
    if entry is None:
        raise InsufficientBalance.short_by(amount - wallet_balance(user=user))
    return entry.balance_after


@transaction.atomic
def wallet_refund(*, user: User, amount: int, reference: str) -> int:
    """Give back money paid; returns the new balance. One refund per `reference` (a unique index
    on the ledger), so a cause refunded twice fails whatever the caller does."""
    if amount <= 0:
        raise ValueError("a refund must be positive")
    entry = _wallet_apply(user=user, amount=amount, kind=LedgerEntry.Kind.REFUND, reference=reference)
    if entry is None:  # the wallet paid, so it exists: only the balance's upper bound is left
        raise InvalidAmount(_("The refund would take the balance above %(max)s won.") % {"max": f"{MAX_BALANCE:,}"})
    return entry.balance_after


def wallets_lock(*, user_ids: list[int]) -> None:
    """Lock these users' wallets in pk order (apps.common.locking), for a transaction that
    changes several. Must run inside that transaction."""
    lock_rows(Wallet.objects.filter(user_id__in=user_ids).only("pk"))


@transaction.atomic
def wallet_adjust(*, user: User, amount: int, reason: str) -> LedgerEntry:
    """A staff correction, recorded like any other change."""
    if amount == 0:
        raise InvalidAmount(_("An adjustment must not be zero."))
    _wallet_ensure(user=user)
    entry = _wallet_apply(user=user, amount=amount, kind=LedgerEntry.Kind.ADJUSTMENT, reference=reason[:100])
    if entry is None:
        raise InvalidAmount(_("The adjustment would take the balance out of range."))
    return entry
