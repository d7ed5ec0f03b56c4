"""Staff set a sale up from nothing on the concert's admin page: the concert, its dates, and
each date's seats generated in one step."""

import datetime as dt

import pytest
from django.urls import reverse
from django.utils import timezone

from apps.concerts.models import Concert, ConcertDate, Seat
from apps.concerts.tests.factories import ConcertFactory, date_with_seats

pytestmark = pytest.mark.django_db

ADD = reverse("admin:concerts_concert_add")
DAY = timezone.localdate() + dt.timedelta(days=30)


def concert_form(*, dates=(), existing=(), **fields) -> dict:
    """The concert page's POST: its fields, the seat fields, and the dates inline."""
    rows = [*existing, *({"date": d.isoformat()} for d in dates)]
    data = {
        "title": "IU Golden Hour",
        "venue": "Olympic Hall",
        "seats": "50",
        "price": "",
        "tiers": "",
        "seat_dates": "new",
        "dates-TOTAL_FORMS": str(len(rows)),
        "dates-INITIAL_FORMS": str(len(existing)),
        "dates-MIN_NUM_FORMS": "0",
        "dates-MAX_NUM_FORMS": "1000",
        "_save": "Save",
    }
    for n, row in enumerate(rows):
        data |= {f"dates-{n}-{key}": value for key, value in row.items()}
    return data | fields


def prices(concert_date) -> dict[int, int]:
    return dict(Seat.objects.filter(concert_date=concert_date).values_list("number", "price"))


def test_a_sale_is_set_up_from_nothing_on_one_page(admin_client):
    response = admin_client.post(
        ADD,
        concert_form(dates=[DAY, DAY + dt.timedelta(days=1)], price="150000", tiers="1-10: 200,000"),
        follow=True,
    )

    assert response.status_code == 200
    concert = Concert.objects.get()
    dates = list(ConcertDate.objects.filter(concert=concert))
    assert [d.date for d in dates] == [DAY, DAY + dt.timedelta(days=1)]
    for concert_date in dates:
        assert prices(concert_date) == {n: 200_000 if n <= 10 else 150_000 for n in range(1, 51)}
    assert "Seats generated." in response.text
    assert f"IU Golden Hour on {DAY.isoformat()}: 50 seat(s) created, 0 repriced" in response.text


def test_without_a_price_the_seats_are_left_alone(admin_client):
    response = admin_client.post(ADD, concert_form(dates=[DAY]))

    assert response.status_code == 302
    assert ConcertDate.objects.count() == 1
    assert not Seat.objects.exists()


@pytest.mark.parametrize(
    "fields, error",
    [
        ({"price": "150000", "tiers": "1-10 200000"}, "Cannot read the price tier"),
        ({"price": "150000", "tiers": "1-60: 5"}, "seats run from 1 to 50"),
        ({"tiers": "1-10: 5"}, "Seat 11 has no price"),
        ({"price": "150000", "seats": "51"}, "Ensure this value is less than or equal to 50."),
    ],
)
def test_a_bad_generation_is_explained_and_nothing_is_saved(admin_client, fields, error):
    response = admin_client.post(ADD, concert_form(dates=[DAY], **fields))

    assert response.status_code == 200
    assert error in response.text
    assert not Concert.objects.exists()


def test_a_new_date_gets_seats_the_others_keep_theirs(admin_client):
    concert = ConcertFactory()
    old = date_with_seats(concert=concert, seats=50, price=100_000)
    change = reverse("admin:concerts_concert_change", args=[concert.pk])
    existing = [{"id": str(old.pk), "concert": str(concert.pk), "date": old.date.isoformat()}]

    response = admin_client.post(
        change,
        concert_form(existing=existing, dates=[old.date + dt.timedelta(days=1)], title=concert.title, price="90000"),
    )

    assert response.status_code == 302
    new = ConcertDate.objects.exclude(pk=old.pk).get()
    assert set(prices(old).values()) == {100_000}
    assert set(prices(new).values()) == {90_000}

    admin_client.post(
        change,
        concert_form(
            existing=[*existing, {"id": str(new.pk), "concert": str(concert.pk), "date": new.date.isoformat()}],
            title=concert.title,
            price="80000",
            seat_dates="all",
        ),
    )

    assert set(prices(old).values()) == set(prices(new).values()) == {80_000}
    assert Seat.objects.count() == 100


def test_the_concert_page_shows_each_date_s_seats_in_a_line(admin_client):
    concert = ConcertFactory()
    date_with_seats(concert=concert, seats=50, price=150_000)
    Seat.objects.filter(number__lte=10).update(price=200_000)

    response = admin_client.get(reverse("admin:concerts_concert_change", args=[concert.pk]))

    assert response.status_code == 200
    assert "50 at ₩150,000 to ₩200,000" in response.text


def test_the_concert_list_counts_dates_in_one_query(admin_client, django_assert_max_num_queries):
    for _ in range(3):
        date_with_seats(seats=1)

    with django_assert_max_num_queries(8):
        response = admin_client.get(reverse("admin:concerts_concert_changelist"))

    assert response.status_code == 200
    assert [row.date_total for row in response.context["cl"].result_list] == [1, 1, 1]
