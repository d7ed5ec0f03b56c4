"""Helpers shared by the booking tests (reservations and payments)."""

import threading
from collections.abc import Callable
from typing import TypeVar

from django.db import connection

from apps.concerts.models import ConcertDate

RESERVATIONS = "/api/v1/reservations"
PRICE = 150_000
JOIN_TIMEOUT_SECONDS = 60
T = TypeVar("T")


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


def run_in_threads(worker: Callable[[int], T], count: int) -> list[T | BaseException]:
    """Start `count` threads, line them up on a barrier so they collide, run `worker(index)`
    in each, and return each result or the exception it raised, in index order.

    Each thread has its own database connection, so callers need `django_db(transaction=True)`:
    the setup must be committed for the workers to see it."""
    barrier = threading.Barrier(count)
    results: list = [None] * count

    def run(index: int) -> None:
        try:
            barrier.wait(timeout=JOIN_TIMEOUT_SECONDS)
            results[index] = worker(index)
        except BaseException as exc:  # reported to the test, which decides what is allowed
            results[index] = exc
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(index,)) for index in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(JOIN_TIMEOUT_SECONDS)
    assert not any(thread.is_alive() for thread in threads), "a worker hung (deadlock?)"
    return results
