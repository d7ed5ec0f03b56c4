import io

import pytest
from django.core.management import CommandError, call_command
from django.db import IntegrityError, transaction

from apps.concerts.models import Concert, ConcertDate, Seat
from apps.concerts.tests.factories import ConcertDateFactory

pytestmark = pytest.mark.django_db

ARGS = ["--title", "T", "--venue", "V", "--dates", "2027-01-10", "2027-01-11", "--seats", "50", "--price", "150000"]


def seed(*args) -> str:
    out = io.StringIO()
    call_command("seed_concert", *args, stdout=out)
    return out.getvalue()


def snapshot():
    return sorted(Seat.objects.values_list("concert_date__concert_id", "concert_date__date", "number", "price"))


def test_seed_concert_creates_dates_and_seats_and_prints_the_id_last():
    output = seed(*ARGS)

    concert = Concert.objects.get()
    assert output.strip().splitlines()[-1] == str(concert.pk)
    assert (concert.title, concert.venue) == ("T", "V")
    assert [str(d) for d in ConcertDate.objects.values_list("date", flat=True)] == ["2027-01-10", "2027-01-11"]
    assert Seat.objects.count() == 100
    assert set(Seat.objects.values_list("number", flat=True)) == set(range(1, 51))


def test_seed_concert_twice_changes_nothing():
    first = seed(*ARGS)
    before = snapshot()

    second = seed(*ARGS)

    assert first.splitlines()[-1] == second.splitlines()[-1]
    assert snapshot() == before
    assert Concert.objects.count() == 1


def test_seed_concert_updates_prices_and_adds_dates():
    seed(*ARGS)

    seed("--title", "T", "--venue", "V", "--dates", "2027-01-12", "--seats", "50", "--price", "99000")

    assert ConcertDate.objects.count() == 3
    assert set(Seat.objects.filter(concert_date__date="2027-01-12").values_list("price", flat=True)) == {99000}


@pytest.mark.parametrize(
    "bad",
    [["--seats", "51"], ["--seats", "0"], ["--price", "0"], ["--dates", "2027-13-01"], ["--dates", "20270110"]],
)
def test_seed_concert_refuses_bad_arguments(bad):
    args = dict(zip(ARGS[::2], ARGS[1::2], strict=False))
    args.update({bad[0]: bad[1]})
    flat = [item for pair in args.items() for item in pair]

    with pytest.raises((CommandError, SystemExit)):
        seed(*flat)
    assert Concert.objects.count() == 0


@pytest.mark.parametrize("number", [0, 51])
def test_the_database_keeps_seat_numbers_in_1_to_50(number):
    concert_date = ConcertDateFactory()

    with pytest.raises(IntegrityError), transaction.atomic():
        Seat.objects.create(concert_date=concert_date, number=number, price=1000)


def test_a_concert_plays_once_per_day():
    concert_date = ConcertDateFactory()

    with pytest.raises(IntegrityError), transaction.atomic():
        ConcertDate.objects.create(concert=concert_date.concert, date=concert_date.date)


def test_seed_concert_prices_seat_ranges_by_tier():
    seed(*ARGS, "--tiers", "1-10: 200,000; 11-20: 180000")

    prices = dict(Seat.objects.filter(concert_date__date="2027-01-10").values_list("number", "price"))
    assert [prices[1], prices[10], prices[11], prices[20], prices[21], prices[50]] == [
        200_000,
        200_000,
        180_000,
        180_000,
        150_000,
        150_000,
    ]


@pytest.mark.parametrize("tiers", ["1-10 200000", "1-60: 5"])
def test_seed_concert_refuses_tiers_it_cannot_use(tiers):
    with pytest.raises(CommandError):
        seed(*ARGS, "--tiers", tiers)
    assert Concert.objects.count() == 0
