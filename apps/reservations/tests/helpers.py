"""Helpers shared by the booking tests (reservations and payments)."""

import datetime as dt

from apps.concerts.models import ConcertDate, Seat
from apps.reservations.selectors import seat_for_hold

RESERVATIONS = "/api/v1/reservations"
PRICE = 150_000


def assert_problem(response, status: int, code: str) -> dict:
    """An RFC 9457 problem with this status and code; returns its body."""
    assert response.status_code == status, response.content
    assert response["Content-Type"] == "application/problem+json"
    body = response.json()
    assert (body["status"], body["code"]) == (status, code)
    assert body["title"] and body["detail"] and body["type"]
    return body


def hold_body(concert_date: ConcertDate, seat_number: int) -> dict:
    return {"concert_id": concert_date.concert_id, "date": concert_date.date.isoformat(), "seat_number": seat_number}


def dates_url(concert_id) -> str:
    return f"/api/v1/concerts/{concert_id}/dates"


def seats_url(concert_id, date) -> str:
    return f"/api/v1/concerts/{concert_id}/dates/{date}/seats"


def seat_taken(seat: Seat, now: dt.datetime) -> bool:
    """Whether a hold of this seat at `now` would find it taken (the query holds run first)."""
    date = seat.concert_date
    return seat_for_hold(concert_id=date.concert_id, date=date.date, seat_number=seat.number, now=now)[1] is not None
