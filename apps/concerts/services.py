import dataclasses
import datetime as dt
import re
from collections.abc import Sequence

from django.db import connection, transaction

from apps.common.errors import ValidationFailed
from apps.common.fields import is_storable_id
from apps.common.locking import lock_rows
from apps.common.sql import fetch_one
from apps.concerts.errors import DateNotFound
from apps.concerts.models import MAX_SEATS_PER_DATE, Concert, ConcertDate, Seat


@dataclasses.dataclass(frozen=True)
class PriceTier:
    """Seats `first`..`last` (inclusive) cost `price` won."""

    first: int
    last: int
    price: int

    def __str__(self):
        seats = str(self.first) if self.first == self.last else f"{self.first}-{self.last}"
        return f"{seats}: {self.price}"


@dataclasses.dataclass(frozen=True)
class SeatsGenerated:
    created: int  # seats that did not exist
    repriced: int  # seats that existed at another price
    unchanged: int  # seats that existed at their price already
    beyond: int  # existing seats numbered above the count: never removed, left as they were


# "1-10: 200000, 11-50: 150,000": entries apart by ";", a new line, or a comma that is not a
# thousands separator (one followed by exactly three digits).
_TIER_SEPARATOR = re.compile(r"[;\n]|,(?!\d{3}(?!\d))")
_TIER = re.compile(r"(\d+)(?:\s*-\s*(\d+))?\s*[:=]\s*₩?\s*(\d{1,3}(?:,\d{3})+|\d+)\s*(?:won|원)?", re.IGNORECASE)


def price_tiers_parse(text: str) -> list[PriceTier]:
    """Price tiers as staff type them: "1-10: 200000, 11-50: 150000" (a single seat is "7: 90000";
    prices may be written 200,000). ValidationFailed names the entry it cannot read."""
    tiers = []
    for entry in _TIER_SEPARATOR.split(text):
        entry = entry.strip()
        if not entry:
            continue
        match = _TIER.fullmatch(entry)
        if match is None:
            raise ValidationFailed(f'Cannot read the price tier "{entry}": write it like "1-10: 200000".')
        first, last, price = match.groups()
        tiers.append(PriceTier(first=int(first), last=int(last or first), price=int(price.replace(",", ""))))
    return tiers


def seat_prices(*, seats: int, price: int | None = None, tiers: Sequence[PriceTier] = ()) -> dict[int, int]:
    """The price of each seat 1..`seats`: its tier's if a tier covers it, else `price`.

    ValidationFailed when the count is out of range, a price is not positive, a tier runs past
    the last seat or overlaps another, or a seat is left with no price (no `price` and no tier).
    """
    if not 1 <= seats <= MAX_SEATS_PER_DATE:
        raise ValidationFailed(f"A date has 1 to {MAX_SEATS_PER_DATE} seats, not {seats}.")
    if price is not None and price < 1:
        raise ValidationFailed("A price is a positive number of won.")
    prices: dict[int, int] = {}
    for tier in tiers:
        if tier.price < 1:
            raise ValidationFailed(f"Tier {tier}: a price is a positive number of won.")
        if not 1 <= tier.first <= tier.last <= seats:
            raise ValidationFailed(f"Tier {tier}: seats run from 1 to {seats}, first to last.")
        overlap = sorted(n for n in range(tier.first, tier.last + 1) if n in prices)
        if overlap:
            raise ValidationFailed(f"Tier {tier}: seat {overlap[0]} already has a price from another tier.")
        prices |= dict.fromkeys(range(tier.first, tier.last + 1), tier.price)
    unpriced = [n for n in range(1, seats + 1) if n not in prices]
    if unpriced and price is None:
        raise ValidationFailed(f"Seat {unpriced[0]} has no price: give a price for the seats no tier covers.")
    return prices | dict.fromkeys(unpriced, price)


def _seats_put(*, concert_date: ConcertDate, prices: dict[int, int]) -> SeatsGenerated:
    """Give the date these seats at these prices: the missing ones are created, the others
    repriced (a hold or sale keeps the price it was made at); seats are never removed."""
    # Two staff generating the same date at once would both insert the missing seats: the
    # second waits here and then finds them. NO KEY: a hold's insert does not wait for it.
    ConcertDate.objects.select_for_update(no_key=True).filter(pk=concert_date.pk).first()
    existing = {seat.number: seat for seat in concert_date.seats.all()}
    Seat.objects.bulk_create(
        Seat(concert_date=concert_date, number=number, price=price)
        for number, price in sorted(prices.items())
        if number not in existing
    )
    repriced = [seat for number, seat in existing.items() if number in prices and seat.price != prices[number]]
    for seat in repriced:
        seat.price = prices[seat.number]
    Seat.objects.bulk_update(repriced, ["price"])
    return SeatsGenerated(
        created=len(prices.keys() - existing.keys()),
        repriced=len(repriced),
        unchanged=len(prices.keys() & existing.keys()) - len(repriced),
        beyond=len(existing.keys() - prices.keys()),
    )


