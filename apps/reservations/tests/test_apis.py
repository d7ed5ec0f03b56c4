import datetime as dt

import pytest
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from apps.accounts.tests.factories import UserFactory
from apps.common.fields import MAX_BIGINT
from apps.common.tests.fixtures import client_with_key, client_with_queue_token
from apps.concerts.tests.factories import ConcertFactory, date_with_seats
from apps.queue.models import QueueEntry
from apps.queue.tests.factories import QueueEntryFactory
from apps.reservations.models import Reservation
from apps.reservations.tests.factories import ReservationFactory
from apps.reservations.tests.helpers import (
    PRICE,
    RESERVATIONS,
    assert_problem,
    dates_url,
    hold_body,
    seats_url,
)

pytestmark = pytest.mark.django_db

Status = Reservation.Status
IMPOSSIBLE_PATH_IDS = ["0", "-1", "abc", "1.5", "²", "١", str(MAX_BIGINT + 1), "9" * 40, "9" * 5000]


def _days(n: int) -> dt.date:
    return timezone.localdate() + dt.timedelta(days=n)


class TestBookingCredentials:
    """Every booking endpoint needs an ACTIVE queue token, checked before anything else."""

    @pytest.fixture
    def requests(self, concert_date):
        return [
            ("get", dates_url(concert_date.concert_id), None),
            ("get", seats_url(concert_date.concert_id, concert_date.date), None),
            ("post", RESERVATIONS, hold_body(concert_date, 1)),
            ("post", RESERVATIONS, {"seat_number": "not even valid"}),
        ]

    def test_missing_token(self, api_client, requests):
        for method, url, body in requests:
            assert_problem(getattr(api_client, method)(url, body, format="json"), 401, "QUEUE_TOKEN_MISSING")

    def test_unknown_token(self, api_client, requests):
        api_client.credentials(HTTP_X_QUEUE_TOKEN="made-up")
        for method, url, body in requests:
            assert_problem(getattr(api_client, method)(url, body, format="json"), 401, "QUEUE_TOKEN_INVALID")

    def test_waiting_token(self, requests):
        client = client_with_queue_token(QueueEntryFactory())
        for method, url, body in requests:
            assert_problem(getattr(client, method)(url, body, format="json"), 403, "QUEUE_TOKEN_NOT_ACTIVE")

    def test_ended_token(self, requests, user):
        entry = QueueEntryFactory(user=user, status=QueueEntry.Status.EXPIRED, ended_at=timezone.now())
        client = client_with_queue_token(entry)
        for method, url, body in requests:
            assert_problem(getattr(client, method)(url, body, format="json"), 401, "QUEUE_TOKEN_EXPIRED")

    def test_an_api_key_is_not_a_queue_token(self, user_client, requests):
        for method, url, body in requests:
            assert_problem(getattr(user_client, method)(url, body, format="json"), 401, "QUEUE_TOKEN_MISSING")
        assert not Reservation.objects.exists()


class TestDates:
    def test_bookable_dates_with_free_seat_counts_ascending(self, booking_client):
        concert = ConcertFactory()
        later = date_with_seats(concert=concert, date=_days(9), seats=4)
        soon = date_with_seats(concert=concert, date=_days(0), seats=3)
        date_with_seats(concert=concert, date=_days(-1), seats=3)
        full = date_with_seats(concert=concert, date=_days(2), seats=1)
        ReservationFactory(seat=full.seats.get())
        ReservationFactory(seat=later.seats.get(number=1), confirmed=True)
        ReservationFactory(seat=later.seats.get(number=2), lapsed=True)

        response = booking_client.get(dates_url(concert.pk))

        assert response.status_code == 200
        assert response.json() == {
            "concert_id": concert.pk,
            "dates": [
                {"date": soon.date.isoformat(), "available_seats": 3},
                {"date": later.date.isoformat(), "available_seats": 3},
            ],
        }

    def test_a_concert_without_bookable_dates_is_an_empty_list(self, booking_client):
        concert = ConcertFactory()

        assert booking_client.get(dates_url(concert.pk)).json() == {"concert_id": concert.pk, "dates": []}

    @pytest.mark.parametrize("concert_id", ["987654", *IMPOSSIBLE_PATH_IDS])
    def test_unknown_concert(self, booking_client, concert_id):
        assert_problem(booking_client.get(dates_url(concert_id)), 404, "CONCERT_NOT_FOUND")

    @pytest.mark.parametrize("date_count", [1, 15])
    def test_constant_number_of_queries(self, booking_client, date_count, django_assert_num_queries):
        concert = ConcertFactory()
        for n in range(date_count):
            concert_date = date_with_seats(concert=concert, date=_days(n), seats=4)
            ReservationFactory(seat=concert_date.seats.first())

        with django_assert_num_queries(2):  # the token, then the dates with their counts
            response = booking_client.get(dates_url(concert.pk))
        assert len(response.json()["dates"]) == date_count


