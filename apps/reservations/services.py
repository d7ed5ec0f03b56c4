import datetime as dt

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from apps.accounts.models import User
from apps.common.locking import lock_rows
from apps.concerts.models import Seat
from apps.reservations.availability import availability_changed
from apps.reservations.errors import (
    DateClosed,
    HoldLimitReached,
    ReservationAlreadyPaid,
    ReservationExpired,
    ReservationNotFound,
    SeatUnavailable,
)
from apps.reservations.models import Reservation
from apps.reservations.selectors import hold_allowance, seat_for_hold

Status = Reservation.Status


def reservation_hold(
    *, user: User, concert_id: int, date: dt.date, seat_number: int, now: dt.datetime | None = None
) -> Reservation:
    """Hold a seat for HOLD_SECONDS. Of any number of concurrent holds on one seat exactly one
    wins; the others get SEAT_UNAVAILABLE (the unique index on live reservations decides)."""
    now = now or timezone.now()
    seat, booking_status = seat_for_hold(concert_id=concert_id, date=date, seat_number=seat_number, now=now)
    if seat.concert_date.date < timezone.localdate(now):
        raise DateClosed()
    # Most losers of a rush stop here: one query, no transaction, no lock.
    if booking_status is not None:
        raise SeatUnavailable()
    reservation = _seat_hold(user=user, seat=seat, now=now)
    _availability_changed(seat=seat, now=now)  # committed by now
    return reservation


def _availability_changed(*, seat: Seat, now: dt.datetime) -> None:
    availability_changed(
        concert_id=seat.concert_date.concert_id, date=seat.concert_date.date, today=timezone.localdate(now)
    )


@transaction.atomic
def _seat_hold(*, user: User, seat: Seat, now: dt.datetime) -> Reservation:
    # One user's holds run one at a time, so the hold limit holds under concurrency too. Locks
    # in apps.common.locking's order: the user, then (marking a lapsed hold) a reservation.
    lock_rows(User.objects.filter(pk=user.pk).only("pk"), no_key=True)
    if not hold_allowance(user=user, now=now).left:
        raise HoldLimitReached()
    # A lapsed hold still counts for the unique index until it is marked; mark it now.
    Reservation.objects.filter(seat=seat).lapsed_holds(now).update(status=Status.EXPIRED)
    try:
        return Reservation.objects.create(
            user=user,
            seat=seat,
            price=seat.price,
            created_at=now,
            expires_at=now + dt.timedelta(seconds=settings.HOLD_SECONDS),
        )
    except IntegrityError as exc:
        # A concurrent hold or payment took the seat first. No savepoint is needed: nothing
        # else runs in this transaction, and raising rolls all of it back.
        raise SeatUnavailable() from exc


def reservations_lock_payable(*, user: User, reservation_ids: list[int]) -> list[Reservation]:
    """Lock the user's listed reservations (in apps.common.locking's order); RESERVATION_NOT_FOUND
    unless all are theirs. Must run inside the payment's transaction."""
    reservations = lock_rows(
        Reservation.objects.select_related("seat__concert_date").filter(user=user, pk__in=reservation_ids)
    )
    if len(reservations) != len(set(reservation_ids)):
        raise ReservationNotFound()
    return reservations


def reservations_check_payable(*, reservations: list[Reservation], now: dt.datetime) -> None:
    """Each locked reservation must still be a live hold at `now`."""
    for reservation in reservations:
        if reservation.status == Status.CONFIRMED:
            raise ReservationAlreadyPaid(f"Reservation {reservation.pk} is already paid.")
        if reservation.effective_status(now) == Status.EXPIRED:
            raise ReservationExpired(f"The hold of reservation {reservation.pk} lapsed before payment.")


def reservations_confirm(*, reservations: list[Reservation], now: dt.datetime) -> None:
    """Mark locked, payable reservations sold. Must run inside the payment's transaction."""
    Reservation.objects.filter(pk__in=[r.pk for r in reservations], status=Status.HELD).update(
        status=Status.CONFIRMED, confirmed_at=now
    )
    for reservation in reservations:
        reservation.status, reservation.confirmed_at = Status.CONFIRMED, now


def reservation_release(*, reservation_id: int) -> bool:
    """Staff: give a held seat back now. False if it was not a hold."""
    released = bool(Reservation.objects.filter(pk=reservation_id, status=Status.HELD).update(status=Status.EXPIRED))
    if released:
        seat = Seat.objects.select_related("concert_date").get(reservations__pk=reservation_id)
        _availability_changed(seat=seat, now=timezone.now())
    return released


def holds_sweep(*, now: dt.datetime | None = None, batch_size: int | None = None) -> int:
    """Mark lapsed holds EXPIRED in batches; returns how many. Tidying only: a lapsed hold is
    already free by the predicate. Rows a payment has locked are skipped, never waited on, so
    a sweep neither blocks nor deadlocks with payments; running it twice or at once is harmless."""
    now = now or timezone.now()
    batch_size = batch_size or settings.SWEEP_BATCH_SIZE
    # One statement per batch: the ids never travel to Python and back. The rows the subquery
    # locks are HELD and lapsed (a locked row is re-checked against the filter), so the
    # UPDATE needs no condition of its own.
    lapsed = Reservation.objects.select_for_update(skip_locked=True).lapsed_holds(now).values("pk")[:batch_size]
    swept = 0
    while True:
        with transaction.atomic():
            marked = Reservation.objects.filter(pk__in=lapsed).update(status=Status.EXPIRED)
        swept += marked
        if marked < batch_size:  # a short batch: nothing lapsed is left unmarked (or unlocked)
            return swept
