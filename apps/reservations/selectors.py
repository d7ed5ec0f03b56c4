"""Booking reads. Each answers in a fixed number of queries, whatever the number of dates or seats."""

import datetime as dt

from django.db.models import Count, Exists, OuterRef, QuerySet, Subquery

from apps.accounts.models import User
from apps.common.fields import MAX_BIGINT
from apps.concerts.models import ConcertDate, Seat
from apps.concerts.selectors import concert_date_get, concert_get
from apps.reservations.errors import ReservationNotFound
from apps.reservations.models import Reservation, taken_q


def _seat_taken(now: dt.datetime, seat_ref: str = "pk") -> Exists:
    return Exists(Reservation.objects.filter(taken_q(now), seat=OuterRef(seat_ref)))


def bookable_dates(*, concert_id: int, today: dt.date, now: dt.datetime) -> QuerySet[ConcertDate]:
    """Today-or-later dates with at least one free seat, ascending, annotated `available_seats`."""
    concert_get(concert_id=concert_id)
    return (
        ConcertDate.objects.filter(concert_id=concert_id, date__gte=today)
        .annotate(available_seats=Count("seats", filter=~_seat_taken(now, "seats")))
        .filter(available_seats__gt=0)
        .order_by("date")
    )


def seat_map(*, concert_id: int, date: dt.date, now: dt.datetime) -> list[Seat]:
    """Every seat of the date, ascending by number, with `booking_status` (None when free,
    else HELD or CONFIRMED: one subquery tells both) and `taken`."""
    concert_date = concert_date_get(concert_id=concert_id, date=date)
    live = Reservation.objects.filter(taken_q(now), seat=OuterRef("pk")).values("status")[:1]
    seats = list(
        Seat.objects.filter(concert_date=concert_date).annotate(booking_status=Subquery(live)).order_by("number")
    )
    for seat in seats:
        seat.taken = seat.booking_status is not None
    return seats


def seat_is_taken(*, seat: Seat, now: dt.datetime) -> bool:
    return Reservation.objects.filter(taken_q(now), seat=seat).exists()


def live_hold_count(*, user: User, now: dt.datetime) -> int:
    return Reservation.objects.filter(user=user, status=Reservation.Status.HELD, expires_at__gt=now).count()


def reservation_list(*, user: User) -> QuerySet[Reservation]:
    return Reservation.objects.filter(user=user).select_related("seat__concert_date").order_by("-id")


def reservation_get(*, user: User, reservation_id: int) -> Reservation:
    """Another user's reservation is reported as not found: its existence is not revealed."""
    if not 0 < reservation_id <= MAX_BIGINT:
        raise ReservationNotFound()
    reservation = reservation_list(user=user).filter(pk=reservation_id).first()
    if reservation is None:
        raise ReservationNotFound()
    return reservation
