"""The books must balance. `ledger_audit` reads everything money and seats touch and returns
what disagrees; it changes nothing, so it can run at any time, also under load."""

import dataclasses
import logging
import time
from collections import Counter

from django.db.models import Count, OuterRef, Q, Subquery, Sum

from apps.common.redis import UNAVAILABLE as STORE_UNAVAILABLE
from apps.common.redis import get_redis
from apps.payments.models import Payment, PaymentItem
from apps.reservations.models import Reservation
from apps.wallet.models import LedgerEntry, Wallet


def _wallet_violations() -> list[str]:
    problems = []
    newest = LedgerEntry.objects.filter(wallet=OuterRef("pk")).order_by("-id")
    wallets = Wallet.objects.annotate(
        ledger_sum=Sum("entries__amount"),
        newest_id=Subquery(newest.values("pk")[:1]),
        newest_balance_after=Subquery(newest.values("balance_after")[:1]),
    )
    for wallet in wallets:
        ledger_sum = wallet.ledger_sum or 0
        if wallet.balance != ledger_sum:
            problems.append(
                f"wallet {wallet.pk} (user {wallet.user_id}): balance {wallet.balance} != ledger sum {ledger_sum}"
            )
        if wallet.balance < 0:
            problems.append(f"wallet {wallet.pk}: negative balance {wallet.balance}")
        if wallet.newest_id is not None and wallet.newest_balance_after != wallet.balance:
            problems.append(
                f"wallet {wallet.pk}: newest ledger entry {wallet.newest_id} says {wallet.newest_balance_after}, "
                f"balance is {wallet.balance}"
            )
    return problems


def _seat_violations() -> list[str]:
    problems = []
    sold_twice = (
        Reservation.objects.filter(status=Reservation.Status.CONFIRMED)
        .values("seat_id")
        .annotate(n=Count("pk"))
        .filter(n__gt=1)
    )
    problems += [f"seat {row['seat_id']}: sold {row['n']} times" for row in sold_twice]
    unpaid = Reservation.objects.filter(status=Reservation.Status.CONFIRMED, payment_item__isnull=True)
    problems += [f"reservation {pk}: CONFIRMED without a payment" for pk in unpaid.values_list("pk", flat=True)]
    paid_not_confirmed = PaymentItem.objects.filter(~Q(reservation__status=Reservation.Status.CONFIRMED))
    problems += [
        f"reservation {pk}: paid (payment item) but not CONFIRMED"
        for pk in paid_not_confirmed.values_list("reservation_id", flat=True)
    ]
    return problems


def _payment_violations() -> list[str]:
    problems = []
    debits = Counter()
    for reference, amount in LedgerEntry.objects.filter(kind=LedgerEntry.Kind.PAYMENT).values_list(
        "reference", "amount"
    ):
        debits[reference] += -amount
    for payment in Payment.objects.annotate(items_sum=Sum("items__amount")):
        reference = f"payment:{payment.pk}"
        if payment.items_sum != payment.amount:
            problems.append(f"payment {payment.pk}: amount {payment.amount} != its items {payment.items_sum}")
        if debits.pop(reference, None) != payment.amount:
            problems.append(f"payment {payment.pk}: no single wallet debit of {payment.amount}")
    problems += [f"ledger debit {reference} of {amount} has no payment" for reference, amount in debits.items()]
    return problems


def ledger_audit() -> list[str]:
    """Every disagreement between balances, ledger, payments and sold seats, one line each."""
    return _wallet_violations() + _seat_violations() + _payment_violations()


# --- a failed audit is loud ---

logger = logging.getLogger(__name__)
# The last result, for the metrics of every web server (concert_booking/metrics.py): the audit
# runs in a qcluster or a shell, whose own counts no scrape would see.
LAST_RESULT_KEY = "ledger_audit:last"
LOGGED_PROBLEMS = 100  # the rest are one `manage.py audit_ledger` away


@dataclasses.dataclass(frozen=True)
class AuditResult:
    violations: int
    finished_at: float  # Unix time


def ledger_audit_report() -> list[str]:
    """`ledger_audit`, made loud when it finds anything (the command and the hourly task alike):
    one ERROR log line naming the rows that disagree, and the result kept for the metrics
    (`concert_audit_violations`)."""
    problems = ledger_audit()
    if problems:
        named = problems[:LOGGED_PROBLEMS]
        more = (
            f" (and {len(problems) - len(named)} more: run manage.py audit_ledger)"
            if len(problems) > len(named)
            else ""
        )
        logger.error(
            "ledger audit failed: %d problem(s): %s%s",
            len(problems),
            "; ".join(named),
            more,
            extra={"violations": len(problems), "problems": named},
        )
    else:
        logger.info("ledger audit ok", extra={"violations": 0})
    try:
        get_redis().hset(LAST_RESULT_KEY, mapping={"violations": len(problems), "finished_at": time.time()})
    except STORE_UNAVAILABLE:
        logger.warning("ledger audit: Redis is unavailable, the metrics keep the previous result")
    return problems


def ledger_audit_last() -> AuditResult | None:
    """The last audit's result, None if none was kept since Redis last started empty."""
    kept = get_redis().hgetall(LAST_RESULT_KEY)
    if not kept:
        return None
    return AuditResult(violations=int(kept[b"violations"]), finished_at=float(kept[b"finished_at"]))
