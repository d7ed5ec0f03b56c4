"""Row locks: one order for the whole project, and the helper that takes them.

A transaction that locks rows of more than one kind takes the kinds in `LOCK_ORDER` and never
goes back to an earlier kind; rows of one kind are locked in ascending pk order. Two
transactions that need the same rows then queue behind each other instead of deadlocking
(pretix's base/services/locking.py and Saleor's checkout/lock_objects.py do the same). Each lock
is taken once per transaction, as late as the service can, and a wait past the database's
lock_timeout becomes a clean 503 (apps.common.exception_handler).

1. queue.QueueEntry: a payment's queue token, so two payments with one token run one at a time.
2. accounts.User, FOR NO KEY UPDATE: a hold's user, so one user's holds run one at a time and
   the hold limit holds. NO KEY: the KEY SHARE lock an insert referencing the user takes (a
   payment row) does not wait for it.
3. concerts.ConcertDate: FOR KEY SHARE by a hold (many at once), FOR UPDATE by calling the date
   off, so that a date is closed either before a hold (which then sees it closed) or after it
   (and the cancel sees the hold): apps.concerts.services.concert_date_lock_for_booking and
   concert_date_close.
4. reservations.Reservation: the holds a payment confirms; the lapsed hold of a seat that a
   new hold marks EXPIRED (its UPDATE locks it); the reservation a cancel releases or refunds;
   every live reservation of a date called off.
5. wallet.Wallet: the debit's or refund's conditional UPDATE (apps.wallet.services._wallet_apply);
   a date called off locks the wallets it refunds first, in pk order.

The kinds are named by model label: this module sits below the apps and imports none of them.
apps/common/tests/test_locking.py runs the services that lock more than one kind and checks
their statements against this order.
"""

from django.db.models import Model, QuerySet

LOCK_ORDER = (
    "queue.QueueEntry",
    "accounts.User",
    "concerts.ConcertDate",
    "reservations.Reservation",
    "wallet.Wallet",
)


def lock_rows(queryset: QuerySet, *, no_key: bool = False) -> list[Model]:
    """The queryset's rows, locked until the end of the caller's transaction in pk order (only
    its own table's rows: joined tables stay unlocked)."""
    return list(queryset.select_for_update(of=("self",), no_key=no_key).order_by("pk"))
