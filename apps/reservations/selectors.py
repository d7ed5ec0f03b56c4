"""Booking reads. Each answers in a fixed number of queries, whatever the number of dates or seats."""

import datetime as dt

from django.db.models import Count, Exists, OuterRef, QuerySet, Subquery

from apps.accounts.models import User
from apps.common.fields import MAX_BIGINT
from apps.concerts.models import ConcertDate, Seat
from apps.concerts.selectors import check_concert_id, concert_date_get, concert_get
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


def seat_map(*, concert_id: int, date: dt.date, now: dt.datetime) -> list[dict]:
    """Every seat of the date, ascending by number, as {"number", "price", "booking_status"}:
    None when free, else HELD or CONFIRMED. One query on the hot path (plain rows, no model
    instances: this is the page the whole crowd reloads); more only to tell a 404 apart."""
    check_concert_id(concert_id)
    live = Reservation.objects.filter(taken_q(now), seat=OuterRef("pk")).values("status")[:1]
    seats = list(
        Seat.objects.filter(concert_date__concert_id=concert_id, concert_date__date=date)
        .order_by("number")
        .values("number", "price", booking_status=Subquery(live))
    )
    if not seats:
        concert_date_get(concert_id=concert_id, date=date)  # CONCERT_NOT_FOUND / DATE_NOT_FOUND
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