class TestSeats:
    def test_every_seat_ascending_with_availability(self, booking_client, concert_date):
        ReservationFactory(seat=concert_date.seats.get(number=3))
        ReservationFactory(seat=concert_date.seats.get(number=5), confirmed=True)
        ReservationFactory(seat=concert_date.seats.get(number=7), lapsed=True)

        response = booking_client.get(seats_url(concert_date.concert_id, concert_date.date))

        assert response.status_code == 200
        assert response.json() == {
            "concert_id": concert_date.concert_id,
            "date": concert_date.date.isoformat(),
            "seats": [{"number": n, "price": PRICE, "available": n not in (3, 5)} for n in range(1, 11)],
        }

    @pytest.mark.parametrize(
        "date",
        [
            "2027-13-01",
            "2027-02-30",
            "2027-1-1",
            "27-01-10",
            "tomorrow",
            "20270110",
            "2027-W02-1",
            "２０２７-０１-１０",
        ],
    )
    def test_invalid_date(self, booking_client, concert_date, date):
        assert_problem(booking_client.get(seats_url(concert_date.concert_id, date)), 400, "INVALID_DATE")

    def test_unknown_date(self, booking_client, concert_date):
        url = seats_url(concert_date.concert_id, concert_date.date + dt.timedelta(days=1))
        assert_problem(booking_client.get(url), 404, "DATE_NOT_FOUND")

    @pytest.mark.parametrize("concert_id", ["987654", *IMPOSSIBLE_PATH_IDS])
    def test_unknown_concert(self, booking_client, concert_date, concert_id):
        assert_problem(booking_client.get(seats_url(concert_id, concert_date.date)), 404, "CONCERT_NOT_FOUND")

    @pytest.mark.parametrize("seat_count", [1, 50])
    def test_constant_number_of_queries(self, booking_client, seat_count, django_assert_num_queries):
        concert_date = date_with_seats(seats=seat_count)
        for seat in concert_date.seats.all()[::3]:
            ReservationFactory(seat=seat)

        with django_assert_num_queries(2):  # the token, then the seats of the date with their status
            response = booking_client.get(seats_url(concert_date.concert_id, concert_date.date))
        assert len(response.json()["seats"]) == seat_count


