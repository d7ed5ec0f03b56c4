"""The hold rule is written once, in three forms (a Q, an SQL fragment, Python): they agree."""

import datetime as dt

import pytest
from django.db import connection
from django.utils import timezone

from apps.concerts.tests.factories import date_with_seats
from apps.reservations.models import Reservation, Status, taken_q, taken_sql
from apps.reservations.tests.factories import ReservationFactory

pytestmark = pytest.mark.django_db

# Every stored status, with an expiry just before, at and just after `now`.
CASES = [(status, microseconds) for status in Status for microseconds in (-1, 0, 1)]


@pytest.fixture
def now() -> dt.datetime:
    return timezone.now()


@pytest.fixture
def reservations(now) -> list[Reservation]:
    seats = list(date_with_seats(seats=len(CASES)).seats.order_by("number"))
    return [
        ReservationFactory(
            seat=seat,
            status=status,
            expires_at=now + dt.timedelta(microseconds=microseconds),
            confirmed_at=now if status == Status.CONFIRMED else None,
            cancelled_at=now if status == Status.CANCELLED else None,
        )
        for seat, (status, microseconds) in zip(seats, CASES, strict=True)
    ]


def taken_by_sql(now: dt.datetime) -> set[int]:
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT r.id FROM {Reservation._meta.db_table} r WHERE {taken_sql(alias='r', now='%(now)s')}",
            {"now": connection.ops.adapt_datetimefield_value(now)},
        )
        return {row[0] for row in cursor.fetchall()}


def test_a_seat_is_taken_by_the_same_reservations_in_sql_in_the_orm_and_in_python(reservations, now):
    in_python = {r.pk for r in reservations if r.effective_status(now) in (Status.HELD, Status.CONFIRMED)}

    assert set(Reservation.objects.filter(taken_q(now)).values_list("pk", flat=True)) == in_python
    assert taken_by_sql(now) == in_python
    assert len(in_python) == 4  # the confirmed ones, and the hold that lapses after now


@pytest.mark.parametrize("status", Status.values)
def test_filtering_by_the_status_users_see_matches_each_rows_status(reservations, now, status):
    expected = {r.pk for r in reservations if r.effective_status(now) == status}

    assert set(Reservation.objects.with_effective_status(status, now).values_list("pk", flat=True)) == expected


def test_a_hold_lapses_at_its_expiry_not_after(reservations, now):
    live = set(Reservation.objects.live_holds(now).values_list("pk", flat=True))
    lapsed = set(Reservation.objects.lapsed_holds(now).values_list("pk", flat=True))

    held = [r for r in reservations if r.status == Status.HELD]
    assert live == {r.pk for r in held if r.expires_at > now}
    assert lapsed == {r.pk for r in held if r.expires_at <= now}
