from django.db.models import QuerySet

from apps.accounts.models import User
from apps.wallet.models import LedgerEntry, Wallet


def wallet_balance(*, user: User) -> int:
    """A user who never charged has an empty wallet."""
    balance = Wallet.objects.filter(user=user).values_list("balance", flat=True).first()
    return balance or 0


def ledger_entries(*, user: User) -> QuerySet[LedgerEntry]:
    return LedgerEntry.objects.filter(wallet__user=user).order_by("-id")
