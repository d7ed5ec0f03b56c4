import datetime as dt

from django.db import transaction
from django.utils import timezone

from apps.accounts.models import User
from apps.payments.models import Payment, PaymentItem
from apps.payments.selectors import DateCancelResult
from apps.queue.services import queue_entry_end, queue_entry_lock_active
from apps.reservations.models import Reservation
from apps.reservations.services import (
    reservation_check_cancellable,
    reservation_lock_for_cancel,
    reservations_cancel,
    reservations_check_payable,
    reservations_confirm,
    reservations_lock_for_date_cancel,
    reservations_lock_payable,
)
from apps.wallet.services import wallet_debit, wallet_refund, wallets_lock

Status = Reservation.Status


@transaction.atomic
def payment_create(
    *, user: User, reservation_ids: list[int], queue_entry_id: int, now: dt.datetime | None = None
) -> tuple[Payment, int]:
    """Pay for live holds from the wallet, all or nothing, in one transaction: debit and
    ledger row, reservations CONFIRMED, queue token ended. Returns (payment, new balance).
    Locks in apps.common.locking's order: queue entry, reservations (by pk), wallet."""
    queue_entry_lock_active(entry_id=queue_entry_id)
    reservations = reservations_lock_payable(user=user, reservation_ids=reservation_ids)
    # Read after the locks: a hold that lapsed while this payment waited for them is lapsed.
    now = now or timezone.now()
    reservations_check_payable(reservations=reservations, now=now)
    amount = sum(reservation.price for reservation in reservations)
    payment = Payment.objects.create(user=user, amount=amount, paid_at=now)
    balance = wallet_debit(user=user, amount=amount, reference=f"payment:{payment.pk}")
    PaymentItem.objects.bulk_create(
        PaymentItem(payment=payment, reservation=reservation, amount=reservation.price) for reservation in reservations
    )
    reservations_confirm(reservations=reservations, now=now)
    queue_entry_end(entry_id=queue_entry_id, now=now)
    return payment, balance


REFUND_REFERENCE_PREFIX = "reservation:"


def refund_reference(reservation_id: int) -> str:
    """The REFUND ledger entry's reference: which reservation's price came back (one per
    reservation: a unique index on the ledger; apps.payments.audit reads it back)."""
    return f"{REFUND_REFERENCE_PREFIX}{reservation_id}"


@transaction.atomic
def reservation_cancel(*, user: User, reservation_id: int, now: dt.datetime | None = None) -> tuple[Reservation, int]:
    """The user cancels one of their reservations, in one transaction: a live hold is released
    (refund 0); a bought seat on a date after today is refunded to the wallet (a REFUND ledger
    entry). Either way the seat is on sale again at once. Returns (reservation, refund in won).
    RESERVATION_NOT_FOUND (not theirs), RESERVATION_NOT_CANCELLABLE (lapsed or already
    cancelled), DATE_CLOSED (bought, and the date is today or past). Locks in
    apps.common.locking's order: the reservation, then the wallet. Of any number of concurrent
    cancels one wins; the others find it CANCELLED."""
    reservation = reservation_lock_for_cancel(user=user, reservation_id=reservation_id)
    # Read after the lock: a hold that lapsed while this cancel waited for it is lapsed.
    now = now or timezone.now()
    reservation_check_cancellable(reservation=reservation, now=now)
    refund = reservation.price if reservation.status == Status.CONFIRMED else 0
    reservations_cancel(reservations=[reservation], now=now)
    if refund:
        wallet_refund(user=user, amount=refund, reference=refund_reference(reservation.pk))
    return reservation, refund


@transaction.atomic
def concert_date_cancel(*, concert_date_id: int, now: dt.datetime | None = None) -> DateCancelResult:
    """Staff call a date off, in one transaction: the date is closed (no more holds, no seat
    available), every bought seat refunded to its buyer's wallet, every live hold released.
    Safe to retry: a second run changes nothing and reports zeros. DATE_NOT_FOUND if there is
    no such date. Locks in apps.common.locking's order: the date, its reservations, the wallets."""
    now = now or timezone.now()
    reservations = reservations_lock_for_date_cancel(concert_date_id=concert_date_id, now=now)
    result = DateCancelResult.of(reservations)
    sold = [r for r in reservations if r.status == Status.CONFIRMED]
    wallets_lock(user_ids=[r.user_id for r in sold])
    reservations_cancel(reservations=reservations, now=now)
    for reservation in sold:
        wallet_refund(user=reservation.user, amount=reservation.price, reference=refund_reference(reservation.pk))
    return result
