import re

import pytest
from django.contrib.auth.models import Permission
from django.urls import reverse
from django.utils import timezone

from apps.accounts.models import User
from apps.accounts.tests.factories import UserFactory
from apps.concerts.models import Concert, Seat
from apps.concerts.tests.factories import ConcertDateFactory, date_with_seats
from apps.reservations.models import Reservation
from apps.reservations.services import reservation_hold
from apps.reservations.tests.factories import ReservationFactory
from apps.reservations.tests.helpers import seat_taken

pytestmark = pytest.mark.django_db

Status = Reservation.Status
RESERVATION_CHANGELIST = reverse("admin:reservations_reservation_changelist")
DATE_CHANGELIST = reverse("admin:concerts_concertdate_changelist")
GENERATE = reverse("admin:concerts_concertdate_generate_seats")


@pytest.fixture
def reservations(concert_date):
    seats = {seat.number: seat for seat in concert_date.seats.all()}
    return {
        "held": ReservationFactory(seat=seats[1], user=UserFactory(username="hana")),
        "lapsed": ReservationFactory(seat=seats[2], lapsed=True),
        "expired": ReservationFactory(seat=seats[3], expired=True),
        "confirmed": ReservationFactory(seat=seats[4], confirmed=True),
    }


def listed(response) -> set[int]:
    assert response.status_code == 200
    return {obj.pk for obj in response.context["cl"].result_list}


class TestReservationAdmin:
    def test_changelist(self, admin_client, reservations):
        response = admin_client.get(RESERVATION_CHANGELIST)

        assert listed(response) == {r.pk for r in reservations.values()}

    @pytest.mark.parametrize(
        "status, expected",
        [("HELD", {"held"}), ("EXPIRED", {"lapsed", "expired"}), ("CONFIRMED", {"confirmed"})],
    )
    def test_status_filter_is_the_status_users_see(self, admin_client, reservations, status, expected):
        response = admin_client.get(RESERVATION_CHANGELIST, {"status": status})

        assert listed(response) == {reservations[name].pk for name in expected}

    def test_shown_status_of_a_lapsed_hold_is_expired(self, admin_client, reservations):
        response = admin_client.get(RESERVATION_CHANGELIST, {"status": "EXPIRED"})

        model_admin = response.context["cl"].model_admin
        assert model_admin.shown_status(reservations["lapsed"]) == Status.EXPIRED

    @pytest.mark.parametrize("term", ["hana", "not a number", "99999999999999999999999"])
    def test_search(self, admin_client, reservations, term):
        response = admin_client.get(RESERVATION_CHANGELIST, {"q": term})

        assert listed(response) == ({reservations["held"].pk} if term == "hana" else set())

    def test_search_by_id(self, admin_client, reservations):
        # The search also looks in usernames and concert titles: none may contain the id's digits.
        no_digits = str.maketrans("0123456789", "abcdefghij")
        for user in User.objects.all():
            User.objects.filter(pk=user.pk).update(username=user.username.translate(no_digits))
        Concert.objects.update(title="Gala")

        response = admin_client.get(RESERVATION_CHANGELIST, {"q": str(reservations["confirmed"].pk)})

        assert listed(response) == {reservations["confirmed"].pk}

    def test_release_action_frees_the_seat(self, admin_client, reservations, concert_date):
        held, confirmed = reservations["held"], reservations["confirmed"]

        response = admin_client.post(
            RESERVATION_CHANGELIST,
            {"action": "release_holds", "_selected_action": [held.pk, confirmed.pk]},
            follow=True,
        )

        assert response.status_code == 200
        assert "Released 1 hold(s)." in response.content.decode()
        held.refresh_from_db()
        confirmed.refresh_from_db()
        assert (held.status, confirmed.status) == (Status.EXPIRED, Status.CONFIRMED)
        assert not seat_taken(held.seat, timezone.now())
        again = reservation_hold(
            user=UserFactory(), concert_id=concert_date.concert_id, date=concert_date.date, seat_number=1
        )
        assert again.status == Status.HELD

    def test_change_page_and_no_add_or_delete(self, admin_client, reservations):
        held = reservations["held"]

        assert admin_client.get(reverse("admin:reservations_reservation_change", args=[held.pk])).status_code == 200
        assert admin_client.get(reverse("admin:reservations_reservation_add")).status_code == 403
        assert admin_client.get(reverse("admin:reservations_reservation_delete", args=[held.pk])).status_code == 403


