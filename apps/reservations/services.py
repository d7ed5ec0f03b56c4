import datetime as dt

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from apps.accounts.models import User
from apps.common.fields import is_storable_id
from apps.common.locking import lock_rows
from apps.concerts.models import ConcertDate, Seat
from apps.concerts.services import concert_date_close, concert_date_lock_for_booking
from apps.reservations.availability import availability_changed
from apps.reservations.errors import (
    DateClosed,
    HoldLimitReached,
    ReservationAlreadyPaid,
    ReservationExpired,
    ReservationNotCancellable,
    ReservationNotFound,
    SeatUnavailable,
)
from apps.reservations.models import SEAT_KEEPING, Reservation, taken_q
from apps.reservations.selectors import SeatForHold, hold_allowance, seat_for_hold

Status = Reservation.Status


def reservation_hold(
    *, user: User, concert_id: int, date: dt.date, seat_number: int, now: dt.datetime | None = None
) -> Reservation:
    """Hold a seat for HOLD_SECONDS. Of any number of concurrent holds on one seat exactly one
    wins; the others get SEAT_UNAVAILABLE (the unique index on live reservations decides)."""
    now = now or timezone.now()
    found = seat_for_hold(concert_id=concert_id, date=date, seat_number=seat_number, now=now)
    seat = found.seat
    if seat.concert_date.is_closed(timezone.localdate(now)):
        raise DateClosed(DateClosed.called_off if seat.concert_date.cancelled_at else None)
    # Most losers of a rush stop here: one query, no transaction, no lock.
    if found.booking_status is not None:
        raise _seat_unavailable(found, user=user)
    try:
        reservation = _seat_hold(user=user, seat=seat, now=now)
    except SeatUnavailable:
        # Lost a race for the seat: say whose it is now (the winner has committed).
        found = seat_for_hold(concert_id=concert_id, date=date, seat_number=seat_number, now=now)
        raise _seat_unavailable(found, user=user) from None
    _availability_changed(concert_date=seat.concert_date, now=now)  # committed by now
    return reservation


def _seat_unavailable(found: SeatForHold, *, user: User) -> SeatUnavailable:
    """SEAT_UNAVAILABLE, worded for whoever has the seat: the user asking, or someone else."""
    if found.holder_id != user.pk:
        return SeatUnavailable()
    return SeatUnavailable(
        SeatUnavailable.bought_by_you if found.booking_status == Status.CONFIRMED else SeatUnavailable.held_by_you
    )


def _availability_changed(*, concert_date: ConcertDate, now: dt.datetime) -> None:
    availability_changed(concert_id=concert_date.concert_id, date=concert_date.date, today=timezone.localdate(now))


@transaction.atomic
def _seat_hold(*, user: User, seat: Seat, now: dt.datetime) -> Reservation:
    # One user's holds run one at a time, so the hold limit holds under concurrency too. Locks
    # in apps.common.locking's order: the user, the date (shared: a date cannot be called off
    # halfway through a hold), then (marking a lapsed hold) a reservation.
    lock_rows(User.objects.filter(pk=user.pk).only("pk"), no_key=True)
    if not concert_date_lock_for_booking(concert_date_id=seat.concert_date_id):
        raise DateClosed(DateClosed.called_off)
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
        status = reservation.effective_status(now)
        if status == Status.CONFIRMED:
            raise ReservationAlreadyPaid(_("Reservation %(id)s is already paid.") % {"id": reservation.pk})
        if status == Status.EXPIRED:
            raise ReservationExpired(
                _("The hold of reservation %(id)s lapsed before payment.") % {"id": reservation.pk}
            )
        if status == Status.CANCELLED:
            raise ReservationExpired(
                _("Reservation %(id)s was cancelled; its seat is no longer held for you.") % {"id": reservation.pk}
            )


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
        _availability_changed(concert_date=seat.concert_date, now=timezone.now())
    return released


# --- cancelling: the reservations' part (the refund is apps.payments.services') ---


def reservation_lock_for_cancel(*, user: User, reservation_id: int) -> Reservation:
    """The user's reservation, locked (with its seat and date) until the caller's transaction
    ends; RESERVATION_NOT_FOUND if it is not theirs. Must run inside the cancel's transaction."""
    if not is_storable_id(reservation_id):
        raise ReservationNotFound()
    found = lock_rows(Reservation.objects.select_related("seat__concert_date").filter(user=user, pk=reservation_id))
    if not found:
        raise ReservationNotFound()
    return found[0]


def reservation_check_cancellable(*, reservation: Reservation, now: dt.datetime) -> None:
    """A live hold may be released any time; a bought seat refunded only before its date.
    RESERVATION_NOT_CANCELLABLE for a lapsed hold or one cancelled already; DATE_CLOSED for a
    bought seat whose date is today or past."""
    status = reservation.effective_status(now)
    if status == Status.CANCELLED:
        raise ReservationNotCancellable()
    if status == Status.EXPIRED:
        raise ReservationNotCancellable(ReservationNotCancellable.lapsed)
    if status == Status.CONFIRMED and reservation.seat.concert_date.date <= timezone.localdate(now):
        raise DateClosed(DateClosed.too_late_to_cancel)


def reservations_lock_for_date_cancel(*, concert_date_id: int, now: dt.datetime) -> list[Reservation]:
    """Close the date (apps.concerts.services.concert_date_close: DATE_NOT_FOUND if there is no
    such date), then lock its reservations that keep a seat at `now` (sold, or held and live),
    with their user, seat and date, in pk order. No hold of the date is under way meanwhile: it would
    hold the date's lock. Must run inside the cancel's transaction."""
    concert_date = concert_date_close(concert_date_id=concert_date_id, now=now)
    # Closed: its kept seat map and dates list go once this commits, reservations or none.
    transaction.on_commit(lambda: _availability_changed(concert_date=concert_date, now=now))
    return lock_rows(
        Reservation.objects.select_related("user", "seat__concert_date").filter(
            taken_q(now), seat__concert_date=concert_date
        )
    )


def reservations_cancel(*, reservations: list[Reservation], now: dt.datetime) -> None:
    """Mark locked reservations CANCELLED: their seats are on sale again once the caller's
    transaction commits, and the kept seat maps and date lists are dropped then. Must run inside
    that transaction; the reservations must have their seat and date loaded."""
    Reservation.objects.filter(pk__in=[r.pk for r in reservations], status__in=SEAT_KEEPING).update(
        status=Status.CANCELLED, cancelled_at=now
    )
    for reservation in reservations:
        reservation.status, reservation.cancelled_at = Status.CANCELLED, now
    dates = {reservation.seat.concert_date for reservation in reservations}
    # After commit: before it, a reader could put the old body back for its second. The
    # callback never raises for a Redis that is down (availability_changed logs it).
    transaction.on_commit(lambda: [_availability_changed(concert_date=date, now=now) for date in dates])


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
