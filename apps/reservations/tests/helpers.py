"""Helpers shared by the booking tests (reservations and payments)."""

from apps.concerts.models import ConcertDate

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
