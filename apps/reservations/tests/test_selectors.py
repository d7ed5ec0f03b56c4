import datetime as dt

import pytest
from django.utils import timezone

from apps.accounts.tests.factories import UserFactory
from apps.concerts.errors import ConcertNotFound, DateNotFound
from apps.concerts.tests.factories import ConcertFactory, date_with_seats
from apps.reservations.errors import ReservationNotFound
from apps.reservations.selectors import (
    bookable_dates,
    hold_allowance,
    holds_report,
    live_hold_count,
    reservation_get,
    reservation_list,
    reservations_of,
    seat_map,
)
from apps.reservations.tests.factories import ReservationFactory
from apps.reservations.tests.helpers import seat_taken

pytestmark = pytest.mark.django_db


def _dates(concert_id: int) -> list[tuple[dt.date, int]]:
    now = timezone.now()
    return [
        (d.date, d.available_seats)
        for d in bookable_dates(concert_id=concert_id, today=timezone.localdate(now), now=now)
    ]


def _days(n: int) -> dt.date:
    return timezone.localdate() + dt.timedelta(days=n)


class TestBookableDates:
    def test_today_or_later_with_free_seats_ascending_with_counts(self):
        concert = ConcertFactory()
        later = date_with_seats(concert=concert, date=_days(20), seats=3)
        today = date_with_seats(concert=concert, date=_days(0), seats=2)
        date_with_seats(concert=concert, date=_days(-1), seats=5)  # past: never bookable
        sold_out = date_with_seats(concert=concert, date=_days(5), seats=2)
        for seat in sold_out.seats.all():
            ReservationFactory(seat=seat, confirmed=True)
        date_with_seats(concert=ConcertFactory(), date=_days(3), seats=4)  # another concert

        assert _dates(concert.pk) == [(today.date, 2), (later.date, 3)]

    def test_counts_subtract_sold_and_live_holds_only(self, concert_date):
        seats = list(concert_date.seats.order_by("number"))
        ReservationFactory(seat=seats[0], confirmed=True)
        ReservationFactory(seat=seats[1])
        ReservationFactory(seat=seats[2], lapsed=True)  # free by time, though not yet swept
        ReservationFactory(seat=seats[3], expired=True)

        assert _dates(concert_date.concert_id) == [(concert_date.date, 8)]

    def test_a_date_whose_last_hold_lapsed_is_bookable_again(self):
        concert_date = date_with_seats(seats=1)
        ReservationFactory(seat=concert_date.seats.get(), lapsed=True)

        assert _dates(concert_date.concert_id) == [(concert_date.date, 1)]

    def test_a_date_held_out_entirely_is_not_listed(self):
        concert_date = date_with_seats(seats=2)
        for seat in concert_date.seats.all():
            ReservationFactory(seat=seat)

        assert _dates(concert_date.concert_id) == []

    def test_unknown_concert(self):
        with pytest.raises(ConcertNotFound):
            _dates(987_654)

    @pytest.mark.parametrize("date_count", [1, 12])
    def test_constant_number_of_queries(self, date_count, django_assert_num_queries):
        concert = ConcertFactory()
        for n in range(date_count):
            concert_date = date_with_seats(concert=concert, date=_days(n + 1), seats=5)
            ReservationFactory(seat=concert_date.seats.first())

        with django_assert_num_queries(1):  # the dates with their counts (the concert only when none)
            assert len(_dates(concert.pk)) == date_count


class TestSeatMap:
    def test_every_seat_ascending_with_whether_it_is_taken(self, concert_date):
        seats = {seat.number: seat for seat in concert_date.seats.all()}
        ReservationFactory(seat=seats[2], confirmed=True)
        ReservationFactory(seat=seats[4])
        ReservationFactory(seat=seats[6], lapsed=True)
        ReservationFactory(seat=seats[8], expired=True)
        for number in (2, 4):  # ended reservations beside the live one: still one row per seat
            ReservationFactory(seat=seats[number], expired=True)

        result = seat_map(concert_id=concert_date.concert_id, date=concert_date.date, now=timezone.now())

        assert [seat["number"] for seat in result] == list(range(1, 11))
        statuses = {seat["number"]: seat["booking_status"] for seat in result if seat["booking_status"]}
        assert statuses == {2: "CONFIRMED", 4: "HELD"}

    def test_a_hold_is_taken_until_the_instant_it_expires(self, concert_date):
        reservation = ReservationFactory(seat=concert_date.seats.get(number=1))
        seat = reservation.seat

        assert seat_taken(seat, reservation.expires_at - dt.timedelta(microseconds=1))
        assert not seat_taken(seat, reservation.expires_at)

    def test_unknown_concert_and_date(self, concert_date):
        with pytest.raises(ConcertNotFound):
            seat_map(concert_id=987_654, date=concert_date.date, now=timezone.now())
        with pytest.raises(DateNotFound):
            seat_map(concert_id=concert_date.concert_id, date=_days(400), now=timezone.now())

    @pytest.mark.parametrize("seat_count", [1, 50])
    def test_constant_number_of_queries(self, seat_count, django_assert_num_queries):
        concert_date = date_with_seats(seats=seat_count)
        for seat in concert_date.seats.all()[::2]:
            ReservationFactory(seat=seat)

        with django_assert_num_queries(1):  # the seats of the date, with their status
            seats = seat_map(concert_id=concert_date.concert_id, date=concert_date.date, now=timezone.now())
            assert len(seats) == seat_count


