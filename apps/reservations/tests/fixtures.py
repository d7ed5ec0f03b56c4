"""Fixtures for the booking tests (reservations and payments)."""

import pytest

from apps.concerts.models import ConcertDate
from apps.concerts.tests.factories import date_with_seats
from apps.reservations.tests.helpers import PRICE


@pytest.fixture
def concert_date(db) -> ConcertDate:
    """A date 30 days ahead with seats 1..10 at PRICE."""
    return date_with_seats(seats=10, price=PRICE)
