import pytest
from django.urls import reverse
from django.utils import timezone

from apps.accounts.models import User
from apps.accounts.tests.factories import UserFactory
from apps.concerts.models import Concert
from apps.concerts.tests.factories import date_with_seats
from apps.reservations.models import Reservation
from apps.reservations.services import reservation_hold
from apps.reservations.tests.factories import ReservationFactory
from apps.reservations.tests.helpers import seat_taken

pytestmark = pytest.mark.django_db

Status = Reservation.Status
RESERVATION_CHANGELIST = reverse("admin:reservations_reservation_changelist")
DATE_CHANGELIST = reverse("admin:concerts_concertdate_changelist")


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

    def test_change_page_lists_the_seats(self, admin_client, concert_date, reservations):
        response = admin_client.get(reverse("admin:concerts_concertdate_change", args=[concert_date.pk]))

        assert response.status_code == 200
        assert response.context["inline_admin_formsets"][0].formset.queryset.count() == 10

    def test_search_and_filter(self, admin_client, concert_date):
        date_with_seats(seats=1)

        by_title = admin_client.get(DATE_CHANGELIST, {"q": concert_date.concert.title})
        by_concert = admin_client.get(DATE_CHANGELIST, {"concert__id__exact": concert_date.concert_id})

        assert listed(by_title) == listed(by_concert) == {concert_date.pk}