class TestHold:
    def test_a_rush_loser_is_answered_after_two_queries(self, booking_client, concert_date, django_assert_num_queries):
        ReservationFactory(seat=concert_date.seats.get(number=4))

        with django_assert_num_queries(2):  # the token, then the seat with its status: no transaction
            response = booking_client.post(RESERVATIONS, hold_body(concert_date, 4), format="json")

        assert_problem(response, 409, "SEAT_UNAVAILABLE")

    def test_holds_the_seat(self, booking_client, user, concert_date):
        before = timezone.now()

        response = booking_client.post(RESERVATIONS, hold_body(concert_date, 4), format="json")

        assert response.status_code == 201
        body = response.json()
        reservation = Reservation.objects.get()
        assert set(body) == {"id", "concert_id", "date", "seat_number", "price", "status", "expires_at"}
        assert body["id"] == reservation.pk
        assert body["concert_id"] == concert_date.concert_id
        assert body["date"] == concert_date.date.isoformat()
        assert (body["seat_number"], body["price"], body["status"]) == (4, PRICE, "HELD")
        expires_at = parse_datetime(body["expires_at"])
        assert expires_at.utcoffset() is not None
        assert expires_at == reservation.expires_at
        assert before + dt.timedelta(seconds=300) <= expires_at <= timezone.now() + dt.timedelta(seconds=300)
        assert (reservation.user, reservation.seat.number, reservation.status) == (user, 4, Status.HELD)

    def test_the_seat_then_shows_unavailable(self, booking_client, concert_date):
        booking_client.post(RESERVATIONS, hold_body(concert_date, 4), format="json")

        seats = booking_client.get(seats_url(concert_date.concert_id, concert_date.date)).json()["seats"]
        assert [seat["number"] for seat in seats if not seat["available"]] == [4]
        dates = booking_client.get(dates_url(concert_date.concert_id)).json()["dates"]
        assert dates == [{"date": concert_date.date.isoformat(), "available_seats": 9}]

    @pytest.mark.parametrize("trait", [{}, {"confirmed": True}])
    def test_a_taken_seat_is_unavailable(self, booking_client, user, concert_date, trait):
        ReservationFactory(seat=concert_date.seats.get(number=4), **trait)

        response = booking_client.post(RESERVATIONS, hold_body(concert_date, 4), format="json")

        assert_problem(response, 409, "SEAT_UNAVAILABLE")
        assert not Reservation.objects.filter(user=user).exists()

    def test_a_lapsed_hold_can_be_held_again_before_any_sweep(self, booking_client, user, concert_date):
        lapsed = ReservationFactory(seat=concert_date.seats.get(number=4), lapsed=True)

        response = booking_client.post(RESERVATIONS, hold_body(concert_date, 4), format="json")

        assert response.status_code == 201
        assert Reservation.objects.get(pk=response.json()["id"]).user == user
        lapsed.refresh_from_db()
        assert lapsed.status == Status.EXPIRED

    def test_hold_limit(self, booking_client, user, concert_date, settings):
        settings.MAX_HOLDS_PER_USER = 3
        for number in (1, 2, 3):
            assert booking_client.post(RESERVATIONS, hold_body(concert_date, number), format="json").status_code == 201

        response = booking_client.post(RESERVATIONS, hold_body(concert_date, 4), format="json")

        assert_problem(response, 409, "HOLD_LIMIT_REACHED")
        assert Reservation.objects.filter(user=user).count() == 3

    def test_past_date_is_closed(self, booking_client):
        past = date_with_seats(seats=2, date=_days(-1))

        assert_problem(booking_client.post(RESERVATIONS, hold_body(past, 1), format="json"), 409, "DATE_CLOSED")
        assert not Reservation.objects.exists()

    def test_unknown_concert_date_seat(self, booking_client, concert_date):
        cases = [
            ({"concert_id": 987_654}, "CONCERT_NOT_FOUND"),
            ({"concert_id": MAX_BIGINT}, "CONCERT_NOT_FOUND"),
            ({"date": (concert_date.date + dt.timedelta(days=1)).isoformat()}, "DATE_NOT_FOUND"),
            ({"seat_number": 11}, "SEAT_NOT_FOUND"),
            ({"seat_number": 2**31 - 1}, "SEAT_NOT_FOUND"),
        ]
        for change, code in cases:
            body = {**hold_body(concert_date, 1), **change}
            assert_problem(booking_client.post(RESERVATIONS, body, format="json"), 404, code)
        assert not Reservation.objects.exists()

    @pytest.mark.parametrize(
        "field, value",
        [
            ("seat_number", "4"),
            ("seat_number", 4.0),
            ("seat_number", 4.5),
            ("seat_number", True),
            ("seat_number", None),
            ("seat_number", 0),
            ("seat_number", -1),
            ("seat_number", 2**31),
            ("seat_number", 10**30),
            ("seat_number", [4]),
            ("concert_id", "1"),
            ("concert_id", 1.0),
            ("concert_id", False),
            ("concert_id", 0),
            ("concert_id", MAX_BIGINT + 1),
            ("concert_id", 10**30),
            ("date", "2027/01/10"),
            ("date", "10-01-2027"),
            ("date", "2027-02-30"),
            ("date", "2030-1-5"),
            ("date", "２０３０-01-05"),
            ("date", "2027-01-10T00:00:00"),
            ("date", 20270110),
            ("date", None),
            ("date", ""),
        ],
    )
    def test_invalid_fields(self, booking_client, concert_date, field, value):
        body = {**hold_body(concert_date, 4), field: value}

        problem = assert_problem(booking_client.post(RESERVATIONS, body, format="json"), 400, "VALIDATION_ERROR")

        assert [error["field"] for error in problem["errors"]] == [field]
        assert not Reservation.objects.exists()

    @pytest.mark.parametrize("field", ["concert_id", "date", "seat_number"])
    def test_missing_field(self, booking_client, concert_date, field):
        body = hold_body(concert_date, 4)
        del body[field]

        problem = assert_problem(booking_client.post(RESERVATIONS, body, format="json"), 400, "VALIDATION_ERROR")

        assert problem["errors"] == [{"field": field, "message": "This field is required."}]

    @pytest.mark.parametrize(
        "raw", [b"{", b'{"concert_id": 1,}', b"", b"null", b"[]", b'"text"', b"42", b"\xff\xfe", b"NaN"]
    )
    def test_malformed_or_non_object_body(self, booking_client, raw):
        response = booking_client.post(RESERVATIONS, raw, content_type="application/json")

        assert_problem(response, 400, "VALIDATION_ERROR")
        assert not Reservation.objects.exists()

    def test_deeply_nested_json(self, booking_client):
        response = booking_client.post(RESERVATIONS, b"[" * 100_000, content_type="application/json")

        assert_problem(response, 400, "VALIDATION_ERROR")

    def test_not_json(self, booking_client, concert_date):
        response = booking_client.post(RESERVATIONS, hold_body(concert_date, 4), format="multipart")

        assert_problem(response, 415, "UNSUPPORTED_MEDIA_TYPE")


