"""Booking reads. Each answers in a fixed number of queries, whatever the number of dates or seats."""

import dataclasses
import datetime as dt
from typing import NamedTuple

from django.conf import settings
from django.db import connection
from django.db.models import Case, Count, Exists, F, OuterRef, Q, QuerySet, Value, When
from django.utils import timezone

from apps.accounts.models import User
from apps.common.fields import is_storable_id
from apps.concerts.errors import DateNotFound, SeatNotFound
from apps.concerts.models import Concert, ConcertDate, Seat, date_closed
from apps.concerts.selectors import check_concert_id, concert_date_get, concert_get, seat_get
from apps.reservations.errors import ReservationNotFound
from apps.reservations.models import Reservation, Status, lapsed_hold_q, live_hold_q, taken_q, taken_sql

# The seat map and the first step of a hold are what a rush hammers, so they are hand-written
# queries: the ORM building them cost more than PostgreSQL running them (BENCHMARKS.md).
# The join finds the seat's live reservation (`taken_sql`, the models' hold rule in SQL): at
# most one row, because the unique index on live reservations allows one HELD or CONFIRMED row
# per seat. `r.status` is None when the seat is free. `d.cancelled_at` is set on a date staff
# called off (apps.concerts.models.date_closed).
_TAKEN = taken_sql(alias="r", now="%(now)s")
_SEATS_OF_DATE = f"""
      FROM {Seat._meta.db_table} s
      JOIN {ConcertDate._meta.db_table} d ON d.id = s.concert_date_id
      LEFT JOIN {Reservation._meta.db_table} r ON r.seat_id = s.id AND {_TAKEN}
     WHERE d.concert_id = %(concert_id)s AND d.date = %(date)s"""
_SEAT_MAP = f"SELECT s.number, s.price, r.status, r.expires_at, d.cancelled_at {_SEATS_OF_DATE} ORDER BY s.number"
_SEAT_FOR_HOLD = f"""
    SELECT s.id, s.number, s.price, d.id, d.concert_id, d.date, d.cancelled_at, r.status, r.user_id
    {_SEATS_OF_DATE} AND s.number = %(seat_number)s"""


def _seat_rows(sql: str, *, now: dt.datetime, concert_id: int, date: dt.date, **params) -> list[tuple]:
    check_concert_id(concert_id)
    params |= {
        # The backend's own adapters, as the ORM would use (SQLite stores datetimes as text).
        "now": connection.ops.adapt_datetimefield_value(now),
        "concert_id": concert_id,
        "date": connection.ops.adapt_datefield_value(date),
    }
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchall()


def seat_map(*, concert_id: int, date: dt.date, now: dt.datetime) -> list[dict]:
    """Every seat of the date, ascending by number, as {"number", "price", "booking_status",
    "held_until", "available"}: booking_status None when free, else HELD or CONFIRMED;
    held_until the hold's expiry, None unless HELD; available whether it can be held now (free,
    on a date that is not closed: none is on a past or called-off date). One query on the hot
    path; more only to tell a 404 apart."""
    rows = _seat_rows(_SEAT_MAP, now=now, concert_id=concert_id, date=date)
    if not rows:
        concert_date_get(concert_id=concert_id, date=date)  # CONCERT_NOT_FOUND / DATE_NOT_FOUND
    today = timezone.localdate(now)
    return [
        {
            "number": number,
            "price": price,
            "booking_status": status,
            "held_until": _datetime(expires_at) if status == Status.HELD else None,
            "available": status is None and not date_closed(date=date, cancelled_at=cancelled_at, today=today),
        }
        for number, price, status, expires_at, cancelled_at in rows
    ]


@dataclasses.dataclass(frozen=True)
class BookableDate:
    date: dt.date
    available_seats: int
    next_lapse: dt.datetime | None  # when the first live hold of the date lapses


# Counted in one pass over the date's seats and their live reservations (as the seat map joins
# them). The dates that are not closed: `date_closed` in SQL.
_DATES_OF_CONCERT = f"""
    SELECT d.date, count(*) FILTER (WHERE r.id IS NULL),
           min(r.expires_at) FILTER (WHERE r.status = '{Status.HELD}')
      FROM {ConcertDate._meta.db_table} d
      JOIN {Seat._meta.db_table} s ON s.concert_date_id = d.id
      LEFT JOIN {Reservation._meta.db_table} r ON r.seat_id = s.id AND {_TAKEN}
     WHERE d.concert_id = %(concert_id)s AND d.date >= %(today)s AND d.cancelled_at IS NULL
     GROUP BY d.date ORDER BY d.date"""


def bookable_dates(*, concert_id: int, today: dt.date, now: dt.datetime) -> list[BookableDate]:
    """Today-or-later dates with at least one free seat, ascending; none that staff called off."""
    return [day for day in open_dates(concert_id=concert_id, today=today, now=now) if day.available_seats > 0]


