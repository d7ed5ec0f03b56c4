"""The admitted crowd's two reads, answered in front of Django (see concert_booking/edge.py):
a concert's bookable dates and a date's seat map, for a token that holds an ACTIVE slot, from
the bodies apps.reservations.availability keeps in Redis. One round trip reads both the slot
and the body; anything else (no body kept just now, a token not ACTIVE in the line, a bad id or
date) goes on to the API view, which answers it and keeps the body for the next second."""

import datetime as dt

from django.utils import timezone

from apps.common.errors import InvalidDate
from apps.common.fields import parse_concert_date, positive_int_or_none
from apps.common.redis import UNAVAILABLE as STORE_UNAVAILABLE
from apps.common.redis import get_redis
from apps.queue import line
from apps.queue.edge import entry_id_from_header
from apps.reservations.availability import dates_key, seat_map_key

DATES_PATH = r"/api/v1/concerts/(?P<concert_id>[0-9]+)/dates"
SEATS_PATH = r"/api/v1/concerts/(?P<concert_id>[0-9]+)/dates/(?P<date>[0-9-]+)/seats"


def _kept_body(environ: dict, key_of) -> bytes | None:
    entry_id = entry_id_from_header(environ)
    if entry_id is None:
        return None
    now = timezone.now()
    pipe = get_redis().pipeline(transaction=False)
    line.slot_queue(pipe=pipe, entry_id=entry_id)
    pipe.get(key_of(timezone.localdate(now)))
    try:
        score, body = pipe.execute()
    except STORE_UNAVAILABLE:
        return None
    slot_ends = line.slot_from_reply(score)
    if slot_ends is None or slot_ends <= now:
        return None
    return body


def dates_body(environ: dict, *, concert_id: str) -> bytes | None:
    concert = positive_int_or_none(concert_id)
    if concert is None:
        return None
    return _kept_body(environ, lambda today: dates_key(concert_id=concert, today=today))


def seats_body(environ: dict, *, concert_id: str, date: str) -> bytes | None:
    concert = positive_int_or_none(concert_id)
    try:
        day: dt.date = parse_concert_date(date)
    except InvalidDate:
        return None
    if concert is None:
        return None
    return _kept_body(environ, lambda today: seat_map_key(concert_id=concert, date=day))