class TestHoldCount:
    def test_counts_only_live_holds(self, user, concert_date):
        seats = list(concert_date.seats.all())
        ReservationFactory(user=user, seat=seats[0])
        ReservationFactory(user=user, seat=seats[1], lapsed=True)
        ReservationFactory(user=user, seat=seats[2], expired=True)
        ReservationFactory(user=user, seat=seats[3], confirmed=True)
        ReservationFactory(seat=seats[4])  # someone else's

        assert live_hold_count(user=user, now=timezone.now()) == 1

    def test_the_allowance_is_the_limit_less_the_live_holds(self, user, concert_date, settings):
        settings.MAX_HOLDS_PER_USER = 2
        seats = list(concert_date.seats.all())
        ReservationFactory(user=user, seat=seats[0])
        ReservationFactory(user=user, seat=seats[1], lapsed=True)

        allowance = hold_allowance(user=user, now=timezone.now())

        assert (allowance.limit, allowance.held, allowance.left) == (2, 1, 1)
        ReservationFactory(user=user, seat=seats[2])
        assert hold_allowance(user=user, now=timezone.now()).left == 0

    def test_the_report_splits_the_listed_holds_into_live_and_released(self, user, concert_date):
        seats = list(concert_date.seats.order_by("number"))
        live = ReservationFactory(user=user, seat=seats[1])
        lapsed = ReservationFactory(user=user, seat=seats[2], lapsed=True)
        swept = ReservationFactory(user=user, seat=seats[3], expired=True)
        paid = ReservationFactory(user=user, seat=seats[4], confirmed=True)
        theirs = ReservationFactory(seat=seats[5])
        unlisted = ReservationFactory(user=user, seat=seats[6])

        report = holds_report(
            user=user, reservation_ids=[r.pk for r in (live, lapsed, swept, paid, theirs)], now=timezone.now()
        )

        assert report.live == [live]
        assert report.lapsed == [lapsed, swept]
        assert unlisted not in report.live


class TestReservationReads:
    def test_list_is_the_users_own_newest_first(self, user, concert_date):
        seats = list(concert_date.seats.all())
        first = ReservationFactory(user=user, seat=seats[0], expired=True)
        second = ReservationFactory(user=user, seat=seats[1])
        ReservationFactory(seat=seats[2])

        assert list(reservation_list(user=user)) == [second, first]

    def test_listed_ones_are_the_users_own_by_date_and_seat(self, user, concert_date):
        later = date_with_seats(concert=concert_date.concert, date=concert_date.date + dt.timedelta(days=1), seats=2)
        seats = list(concert_date.seats.order_by("number"))
        mine = [
            ReservationFactory(user=user, seat=later.seats.get(number=1)),
            ReservationFactory(user=user, seat=seats[4], confirmed=True),
            ReservationFactory(user=user, seat=seats[0], expired=True),
        ]
        theirs = ReservationFactory(seat=seats[1])

        listed = reservations_of(user=user, reservation_ids=[r.pk for r in [*mine, theirs]])

        assert listed == [mine[2], mine[1], mine[0]]

    def test_get_own(self, user, concert_date):
        reservation = ReservationFactory(user=user, seat=concert_date.seats.first())

        assert reservation_get(user=user, reservation_id=reservation.pk) == reservation

    @pytest.mark.parametrize("reservation_id", [0, -1, 2**63, 10**30])
    def test_impossible_ids_are_not_found(self, user, reservation_id):
        with pytest.raises(ReservationNotFound):
            reservation_get(user=user, reservation_id=reservation_id)

    def test_another_users_reservation_is_not_found(self, concert_date):
        reservation = ReservationFactory(seat=concert_date.seats.first())

        with pytest.raises(ReservationNotFound):
            reservation_get(user=UserFactory(), reservation_id=reservation.pk)
