"""Races on PostgreSQL with real threads: every thread has its own connection and transaction."""

from collections import Counter

import pytest
from django.conf import settings
from django.utils import timezone

from apps.accounts.tests.factories import UserFactory
from apps.common.tests.fixtures import client_with_queue_token
from apps.common.tests.threads import run_in_threads
from apps.concerts.tests.factories import date_with_seats
from apps.queue.tests.factories import QueueEntryFactory
from apps.reservations.models import Reservation
from apps.reservations.services import holds_sweep
from apps.reservations.tests.factories import ReservationFactory
from apps.reservations.tests.helpers import RESERVATIONS, hold_body

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.concurrency]

Status = Reservation.Status


def booking_clients(count: int) -> list:
    return [client_with_queue_token(QueueEntryFactory(active=True)) for _ in range(count)]


def hold_outcomes(clients, bodies) -> Counter:
    """(status, code) of each client's hold, all sent at once."""

    def post(index: int) -> tuple[int, str | None]:
        response = clients[index].post(RESERVATIONS, bodies[index], format="json")
        return response.status_code, response.json().get("code")

    return Counter(run_in_threads(post, len(clients)))


def test_fifty_users_race_for_one_seat_exactly_one_wins():
    concert_date = date_with_seats(seats=1)
    clients = booking_clients(50)

    outcomes = hold_outcomes(clients, [hold_body(concert_date, 1)] * 50)

    assert outcomes == {(201, None): 1, (409, "SEAT_UNAVAILABLE"): 49}
    assert Reservation.objects.filter(status=Status.HELD).count() == 1


def test_racing_for_a_seat_whose_hold_lapsed_exactly_one_wins():
    concert_date = date_with_seats(seats=1)
    lapsed = ReservationFactory(seat=concert_date.seats.get(), lapsed=True)
    clients = booking_clients(20)

    outcomes = hold_outcomes(clients, [hold_body(concert_date, 1)] * 20)

    assert outcomes == {(201, None): 1, (409, "SEAT_UNAVAILABLE"): 19}
    lapsed.refresh_from_db()
    assert lapsed.status == Status.EXPIRED
    assert Reservation.objects.filter(status=Status.HELD).count() == 1


def test_one_user_holding_many_seats_at_once_stops_at_the_limit():
    concert_date = date_with_seats(seats=12)
    user = UserFactory()
    entry = QueueEntryFactory(user=user, active=True)
    clients = [client_with_queue_token(entry) for _ in range(12)]

    outcomes = hold_outcomes(clients, [hold_body(concert_date, n) for n in range(1, 13)])

    limit = settings.MAX_HOLDS_PER_USER
    assert outcomes == {(201, None): limit, (409, "HOLD_LIMIT_REACHED"): 12 - limit}
    assert Reservation.objects.filter(user=user, status=Status.HELD).count() == limit


def test_concurrent_sweeps_mark_each_lapsed_hold_once():
    concert_date = date_with_seats(seats=40)
    seats = list(concert_date.seats.all())
    for seat in seats[:30]:
        ReservationFactory(seat=seat, lapsed=True)
    for seat in seats[30:]:
        ReservationFactory(seat=seat)

    swept = run_in_threads(lambda _: holds_sweep(batch_size=4), 4)

    assert sum(swept) == 30
    assert Counter(Reservation.objects.values_list("status", flat=True)) == {Status.EXPIRED: 30, Status.HELD: 10}


def test_sweeping_while_users_rehold_lapsed_seats():
    concert_date = date_with_seats(seats=20)
    for seat in concert_date.seats.all():
        ReservationFactory(seat=seat, lapsed=True)
    clients = booking_clients(20)

    def work(index: int):
        if index % 5 == 0:
            return holds_sweep(batch_size=3)
        response = clients[index].post(RESERVATIONS, hold_body(concert_date, index + 1), format="json")
        return response.status_code

    results = run_in_threads(work, 20)

    holds = [result for index, result in enumerate(results) if index % 5]
    assert holds == [201] * 16
    assert not any(isinstance(result, BaseException) for result in results)
    assert holds_sweep() == 0
    assert not Reservation.objects.filter(status=Status.HELD, expires_at__lte=timezone.now()).exists()
    assert Reservation.objects.filter(status=Status.HELD).count() == 16
