"""What the crowd reads between holds: a concert's bookable dates and a date's seat map, as
the JSON bodies the API serves, kept in the shared store for at most a second.

Everyone admitted reads the same few bodies over and over, so one request per second per body
runs the query and the rest (Django's view, or the edge in front of it) take the bytes from
Redis. A body never outlives a hold it shows: it expires no later than the first hold on it
lapses. A hold or release drops the bodies it changes once its transaction has committed; a
reader that computed a body just before that may put it back for what is left of its second,
so a seat can look free for up to a second after someone took it (holding it then answers 409).
"""

import datetime as dt
import json
import logging

from apps.common.redis import UNAVAILABLE as STORE_UNAVAILABLE
from apps.common.redis import get_redis
from apps.reservations.selectors import open_dates, seat_map

MAX_AGE = dt.timedelta(seconds=1)
logger = logging.getLogger(__name__)


def seat_map_key(*, concert_id: int, date: dt.date) -> str:
    return f"avail:seats:{concert_id}:{date.isoformat()}"


def dates_key(*, concert_id: int, today: dt.date) -> str:
    return f"avail:dates:{concert_id}:{today.isoformat()}"


def _encode(body: dict) -> bytes:
    return json.dumps(body, separators=(",", ":")).encode()


def _keep(key: str, body: bytes, *, now: dt.datetime, next_lapse: dt.datetime | None) -> None:
    lifetime = MAX_AGE if next_lapse is None else min(MAX_AGE, next_lapse - now)
    milliseconds = int(lifetime / dt.timedelta(milliseconds=1))
    if milliseconds > 0:
        get_redis().set(key, body, px=milliseconds)


def seat_map_json(*, concert_id: int, date: dt.date, now: dt.datetime) -> bytes:
    """{"concert_id", "date", "seats": [{"number", "price", "available"}]}; on a closed date
    (before today, or called off) no seat is available."""
    key = seat_map_key(concert_id=concert_id, date=date)
    cached = get_redis().get(key)
    if cached is not None:
        return cached
    seats = seat_map(concert_id=concert_id, date=date, now=now)
    body = _encode(
        {
            "concert_id": concert_id,
            "date": date.isoformat(),
            "seats": [
                {"number": seat["number"], "price": seat["price"], "available": seat["available"]} for seat in seats
            ],
        }
    )
    holds = [seat["held_until"] for seat in seats if seat["held_until"] is not None]
    _keep(key, body, now=now, next_lapse=min(holds, default=None))
    return body


def bookable_dates_json(*, concert_id: int, today: dt.date, now: dt.datetime) -> bytes:
    """{"concert_id", "dates": [{"date", "available_seats"}]}: today or later, ascending."""
    key = dates_key(concert_id=concert_id, today=today)
    cached = get_redis().get(key)
    if cached is not None:
        return cached
    dates = open_dates(concert_id=concert_id, today=today, now=now)
    bookable = [day for day in dates if day.available_seats > 0]
    body = _encode(
        {
            "concert_id": concert_id,
            "dates": [{"date": day.date.isoformat(), "available_seats": day.available_seats} for day in bookable],
        }
    )
    # Every date's first lapse, the sold-out ones' too: that lapse lists them again.
    lapses = [day.next_lapse for day in dates if day.next_lapse is not None]
    _keep(key, body, now=now, next_lapse=min(lapses, default=None))
    return body


def availability_changed(*, concert_id: int, date: dt.date, today: dt.date) -> None:
    """A seat of this date was taken or given back: drop the bodies that show it. Called after
    the change committed, so a Redis that is down must not fail the request (its client would
    retry a hold it has): the bodies lapse within MAX_AGE anyway."""
    try:
        get_redis().delete(
            seat_map_key(concert_id=concert_id, date=date), dates_key(concert_id=concert_id, today=today)
        )
    except STORE_UNAVAILABLE as error:
        logger.warning("availability: could not drop the kept bodies of %s %s: %s", concert_id, date, error)
