"""The live sale, as staff watch it: one read that gathers what each owning app's selectors say
(the queue, the seats, the money). Payments sits above all of them, so the page lives here."""

import dataclasses
import datetime as dt
import functools

from django.db.models import Count, Sum
from django.utils import timezone

from apps.payments.models import PaymentItem
from apps.payments.services import refund_reference
from apps.queue.selectors import admissions_per_minute, queue_state_get
from apps.queue.services import queue_line_counts
from apps.reservations.selectors import (
    ConcertSeatCounts,
    DateSeatCounts,
    concert_seat_counts,
    refunded_reservation_dates,
)
from apps.wallet.selectors import refunds_by_reference

ADMISSION_MINUTES = 5
SEAT_FIELDS = ("seats", "free", "held", "sold")
MONEY_FIELDS = ("payments", "revenue", "refunds", "refunded", "net")


@dataclasses.dataclass(frozen=True)
class QueueNow:
    waiting: int
    active: int
    active_limit: int
    paused: bool
    head: int | None  # the ticket at the head of the line
    per_minute: list[int]  # admissions recorded in each of the last ADMISSION_MINUTES minutes, oldest first
    seconds_per_admission: float | None  # the line's moving average; None before any admission

    @property
    def admitted_last_minute(self) -> int:
        return self.per_minute[-1]


@dataclasses.dataclass(frozen=True)
class DateSale:
    seats: DateSeatCounts
    state: str  # "on sale", "sold out", "no seats yet", "past" or "called off"
    payments: int  # bought seats, refunded ones included
    revenue: int  # won paid for them
    refunds: int  # seats refunded
    refunded: int  # won given back

    @property
    def net(self) -> int:
        return self.revenue - self.refunded


@dataclasses.dataclass(frozen=True)
class SaleOverview:
    seat_counts: ConcertSeatCounts  # the concert, and each date's seats
    dates: list[DateSale]  # ascending
    queue: QueueNow
    as_of: dt.datetime

    @property
    def concert(self):
        return self.seat_counts.concert

    @functools.cached_property
    def totals(self) -> dict[str, int]:
        """Every date's figures added up."""
        seats = {field: sum(getattr(date.seats, field) for date in self.dates) for field in SEAT_FIELDS}
        money = {field: sum(getattr(date, field) for date in self.dates) for field in MONEY_FIELDS}
        return seats | money

    @property
    def admissions(self) -> list[tuple[dt.datetime, int]]:
        """(the minute's end, admissions recorded in it), oldest first."""
        minutes = len(self.queue.per_minute)
        return [
            (self.as_of - dt.timedelta(minutes=minutes - 1 - n), count) for n, count in enumerate(self.queue.per_minute)
        ]


def queue_now(*, now: dt.datetime) -> QueueNow:
    """The line as it stands (the queue is one for the whole site, not per concert)."""
    counts = queue_line_counts(now=now)
    state = queue_state_get()
    return QueueNow(
        waiting=counts.waiting,
        active=counts.active,
        active_limit=state.effective_active_limit,
        paused=state.paused,
        head=counts.head,
        per_minute=admissions_per_minute(now=now, minutes=ADMISSION_MINUTES),
        seconds_per_admission=counts.seconds_per_admission,
    )


def _revenue_by_date(*, concert_id: int) -> dict[int, tuple[int, int]]:
    """{concert date id: (seats paid for, won)}, refunded ones included."""
    rows = (
        PaymentItem.objects.filter(reservation__seat__concert_date__concert_id=concert_id)
        .values("reservation__seat__concert_date_id")
        .annotate(n=Count("pk"), won=Sum("amount"))
        .order_by()
    )
    return {row["reservation__seat__concert_date_id"]: (row["n"], row["won"]) for row in rows}


def _refunds_by_date(*, concert_id: int) -> dict[int, tuple[int, int]]:
    """{concert date id: (seats refunded, won)}: the REFUND ledger entries of the concert's
    cancelled purchases (the ledger is what the buyers got back)."""
    dates = refunded_reservation_dates(concert_id=concert_id)
    refunded = refunds_by_reference(references=[refund_reference(pk) for pk in dates])
    totals: dict[int, tuple[int, int]] = {}
    for reservation_id, concert_date_id in dates.items():
        amount = refunded.get(refund_reference(reservation_id))
        if amount:
            n, won = totals.get(concert_date_id, (0, 0))
            totals[concert_date_id] = (n + 1, won + amount)
    return totals


def _state(seats: DateSeatCounts, *, today: dt.date) -> str:
    concert_date = seats.concert_date
    if concert_date.cancelled_at is not None:
        return "called off"
    if concert_date.is_closed(today):
        return "past"
    if not seats.seats:
        return "no seats yet"
    return "on sale" if seats.free else "sold out"


def sale_overview(*, concert_id: int, now: dt.datetime | None = None) -> SaleOverview:
    """How the concert's sale stands now: the line, and each date's seats and money.
    CONCERT_NOT_FOUND if there is no such concert. A fixed number of queries."""
    now = now or timezone.now()
    seats = concert_seat_counts(concert_id=concert_id, now=now)
    revenue = _revenue_by_date(concert_id=concert_id)
    refunds = _refunds_by_date(concert_id=concert_id)
    today = timezone.localdate(now)
    dates = []
    for date_seats in seats.dates:
        date_id = date_seats.concert_date.pk
        payments, paid = revenue.get(date_id, (0, 0))
        refund_count, refunded = refunds.get(date_id, (0, 0))
        dates.append(DateSale(date_seats, _state(date_seats, today=today), payments, paid, refund_count, refunded))
    return SaleOverview(seat_counts=seats, dates=dates, queue=queue_now(now=now), as_of=now)