def open_dates(*, concert_id: int, today: dt.date, now: dt.datetime) -> list[BookableDate]:
    """Today-or-later dates not called off, ascending, sold out or not (a sold-out date's first
    lapsing hold frees a seat: the kept dates list must not outlive it). One query when the
    concert has dates; a second only to tell CONCERT_NOT_FOUND from a concert with none."""
    check_concert_id(concert_id)
    params = {
        "now": connection.ops.adapt_datetimefield_value(now),
        "concert_id": concert_id,
        "today": connection.ops.adapt_datefield_value(today),
    }
    with connection.cursor() as cursor:
        cursor.execute(_DATES_OF_CONCERT, params)
        rows = cursor.fetchall()
    if not rows:
        concert_get(concert_id=concert_id)
    return [
        BookableDate(date=_date(date), available_seats=free, next_lapse=_datetime(lapse) if lapse else None)
        for date, free, lapse in rows
    ]


def _date(value) -> dt.date:
    return value if isinstance(value, dt.date) else dt.date.fromisoformat(value)  # SQLite returns text


def _datetime(value) -> dt.datetime:
    """A timestamp from a hand-written query, aware, on either backend (SQLite returns text)."""
    if isinstance(value, str):
        value = dt.datetime.fromisoformat(value)
    return value if timezone.is_aware(value) else timezone.make_aware(value, dt.UTC)


class SeatForHold(NamedTuple):
    seat: Seat  # with its concert_date (its cancelled_at included)
    booking_status: str | None  # None when free, else HELD (a live hold) or CONFIRMED
    holder_id: int | None  # the user who holds or bought it


def seat_for_hold(*, concert_id: int, date: dt.date, seat_number: int, now: dt.datetime) -> SeatForHold:
    """The seat (with its date), its booking status now and who has it, in one query; the
    concerts app's 404s when there is no such seat."""
    rows = _seat_rows(_SEAT_FOR_HOLD, now=now, concert_id=concert_id, date=date, seat_number=seat_number)
    if not rows:
        seat_get(concert_id=concert_id, date=date, seat_number=seat_number)  # raises the right 404
        raise SeatNotFound()  # created since the query above: the caller may simply retry
    seat_id, number, price, date_id, date_concert_id, seat_date, cancelled_at, status, holder_id = rows[0]
    seat = Seat(id=seat_id, number=number, price=price, concert_date_id=date_id)
    seat.concert_date = ConcertDate(
        id=date_id,
        concert_id=date_concert_id,
        date=_date(seat_date),
        cancelled_at=_datetime(cancelled_at) if cancelled_at is not None else None,
    )
    return SeatForHold(seat=seat, booking_status=status, holder_id=holder_id)


def live_hold_count(*, user: User, now: dt.datetime) -> int:
    return Reservation.objects.filter(user=user).live_holds(now).count()


@dataclasses.dataclass(frozen=True)
class HoldAllowance:
    limit: int  # live holds one user may have at once (MAX_HOLDS_PER_USER)
    held: int  # the user's live holds now

    @property
    def left(self) -> int:
        return max(0, self.limit - self.held)


def hold_allowance(*, user: User, now: dt.datetime) -> HoldAllowance:
    """How many seats the user holds now, and how many more they may hold (the hold limit)."""
    return HoldAllowance(limit=settings.MAX_HOLDS_PER_USER, held=live_hold_count(user=user, now=now))


def reservations_of(*, user: User, reservation_ids: list[int]) -> list[Reservation]:
    """The user's reservations among these ids (anyone else's are left out), with their seat,
    date and concert, by date and seat number."""
    reservations = (
        Reservation.objects.filter(user=user, pk__in=reservation_ids)
        .select_related("seat__concert_date__concert")
        .order_by("seat__concert_date__date", "seat__number")
    )
    return list(reservations)


@dataclasses.dataclass(frozen=True)
class HoldsReport:
    live: list[Reservation]  # still held, by date and seat number
    lapsed: list[Reservation]  # held once, released unpaid (lapsed, swept or released by staff)


def holds_report(*, user: User, reservation_ids: list[int], now: dt.datetime) -> HoldsReport:
    """What became of these holds of the user's: still live, or released unpaid. Paid ones and
    anyone else's are left out."""
    reservations = reservations_of(user=user, reservation_ids=reservation_ids)
    by_status = {status: [r for r in reservations if r.effective_status(now) == status] for status in Status}
    return HoldsReport(live=by_status[Status.HELD], lapsed=by_status[Status.EXPIRED])


def concert_date_live_reservations(*, concert_date_id: int, now: dt.datetime) -> list[Reservation]:
    """The date's reservations that keep a seat now (sold, or held and live), in pk order;
    DATE_NOT_FOUND if there is no such date."""
    if not is_storable_id(concert_date_id) or not ConcertDate.objects.filter(pk=concert_date_id).exists():
        raise DateNotFound()
    return list(Reservation.objects.filter(taken_q(now), seat__concert_date_id=concert_date_id).order_by("pk"))


def reservation_list(*, user: User) -> QuerySet[Reservation]:
    return Reservation.objects.filter(user=user).select_related("seat__concert_date").order_by("-id")


def reservation_get(*, user: User, reservation_id: int) -> Reservation:
    """Another user's reservation is reported as not found: its existence is not revealed."""
    if not is_storable_id(reservation_id):
        raise ReservationNotFound()
    reservation = reservation_list(user=user).filter(pk=reservation_id).first()
    if reservation is None:
        raise ReservationNotFound()
    return reservation


