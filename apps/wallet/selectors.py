from django.db.models import Count, QuerySet, Sum
from django.db.models.functions import Abs

from apps.accounts.models import User
from apps.wallet.models import LedgerEntry, Wallet


def wallet_balance(*, user: User) -> int:
    """A user who never charged has an empty wallet."""
    balance = Wallet.objects.filter(user=user).values_list("balance", flat=True).first()
    return balance or 0


def ledger_entries(*, user: User) -> QuerySet[LedgerEntry]:
    return LedgerEntry.objects.filter(wallet__user=user).order_by("-id")


def ledger_kind_totals() -> dict[str, tuple[int, int]]:
    """Every ledger entry ever written, by kind: (how many, their won in absolute value), every
    kind present. One GROUP BY over the ledger, read on each metrics scrape."""
    rows = LedgerEntry.objects.values("kind").annotate(n=Count("pk"), won=Sum(Abs("amount"))).order_by()
    return {kind: (0, 0) for kind in LedgerEntry.Kind.values} | {row["kind"]: (row["n"], row["won"]) for row in rows}


def refunds_by_reference(*, references: list[str]) -> dict[str, int]:
    """The won each of these references got back in REFUND ledger entries (at most one each)."""
    refunds = LedgerEntry.objects.filter(kind=LedgerEntry.Kind.REFUND, reference__in=references)
    return dict(refunds.values_list("reference", "amount"))