class TestMyReservations:
    def test_list_is_mine_newest_first_with_derived_status(self, user, user_client, concert_date):
        seats = {seat.number: seat for seat in concert_date.seats.all()}
        sold = ReservationFactory(user=user, seat=seats[1], confirmed=True)
        swept = ReservationFactory(user=user, seat=seats[2], expired=True)
        lapsed = ReservationFactory(user=user, seat=seats[3], lapsed=True)
        live = ReservationFactory(user=user, seat=seats[4])
        ReservationFactory(seat=seats[5])  # someone else's

        response = user_client.get(RESERVATIONS)

        assert response.status_code == 200
        body = response.json()
        assert body["count"] == 4
        assert [(r["id"], r["status"]) for r in body["results"]] == [
            (live.pk, "HELD"),
            (lapsed.pk, "EXPIRED"),  # still HELD in the table: no sweep ran
            (swept.pk, "EXPIRED"),
            (sold.pk, "CONFIRMED"),
        ]
        assert body["results"][0] == {
            "id": live.pk,
            "concert_id": concert_date.concert_id,
            "date": concert_date.date.isoformat(),
            "seat_number": 4,
            "price": PRICE,
            "status": "HELD",
            "expires_at": body["results"][0]["expires_at"],
        }
        assert parse_datetime(body["results"][0]["expires_at"]) == live.expires_at

    @pytest.mark.parametrize("count", [1, 8])
    def test_list_in_constant_queries(self, user, user_client, count, django_assert_num_queries):
        for _ in range(count):
            ReservationFactory(user=user, seat=date_with_seats(seats=1).seats.get())

        with django_assert_num_queries(3):  # the key, the count, the page
            assert len(user_client.get(RESERVATIONS).json()["results"]) == count

    def test_detail(self, user, user_client, concert_date):
        lapsed = ReservationFactory(user=user, seat=concert_date.seats.first(), lapsed=True)

        response = user_client.get(f"{RESERVATIONS}/{lapsed.pk}")

        assert response.status_code == 200
        assert (response.json()["id"], response.json()["status"]) == (lapsed.pk, "EXPIRED")

    def test_another_users_reservation_is_not_found(self, user_client, concert_date):
        theirs = ReservationFactory(seat=concert_date.seats.first())

        response = user_client.get(f"{RESERVATIONS}/{theirs.pk}")

        body = assert_problem(response, 404, "RESERVATION_NOT_FOUND")
        missing = assert_problem(user_client.get(f"{RESERVATIONS}/{theirs.pk + 1000}"), 404, "RESERVATION_NOT_FOUND")
        # Nothing tells "someone else's" from "no such reservation" (`instance` is each request's own).
        assert {**body, "instance": None} == {**missing, "instance": None}
        assert theirs.pk not in [r["id"] for r in user_client.get(RESERVATIONS).json()["results"]]

    @pytest.mark.parametrize("reservation_id", IMPOSSIBLE_PATH_IDS)
    def test_impossible_ids_are_not_found(self, user_client, reservation_id):
        assert_problem(user_client.get(f"{RESERVATIONS}/{reservation_id}"), 404, "RESERVATION_NOT_FOUND")

    def test_needs_an_api_key(self, api_client, booking_client, user, concert_date):
        reservation = ReservationFactory(user=user, seat=concert_date.seats.first())

        for client in (api_client, booking_client):
            assert_problem(client.get(RESERVATIONS), 401, "AUTHENTICATION_FAILED")
            assert_problem(client.get(f"{RESERVATIONS}/{reservation.pk}"), 401, "AUTHENTICATION_FAILED")
        api_client.credentials(HTTP_AUTHORIZATION="Token wrong")
        assert_problem(api_client.get(RESERVATIONS), 401, "AUTHENTICATION_FAILED")

    def test_a_hold_made_with_the_queue_token_is_listed_under_the_api_key(self, booking_client, user, concert_date):
        held = booking_client.post(RESERVATIONS, hold_body(concert_date, 2), format="json").json()

        listed = client_with_key(user).get(RESERVATIONS).json()["results"]

        assert listed == [held]
        assert client_with_key(UserFactory()).get(RESERVATIONS).json()["results"] == []

    def test_wrong_method(self, user_client, concert_date):
        reservation = ReservationFactory(seat=concert_date.seats.first())

        assert_problem(user_client.delete(f"{RESERVATIONS}/{reservation.pk}"), 405, "METHOD_NOT_ALLOWED")