class TestConcertDateAdmin:
    def test_free_held_sold_counts(self, admin_client, concert_date, reservations):
        # Rows that used to hold a seat must not inflate its counts: seat 4 was held and
        # let lapse twice before it sold; seat 5 lapsed twice and is free.
        seat4, seat5 = concert_date.seats.get(number=4), concert_date.seats.get(number=5)
        ReservationFactory.create_batch(2, seat=seat4, expired=True)
        ReservationFactory.create_batch(2, seat=seat5, expired=True)
        other = date_with_seats(seats=3)
        ReservationFactory(seat=other.seats.get(number=1), confirmed=True)

        response = admin_client.get(DATE_CHANGELIST)

        assert response.status_code == 200
        cl = response.context["cl"]
        model_admin = cl.model_admin
        counts = {
            row.pk: (model_admin.seat_total(row), model_admin.free(row), model_admin.held(row), model_admin.sold(row))
            for row in cl.result_list
        }
        assert counts == {concert_date.pk: (10, 8, 1, 1), other.pk: (3, 2, 0, 1)}

    def test_the_date_page_shows_its_seats_as_a_grid(self, admin_client, concert_date, reservations):
        concert_date.seats.filter(number__gt=5).update(price=90_000)

        response = admin_client.get(reverse("admin:concerts_concertdate_change", args=[concert_date.pk]))

        assert response.status_code == 200
        assert response.context["inline_admin_formsets"] == []  # not one form per seat
        page = response.text
        states = re.findall(r'<span class="seat (\w+)" role="listitem" data-seat="(\d+)"', page)
        assert [(int(number), state) for state, number in states] == [
            (1, "held"),
            (2, "free"),  # a lapsed hold
            (3, "free"),
            (4, "sold"),
            *((n, "free") for n in range(5, 11)),
        ]
        assert "free 8" in page and "held 1" in page and "sold 1" in page
        assert "seats 1-5 ₩150,000 · seats 6-10 ₩90,000" in page

    def test_a_date_without_seats_says_how_to_get_them(self, admin_client):
        concert_date = ConcertDateFactory()

        response = admin_client.get(reverse("admin:concerts_concertdate_change", args=[concert_date.pk]))

        assert 'No seats yet: use "Generate seats" above.' in response.text
        assert reverse("admin:concerts_concertdate_generate_seats") + f"?ids={concert_date.pk}" in response.text

    def test_search_and_filter(self, admin_client, concert_date):
        date_with_seats(seats=1)

        by_title = admin_client.get(DATE_CHANGELIST, {"q": concert_date.concert.title})
        by_concert = admin_client.get(DATE_CHANGELIST, {"concert__id__exact": concert_date.concert_id})

        assert listed(by_title) == listed(by_concert) == {concert_date.pk}


class TestGenerateSeats:
    """The "Generate seats" action on dates: a form first, then the seats, idempotently."""

    def test_the_action_asks_for_count_and_price_first(self, admin_client):
        dates = [ConcertDateFactory(), ConcertDateFactory()]

        response = admin_client.post(
            DATE_CHANGELIST, {"action": "generate_seats", "_selected_action": [d.pk for d in dates]}, follow=True
        )

        assert response.status_code == 200
        assert response.redirect_chain[0][0] == GENERATE + f"?ids={dates[0].pk}%2C{dates[1].pk}"
        assert [row.concert_date for row in response.context["dates"]] == dates
        assert not Seat.objects.exists()

    def test_generating_gives_each_date_its_seats_once(self, admin_client):
        dates = [ConcertDateFactory(), ConcertDateFactory()]
        url = GENERATE + "?ids=" + ",".join(str(d.pk) for d in dates)
        form = {"seats": "50", "price": "150000", "tiers": "1-10: 200000"}

        first = admin_client.post(url, form, follow=True)
        again = admin_client.post(url, form, follow=True)

        assert first.redirect_chain[-1][0] == DATE_CHANGELIST
        assert "50 seat(s) created, 0 repriced" in first.text
        assert "0 seat(s) created, 0 repriced, 50 already so" in again.text
        for concert_date in dates:
            prices = dict(concert_date.seats.values_list("number", "price"))
            assert prices == {n: 200_000 if n <= 10 else 150_000 for n in range(1, 51)}

    def test_one_date_goes_back_to_its_page(self, admin_client):
        concert_date = ConcertDateFactory()

        response = admin_client.post(GENERATE + f"?ids={concert_date.pk}", {"seats": "20", "price": "99000"})

        assert response["Location"] == reverse("admin:concerts_concertdate_change", args=[concert_date.pk])
        assert concert_date.seats.count() == 20

    @pytest.mark.parametrize(
        "form, error",
        [
            ({"seats": "50"}, "Give a price, price tiers, or both."),
            ({"seats": "10", "price": "1", "tiers": "5-11: 3"}, "seats run from 1 to 10"),
            ({"seats": "0", "price": "1"}, "Ensure this value is greater than or equal to 1."),
        ],
    )
    def test_a_bad_form_is_explained_and_changes_nothing(self, admin_client, form, error):
        concert_date = ConcertDateFactory()

        response = admin_client.post(GENERATE + f"?ids={concert_date.pk}", form)

        assert response.status_code == 200
        assert error in response.text
        assert not Seat.objects.exists()

    @pytest.mark.parametrize("ids", ["", "x,-1", "99999999"])
    def test_no_date_chosen_goes_back_to_the_list(self, admin_client, ids):
        response = admin_client.get(GENERATE + f"?ids={ids}")

        assert response["Location"] == DATE_CHANGELIST

    def test_staff_who_may_only_look_cannot_generate(self, client, concert_date):
        viewer = UserFactory(is_staff=True)
        viewer.user_permissions.add(Permission.objects.get(codename="view_concertdate"))
        client.force_login(viewer)

        response = client.post(GENERATE + f"?ids={concert_date.pk}", {"seats": "50", "price": "1"})

        assert response.status_code == 403
        assert concert_date.seats.count() == 10
