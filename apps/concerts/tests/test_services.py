"""Seats generated in one step, by the one service the admin and `seed_concert` share."""

import pytest

from apps.common.errors import ValidationFailed
from apps.concerts.models import Seat
from apps.concerts.services import (
    PriceTier,
    SeatsGenerated,
    concert_dates_seats_generate,
    concert_seats_generate,
    price_tiers_parse,
    seat_prices,
)
from apps.concerts.tests.factories import ConcertDateFactory, ConcertFactory, date_with_seats
from apps.reservations.tests.factories import ReservationFactory

pytestmark = pytest.mark.django_db


def prices_of(concert_date) -> dict[int, int]:
    return dict(Seat.objects.filter(concert_date=concert_date).values_list("number", "price"))


class TestPriceTiers:
    @pytest.mark.parametrize(
        "text",
        [
            "1-10: 200000, 11-50: 150000",
            "1-10: 200,000, 11-50: 150,000",
            "1 - 10 = ₩200,000; 11-50: 150000원",
            "1-10: 200000\n11-50: 150000\n",
        ],
    )
    def test_as_staff_type_them(self, text):
        assert price_tiers_parse(text) == [PriceTier(1, 10, 200_000), PriceTier(11, 50, 150_000)]

    def test_a_single_seat_and_nothing(self):
        assert price_tiers_parse("7: 90000") == [PriceTier(7, 7, 90_000)]
        assert price_tiers_parse("  ") == []

    @pytest.mark.parametrize("text", ["1-10 200000", "1-10: cheap", "a-b: 1", "1-10: 200000, 11-"])
    def test_what_cannot_be_read_is_named(self, text):
        with pytest.raises(ValidationFailed, match="Cannot read the price tier"):
            price_tiers_parse(text)

    def test_tiers_override_the_price_for_their_seats(self):
        prices = seat_prices(seats=5, price=100, tiers=[PriceTier(1, 2, 300)])

        assert prices == {1: 300, 2: 300, 3: 100, 4: 100, 5: 100}

    @pytest.mark.parametrize(
        "seats, price, tiers, message",
        [
            (0, 100, [], "1 to 50 seats"),
            (51, 100, [], "1 to 50 seats"),
            (10, 0, [], "positive"),
            (10, 100, [PriceTier(1, 11, 5)], "seats run from 1 to 10"),
            (10, 100, [PriceTier(5, 2, 5)], "seats run from 1 to 10"),
            (10, 100, [PriceTier(1, 5, 5), PriceTier(5, 6, 7)], "seat 5 already has a price"),
            (10, None, [PriceTier(1, 9, 5)], "Seat 10 has no price"),
            (10, None, [], "Seat 1 has no price"),
        ],
    )
    def test_refused(self, seats, price, tiers, message):
        with pytest.raises(ValidationFailed, match=message):
            seat_prices(seats=seats, price=price, tiers=tiers)


class TestGenerate:
    def test_a_new_date_gets_its_seats_priced_by_tier(self):
        concert_date = ConcertDateFactory()

        [(generated_date, result)] = concert_dates_seats_generate(
            concert_date_ids=[concert_date.pk], seats=50, price=150_000, tiers=[PriceTier(1, 10, 200_000)]
        )

        assert generated_date == concert_date
        assert result == SeatsGenerated(created=50, repriced=0, unchanged=0, beyond=0)
        assert prices_of(concert_date) == {n: 200_000 if n <= 10 else 150_000 for n in range(1, 51)}

    def test_generating_again_changes_nothing(self):
        concert_date = ConcertDateFactory()
        concert_dates_seats_generate(concert_date_ids=[concert_date.pk], seats=50, price=150_000)
        before = list(Seat.objects.filter(concert_date=concert_date).values_list("pk", "number", "price"))

        [(_, result)] = concert_dates_seats_generate(concert_date_ids=[concert_date.pk], seats=50, price=150_000)

        assert result == SeatsGenerated(created=0, repriced=0, unchanged=50, beyond=0)
        assert list(Seat.objects.filter(concert_date=concert_date).values_list("pk", "number", "price")) == before

    def test_more_seats_and_new_prices_keep_what_was_sold_at_its_price(self):
        concert_date = date_with_seats(seats=20, price=100_000)
        sold = ReservationFactory(seat=concert_date.seats.get(number=3), confirmed=True)

        [(_, result)] = concert_dates_seats_generate(concert_date_ids=[concert_date.pk], seats=30, price=120_000)

        assert result == SeatsGenerated(created=10, repriced=20, unchanged=0, beyond=0)
        assert set(prices_of(concert_date).values()) == {120_000}
        sold.refresh_from_db()
        assert sold.price == 100_000

    def test_fewer_seats_never_removes_one(self):
        concert_date = date_with_seats(seats=20, price=100_000)

        [(_, result)] = concert_dates_seats_generate(concert_date_ids=[concert_date.pk], seats=10, price=100_000)

        assert result == SeatsGenerated(created=0, repriced=0, unchanged=10, beyond=10)
        assert len(prices_of(concert_date)) == 20

    def test_a_refused_generation_changes_nothing(self):
        dates = [ConcertDateFactory(), ConcertDateFactory()]

        with pytest.raises(ValidationFailed):
            concert_dates_seats_generate(concert_date_ids=[d.pk for d in dates], seats=60, price=1)

        assert not Seat.objects.exists()

    def test_a_concert_s_new_dates_only_unless_told_every_date(self):
        concert = ConcertFactory()
        old = date_with_seats(concert=concert, seats=50, price=100_000)
        new = ConcertDateFactory(concert=concert, date=old.date.replace(year=old.date.year + 1))

        first = concert_seats_generate(concert_id=concert.pk, seats=50, price=90_000)
        every = concert_seats_generate(concert_id=concert.pk, seats=50, price=80_000, only_dates_without_seats=False)

        assert [concert_date for concert_date, _ in first] == [new]
        assert [concert_date for concert_date, _ in every] == [old, new]
        assert set(prices_of(old).values()) == set(prices_of(new).values()) == {80_000}
