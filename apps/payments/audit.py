"""The books must balance. `ledger_audit` reads everything money and seats touch and returns
what disagrees; it changes nothing, so it can run at any time, also under load.

What it holds the data to: each wallet's balance is its ledger's sum; charges + refunds +
adjustments = balances + payments, over all wallets; a seat is sold at most once, and each
sold seat was paid; each payment was debited once; each refund gave back exactly what one
cancelled, previously paid reservation cost, to its buyer, once."""

import dataclasses
import logging
import time
from collections import Counter

from django.db.models import Count, OuterRef, Q, Subquery, Sum

from apps.common.redis import UNAVAILABLE as STORE_UNAVAILABLE
from apps.common.redis import get_redis
from apps.payments.models import Payment, PaymentItem
from apps.payments.services import REFUND_REFERENCE_PREFIX
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
    # A paid seat stays CONFIRMED until it is cancelled (and refunded: _refund_violations).
    paid_not_confirmed = PaymentItem.objects.exclude(
        reservation__status__in=[Reservation.Status.CONFIRMED, Reservation.Status.CANCELLED]
    )
    problems += [
        f"reservation {pk}: paid (payment item) but not CONFIRMED"
        for pk in paid_not_confirmed.values_list("reservation_id", flat=True)
    ]
    return problems


def _books_violations() -> list[str]:
    """charges + refunds + adjustments = balances + payments, and each kind has its sign."""
    Kind = LedgerEntry.Kind
    signs = {Kind.CHARGE: Q(amount__lt=0), Kind.PAYMENT: Q(amount__gt=0), Kind.REFUND: Q(amount__lt=0)}
    problems = [
        f"ledger entry {pk}: a {kind} of {amount:+d} (the wrong sign)"
        for pk, kind, amount in LedgerEntry.objects.filter(
            Q(*[Q(kind=kind) & sign for kind, sign in signs.items()], _connector=Q.OR)
        ).values_list("pk", "kind", "amount")
    ]
    by_kind = dict(LedgerEntry.objects.values_list("kind").annotate(total=Sum("amount")).order_by())
    money_in = sum(by_kind.get(kind, 0) for kind in (Kind.CHARGE, Kind.REFUND, Kind.ADJUSTMENT))
    money_out = -by_kind.get(Kind.PAYMENT, 0)
    balances = Wallet.objects.aggregate(total=Sum("balance"))["total"] or 0
    if money_in != balances + money_out:
        problems.append(
            f"books: charges + refunds + adjustments = {money_in}, but balances + payments = {balances + money_out}"
        )
    return problems


def _not_refundable(reservation_id: int | None) -> str:
    """Why a refund names this reservation in vain (it is not a cancelled, paid one)."""
    found = Reservation.objects.filter(pk=reservation_id).values_list("status", "payment_item").first()
    if found is None:
        return "names no reservation"
    status, payment_item = found
    if payment_item is None:
        return f"reservation {reservation_id} was never paid"
    return f"reservation {reservation_id} is {status}, not CANCELLED"


def _refund_violations() -> list[str]:
    """Each refund matches exactly one cancelled, previously paid reservation: the same amount,
    to the buyer's wallet; each cancelled paid reservation was refunded once."""
    problems = []
    cancelled_paid = {
        pk: (user_id, paid)
        for pk, user_id, paid in Reservation.objects.filter(
            status=Reservation.Status.CANCELLED, payment_item__isnull=False
        ).values_list("pk", "user_id", "payment_item__amount")
    }
    refunds = Counter()
    for entry_id, reference, amount, user_id in LedgerEntry.objects.filter(kind=LedgerEntry.Kind.REFUND).values_list(
        "pk", "reference", "amount", "wallet__user_id"
    ):
        named = reference.removeprefix(REFUND_REFERENCE_PREFIX)
        reservation_id = int(named) if reference.startswith(REFUND_REFERENCE_PREFIX) and named.isdigit() else None
        refunds[reservation_id] += 1
        if reservation_id not in cancelled_paid:
            problems.append(f"ledger refund {entry_id} ({reference!r}): {_not_refundable(reservation_id)}")
            continue
        buyer, paid = cancelled_paid[reservation_id]
        if amount != paid:
            problems.append(f"ledger refund {entry_id}: {amount} won for reservation {reservation_id}, paid {paid}")
        if user_id != buyer:
            problems.append(
                f"ledger refund {entry_id}: to user {user_id}'s wallet, reservation {reservation_id} is user {buyer}'s"
            )
    for reservation_id in cancelled_paid:
        if refunds[reservation_id] == 0:
            problems.append(f"reservation {reservation_id}: paid and CANCELLED but never refunded")
        elif refunds[reservation_id] > 1:
            problems.append(f"reservation {reservation_id}: refunded {refunds[reservation_id]} times")
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
    """Every disagreement between balances, ledger, payments, refunds and sold seats, one line each."""
    return (
        _wallet_violations() + _books_violations() + _seat_violations() + _payment_violations() + _refund_violations()
    )


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