# --- for buyers: their tickets, and which concerts are on sale ---


@dataclasses.dataclass(frozen=True)
class Tickets:
    upcoming: list[Reservation]  # dates today or later: soonest first, then by seat
    past: list[Reservation]  # dates before today: latest first, then by seat


def tickets_of(*, user: User, today: dt.date, now: dt.datetime) -> Tickets:
    """What the user holds now, bought, or bought and had refunded, each with its seat, date and
    concert; holds that lapsed or were released unpaid are left out. One query."""
    reservations = list(
        Reservation.objects.filter(user=user)
        .filter(live_hold_q(now) | Q(status=Status.CONFIRMED) | Q(status=Status.CANCELLED, confirmed_at__isnull=False))
        .select_related("seat__concert_date__concert")
        .order_by("seat__concert_date__date", "seat__number", "pk")
    )
    past = [r for r in reservations if r.seat.concert_date.date < today]
    return Tickets(
        upcoming=[r for r in reservations if r.seat.concert_date.date >= today],
        past=sorted(past, key=lambda r: r.seat.concert_date.date, reverse=True),  # stable: seats stay in order
    )


def concert_ids_on_sale(*, today: dt.date, now: dt.datetime) -> set[int]:
    """The concerts that have a bookable date, as `bookable_dates` lists them: today or later,
    not called off, with a seat neither sold nor held. One query; each concert's seats are read
    only until the first free one."""
    free_seats = Seat.objects.filter(
        concert_date__concert=OuterRef("pk"), concert_date__date__gte=today, concert_date__cancelled_at__isnull=True
    ).exclude(Exists(Reservation.objects.filter(taken_q(now), seat=OuterRef("pk"))))
    return set(Concert.objects.filter(Exists(free_seats)).values_list("pk", flat=True))


# --- for staff: how a sale stands ---


def with_seat_counts(dates: QuerySet[ConcertDate], *, now: dt.datetime) -> QuerySet[ConcertDate]:
    """The dates annotated with `seat_total`, `held_count` (live holds) and `sold_count`; free is
    the rest. Counted in the same query, whatever the number of dates."""
    return dates.annotate(
        seat_total=Count("seats", distinct=True),
        held_count=Count("seats__reservations", filter=live_hold_q(now, prefix="seats__reservations__")),
        sold_count=Count("seats__reservations", filter=Q(seats__reservations__status=Status.CONFIRMED)),
    )


@dataclasses.dataclass(frozen=True)
class DateSeatCounts:
    concert_date: ConcertDate  # with its concert
    seats: int
    free: int
    held: int
    sold: int


def date_seat_counts(*, concert_date_ids: list[int], now: dt.datetime) -> list[DateSeatCounts]:
    """These dates (those that exist) with their seats free, held and sold now, by concert and date."""
    dates = ConcertDate.objects.filter(pk__in=concert_date_ids).select_related("concert")
    return _seat_counts(dates, now=now)


@dataclasses.dataclass(frozen=True)
class ConcertSeatCounts:
    concert: Concert
    dates: list[DateSeatCounts]  # ascending


def concert_seat_counts(*, concert_id: int, now: dt.datetime) -> ConcertSeatCounts:
    """Each date of the concert with its seats free, held and sold now; CONCERT_NOT_FOUND if
    there is no such concert."""
    concert = concert_get(concert_id=concert_id)
    dates = ConcertDate.objects.filter(concert=concert).select_related("concert")
    return ConcertSeatCounts(concert=concert, dates=_seat_counts(dates, now=now))


def _seat_counts(dates: QuerySet[ConcertDate], *, now: dt.datetime) -> list[DateSeatCounts]:
    return [
        DateSeatCounts(
            concert_date=row,
            seats=row.seat_total,
            free=row.seat_total - row.held_count - row.sold_count,
            held=row.held_count,
            sold=row.sold_count,
        )
        for row in with_seat_counts(dates.order_by("concert_id", "date"), now=now)
    ]


def refunded_reservation_dates(*, concert_id: int) -> dict[int, int]:
    """The concert's reservations that were bought and then cancelled (refunded), as
    {reservation id: its concert date id}."""
    refunded = Reservation.objects.filter(
        seat__concert_date__concert_id=concert_id, status=Status.CANCELLED, confirmed_at__isnull=False
    )
    return dict(refunded.values_list("pk", "seat__concert_date_id"))


# --- for the metrics: the whole sale's reservations ---


def reservation_status_counts(*, now: dt.datetime) -> dict[str, int]:
    """Every reservation ever made, counted by the status users see (a lapsed hold is EXPIRED),
    every status present. One GROUP BY over the table, read on each metrics scrape."""
    shown = Case(When(lapsed_hold_q(now), then=Value(Status.EXPIRED)), default=F("status"))
    rows = Reservation.objects.annotate(shown=shown).values("shown").annotate(n=Count("pk")).order_by()
    return {status: 0 for status in Status.values} | {row["shown"]: row["n"] for row in rows}
