import datetime as dt

from django.db import transaction
from django.utils import timezone

from apps.accounts.models import User
from apps.payments.models import Payment, PaymentItem
from apps.queue.services import queue_entry_end, queue_entry_lock_active
from apps.reservations.services import reservations_check_payable, reservations_confirm, reservations_lock_payable
from apps.wallet.services import wallet_debit


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
