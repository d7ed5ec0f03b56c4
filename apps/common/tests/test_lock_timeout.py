"""A lock wait longer than the lock timeout is a clean, retryable 503, never a 500 or an endless wait."""

import threading

import pytest
from django.db import connection, transaction
from prometheus_client import REGISTRY

from apps.accounts.models import User
from apps.common.tests.fixtures import client_with_queue_token
from apps.concerts.tests.factories import date_with_seats
from apps.queue.tests.factories import QueueEntryFactory
from apps.reservations.models import Reservation

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.concurrency]


def test_a_hold_that_waits_too_long_for_a_lock_is_a_503_and_changes_nothing():
    concert_date = date_with_seats(seats=1)
    entry = QueueEntryFactory(active=True)
    locked, release = threading.Event(), threading.Event()

    def hold_the_users_row():
        try:
            with transaction.atomic():
                User.objects.select_for_update().get(pk=entry.user_id)
                locked.set()
                release.wait(timeout=10)
        finally:
            connection.close()

    lock_timeouts = {"name": "concert_unavailable_responses_total", "labels": {"cause": "lock_timeout"}}
    counted_before = REGISTRY.get_sample_value(**lock_timeouts) or 0
    blocker = threading.Thread(target=hold_the_users_row)
    blocker.start()
    try:
        assert locked.wait(timeout=10)
        with connection.cursor() as cursor:
            cursor.execute("SET lock_timeout = '200ms'")
        response = client_with_queue_token(entry).post(
            "/api/v1/reservations",
            {"concert_id": concert_date.concert_id, "date": str(concert_date.date), "seat_number": 1},
            format="json",
        )
    finally:
        release.set()
        blocker.join()
        with connection.cursor() as cursor:
            cursor.execute("RESET lock_timeout")

    assert response.status_code == 503
    assert response["Content-Type"] == "application/problem+json"
    assert response.json()["code"] == "SERVICE_UNAVAILABLE"
    assert response["Retry-After"] == "1"
    assert not Reservation.objects.exists()
    assert REGISTRY.get_sample_value(**lock_timeouts) == counted_before + 1  # in /metrics
