import datetime as dt

from django.db.models import Min, Q, QuerySet

from apps.common.fields import is_storable_id
from apps.concerts.errors import ConcertNotFound, DateNotFound, SeatNotFound
from apps.concerts.models import Concert, ConcertDate, Seat


def concert_list() -> QuerySet[Concert]:
    return Concert.objects.order_by("id")


def check_concert_id(concert_id: int) -> None:
    # An id the database cannot store cannot exist; the hand-written seat-map query would
    # fail on it instead of finding nothing.
    if not is_storable_id(concert_id):
        raise ConcertNotFound()


def concert_get(*, concert_id: int) -> Concert:
    check_concert_id(concert_id)
    concert = Concert.objects.filter(pk=concert_id).first()
    if concert is None:
        raise ConcertNotFound()
    return concert


def concert_date_get(*, concert_id: int, date: dt.date) -> ConcertDate:
    """The date row; CONCERT_NOT_FOUND or DATE_NOT_FOUND tell the two misses apart."""
    check_concert_id(concert_id)
    concert_date = ConcertDate.objects.filter(concert_id=concert_id, date=date).first()
    if concert_date is None:
        concert_get(concert_id=concert_id)
        raise DateNotFound()
    return concert_date


def seat_get(*, concert_id: int, date: dt.date, seat_number: int) -> Seat:
    check_concert_id(concert_id)
    seat = (
        Seat.objects.select_related("concert_date")
        .filter(concert_date__concert_id=concert_id, concert_date__date=date, number=seat_number)
        .first()
    )
    if seat is None:
        concert_date_get(concert_id=concert_id, date=date)
        raise SeatNotFound()
    return seat


def concerts_coming_up(*, today: dt.date, limit: int = 20) -> QuerySet[Concert]:
    """Concerts with a date today or later that is not called off, soonest first, each annotated
    with that `next_date` (for staff: the admin index's live sales)."""
    coming = Q(dates__date__gte=today, dates__cancelled_at__isnull=True)
    return (
        Concert.objects.annotate(next_date=Min("dates__date", filter=coming))
        .filter(next_date__isnull=False)
        .order_by("next_date", "id")[:limit]
    )
