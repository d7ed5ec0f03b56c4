"""The bodies of the dates list and the seat map, kept in Redis for at most a second."""

import datetime as dt
import json

import pytest
from django.utils import timezone

from apps.accounts.tests.factories import UserFactory
from apps.common.redis import get_redis
from apps.concerts.tests.factories import date_with_seats
from apps.payments.services import concert_date_cancel
from apps.reservations.availability import (
    bookable_dates_json,
    dates_key,
    seat_map_json,
    seat_map_key,
)
from apps.reservations.services import reservation_hold
from apps.reservations.tests.factories import ReservationFactory

pytestmark = pytest.mark.django_db


def seats_of(body: bytes) -> dict[int, bool]:
    return {seat["number"]: seat["available"] for seat in json.loads(body)["seats"]}


def ttl_ms(key: str) -> int:
    return get_redis().pttl(key)


def read_map(concert_date, now=None) -> bytes:
    now = now or timezone.now()
    return seat_map_json(concert_id=concert_date.concert_id, date=concert_date.date, now=now)


def test_a_body_is_kept_for_at_most_a_second_and_served_without_sql(concert_date, django_assert_num_queries):
    first = read_map(concert_date)

    assert 0 < ttl_ms(seat_map_key(concert_id=concert_date.concert_id, date=concert_date.date)) <= 1000
    with django_assert_num_queries(0):
        assert read_map(concert_date) == first


def test_a_body_lapses_no_later_than_the_first_hold_it_shows(concert_date):
    now = timezone.now()
    ReservationFactory(seat=concert_date.seats.get(number=2), expires_at=now + dt.timedelta(milliseconds=300))

    assert seats_of(read_map(concert_date, now))[2] is False
    assert ttl_ms(seat_map_key(concert_id=concert_date.concert_id, date=concert_date.date)) <= 300


def test_holding_a_seat_drops_the_bodies_that_show_it(concert_date):
    now = timezone.now()
    today = timezone.localdate(now)
    read_map(concert_date)
    bookable_dates_json(concert_id=concert_date.concert_id, today=today, now=now)

    reservation_hold(user=UserFactory(), concert_id=concert_date.concert_id, date=concert_date.date, seat_number=7)

    assert not get_redis().exists(seat_map_key(concert_id=concert_date.concert_id, date=concert_date.date))
    assert not get_redis().exists(dates_key(concert_id=concert_date.concert_id, today=today))
    assert seats_of(read_map(concert_date))[7] is False
    dates = json.loads(bookable_dates_json(concert_id=concert_date.concert_id, today=today, now=timezone.now()))
    assert dates["dates"][0]["available_seats"] == 9


def test_on_a_date_before_today_no_seat_is_available():
    closed = date_with_seats(seats=3, date=timezone.localdate() - dt.timedelta(days=1))

    assert seats_of(read_map(closed)) == {1: False, 2: False, 3: False}


def test_on_a_date_called_off_no_seat_is_available_and_the_date_is_not_listed(concert_date):
    open_date = date_with_seats(seats=2, concert=concert_date.concert, date=concert_date.date + dt.timedelta(days=1))
    concert_date.cancelled_at = timezone.now()
    concert_date.save(update_fields=["cancelled_at"])
    now = timezone.now()

    assert not any(seats_of(read_map(concert_date)).values())
    listed = json.loads(bookable_dates_json(concert_id=concert_date.concert_id, today=timezone.localdate(now), now=now))
    assert listed["dates"] == [{"date": open_date.date.isoformat(), "available_seats": 2}]


def test_the_dates_body_is_the_contracts(concert_date):
    now = timezone.now()
    ReservationFactory(seat=concert_date.seats.get(number=1), confirmed=True)

    body = json.loads(bookable_dates_json(concert_id=concert_date.concert_id, today=timezone.localdate(now), now=now))

    assert body == {
        "concert_id": concert_date.concert_id,
        "dates": [{"date": concert_date.date.isoformat(), "available_seats": 9}],
    }


def test_the_dates_body_lapses_when_a_hold_on_a_sold_out_date_lapses():
    now = timezone.now()
    full = date_with_seats(seats=1, date=timezone.localdate(now) + dt.timedelta(days=3))
    ReservationFactory(seat=full.seats.get(), expires_at=now + dt.timedelta(milliseconds=300))
    open_day = date_with_seats(concert=full.concert, seats=2, date=timezone.localdate(now) + dt.timedelta(days=4))

    body = json.loads(bookable_dates_json(concert_id=full.concert_id, today=timezone.localdate(now), now=now))

    assert [day["date"] for day in body["dates"]] == [open_day.date.isoformat()]  # the full date is not listed...
    assert ttl_ms(dates_key(concert_id=full.concert_id, today=timezone.localdate(now))) <= 300  # ...for long


def test_calling_off_a_date_without_a_reservation_drops_its_kept_bodies(
    concert_date, django_capture_on_commit_callbacks
):
    read_map(concert_date)

    with django_capture_on_commit_callbacks(execute=True):
        concert_date_cancel(concert_date_id=concert_date.pk)

    assert not get_redis().exists(seat_map_key(concert_id=concert_date.concert_id, date=concert_date.date))
    assert set(seats_of(read_map(concert_date)).values()) == {False}