class TestExpiresAt:
    """`expires_at` is when a HELD reservation's hold lapses, and null once it is not HELD."""

    def test_null_unless_held_in_the_list_and_the_detail(self, user, user_client, concert_date):
        seats = list(concert_date.seats.order_by("number"))
        live = ReservationFactory(user=user, seat=seats[0])
        others = [
            ReservationFactory(user=user, seat=seats[1], confirmed=True),
            ReservationFactory(user=user, seat=seats[2], expired=True),
            ReservationFactory(user=user, seat=seats[3], lapsed=True),  # HELD in the table, EXPIRED to users
            ReservationFactory(user=user, seat=seats[4], status=Status.CANCELLED, cancelled_at=timezone.now()),
        ]

        listed = {r["id"]: r for r in user_client.get(RESERVATIONS).json()["results"]}

        assert parse_datetime(listed[live.pk]["expires_at"]) == live.expires_at
        assert [(listed[r.pk]["status"], listed[r.pk]["expires_at"]) for r in others] == [
            ("CONFIRMED", None),
            ("EXPIRED", None),
            ("EXPIRED", None),
            ("CANCELLED", None),
        ]
        for reservation in others:
            assert user_client.get(f"{RESERVATIONS}/{reservation.pk}").json()["expires_at"] is None


class TestClosedDates:
    @pytest.fixture
    def called_off(self, concert_date):
        concert_date.cancelled_at = timezone.now()
        concert_date.save(update_fields=["cancelled_at"])
        return concert_date

    def test_a_date_called_off_shows_no_seat_available_and_is_not_listed(self, booking_client, called_off):
        seats = booking_client.get(seats_url(called_off.concert_id, called_off.date)).json()["seats"]
        dates = booking_client.get(dates_url(called_off.concert_id)).json()["dates"]

        assert len(seats) == 10 and not any(seat["available"] for seat in seats)
        assert dates == []

    def test_holding_a_seat_of_a_date_called_off_is_date_closed(self, booking_client, called_off):
        response = booking_client.post(RESERVATIONS, hold_body(called_off, 1), format="json")

        body = assert_problem(response, 409, "DATE_CLOSED")
        assert "called off" in body["detail"]
        assert not Reservation.objects.exists()


class TestSeatIsYours:
    """Re-holding a seat you hold or bought: the same 409 SEAT_UNAVAILABLE, words that say it is yours."""

    @pytest.mark.parametrize("trait", [{}, {"confirmed": True}], ids=["held", "bought"])
    def test_my_own_seat_says_so(self, booking_client, user, concert_date, trait):
        ReservationFactory(user=user, seat=concert_date.seats.get(number=4), **trait)
        ReservationFactory(seat=concert_date.seats.get(number=5), **trait)

        mine = assert_problem(
            booking_client.post(RESERVATIONS, hold_body(concert_date, 4), format="json"), 409, "SEAT_UNAVAILABLE"
        )
        theirs = assert_problem(
            booking_client.post(RESERVATIONS, hold_body(concert_date, 5), format="json"), 409, "SEAT_UNAVAILABLE"
        )

        assert mine["detail"].startswith("You already ")
        assert theirs["detail"] == "Someone else holds or bought this seat."
        assert mine["title"] == theirs["title"]