@transaction.atomic
def concert_dates_seats_generate(
    *, concert_date_ids: Sequence[int], seats: int, price: int | None = None, tiers: Sequence[PriceTier] = ()
) -> list[tuple[ConcertDate, SeatsGenerated]]:
    """Give these dates (with their concerts, by concert and date) seats 1..`seats`, priced by
    `tiers` and otherwise `price` (`seat_prices`), all or nothing. Idempotent: a second run
    with the same arguments changes nothing."""
    prices = seat_prices(seats=seats, price=price, tiers=tiers)
    dates = ConcertDate.objects.filter(pk__in=concert_date_ids).select_related("concert").order_by("concert_id", "date")
    return [(concert_date, _seats_put(concert_date=concert_date, prices=prices)) for concert_date in dates]


def concert_seats_generate(
    *,
    concert_id: int,
    seats: int,
    price: int | None = None,
    tiers: Sequence[PriceTier] = (),
    only_dates_without_seats: bool = True,
) -> list[tuple[ConcertDate, SeatsGenerated]]:
    """`concert_dates_seats_generate` for the concert's dates: by default only those that have no
    seats yet (new dates), else every date (which reprices their seats)."""
    dates = ConcertDate.objects.filter(concert_id=concert_id)
    if only_dates_without_seats:
        dates = dates.filter(seats__isnull=True)
    return concert_dates_seats_generate(
        concert_date_ids=list(dates.values_list("pk", flat=True)), seats=seats, price=price, tiers=tiers
    )


@transaction.atomic
def concert_seed(
    *, title: str, venue: str, dates: list[dt.date], seats: int, price: int, tiers: Sequence[PriceTier] = ()
) -> Concert:
    """Create or update a concert so it has these dates, each with seats 1..`seats` at `price`
    (or their tier's price).

    Idempotent: a second run with the same arguments changes nothing. Existing seats get the
    new price (a hold or sale keeps the price it was made at); seats are never removed.
    """
    prices = seat_prices(seats=seats, price=price, tiers=tiers)
    concert, _ = Concert.objects.get_or_create(title=title, venue=venue)
    for date in sorted(set(dates)):
        concert_date, _ = ConcertDate.objects.get_or_create(concert=concert, date=date)
        _seats_put(concert_date=concert_date, prices=prices)
    return concert


# --- calling a date off, and booking against it (apps.common.locking: a date before reservations) ---

# The ORM has no FOR KEY SHARE; SQLite (the demo) has no row locks, and its IMMEDIATE
# transactions already run one writer at a time.
_DATE_CANCELLED_AT = f"SELECT cancelled_at FROM {ConcertDate._meta.db_table} WHERE id = %s"


def concert_date_lock_for_booking(*, concert_date_id: int) -> bool:
    """Whether the date is still on sale (not called off), with its row locked FOR KEY SHARE until
    the caller's transaction ends. Bookings share the lock; `concert_date_close` (FOR UPDATE)
    waits for them and then sees what they booked, or they wait for it and see the date closed."""
    sql = _DATE_CANCELLED_AT + (" FOR KEY SHARE" if connection.features.has_select_for_update else "")
    row = fetch_one(sql, [concert_date_id])
    return row is not None and row[0] is None


def concert_date_close(*, concert_date_id: int, now: dt.datetime) -> ConcertDate:
    """Call the date off (cancelled_at), once: a date already closed keeps its first time. Locks
    the row FOR UPDATE until the caller's transaction ends, so no booking of the date runs
    meanwhile. DATE_NOT_FOUND if there is no such date. Must run inside the caller's transaction."""
    found = lock_rows(ConcertDate.objects.filter(pk=concert_date_id)) if is_storable_id(concert_date_id) else []
    if not found:
        raise DateNotFound()
    (concert_date,) = found
    if concert_date.cancelled_at is None:
        concert_date.cancelled_at = now
        concert_date.save(update_fields=["cancelled_at"])
    return concert_date
