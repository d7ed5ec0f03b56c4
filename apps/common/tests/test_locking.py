"""The services that lock rows of more than one kind take them in apps.common.locking's order."""

import re

import pytest
from django.apps import apps
from django.db import connection
from django.test.utils import CaptureQueriesContext

from apps.common.locking import LOCK_ORDER
from apps.payments.services import payment_create
from apps.reservations.services import reservation_hold
from apps.reservations.tests.factories import ReservationFactory
from apps.wallet.services import wallet_charge

pytestmark = pytest.mark.django_db

LOCKING_SELECT = re.compile(r'^SELECT .* FROM "(?P<table>\w+)" .*FOR (NO KEY )?UPDATE', re.DOTALL)
UPDATE = re.compile(r'^UPDATE "?(?P<table>\w+)"?', re.IGNORECASE)


def lock_kinds(statements: list[str]) -> list[str]:
    """The model labels of LOCK_ORDER in the order these statements first lock a row of each."""
    labels = {apps.get_model(label)._meta.db_table: label for label in LOCK_ORDER}
    kinds = []
    for sql in statements:
        match = LOCKING_SELECT.match(sql) or UPDATE.match(sql.strip())
        label = labels.get(match["table"]) if match else None
        if label and label not in kinds:
            kinds.append(label)
    return kinds


def in_lock_order(kinds: list[str]) -> bool:
    ranks = [LOCK_ORDER.index(kind) for kind in kinds]
    return ranks == sorted(ranks)


def test_a_payment_locks_the_token_then_the_reservations_then_the_wallet(user, active_entry, concert_date):
    wallet_charge(user=user, amount=1_000_000)
    holds = [ReservationFactory(user=user, seat=seat) for seat in concert_date.seats.order_by("number")[:2]]

    with CaptureQueriesContext(connection) as queries:
        payment_create(user=user, reservation_ids=[hold.pk for hold in holds], queue_entry_id=active_entry.pk)

    kinds = lock_kinds([query["sql"] for query in queries.captured_queries])
    assert kinds == ["queue.QueueEntry", "reservations.Reservation", "wallet.Wallet"]
    assert in_lock_order(kinds)


def test_a_hold_locks_the_user_then_the_seats_lapsed_hold(user, concert_date):
    seat = concert_date.seats.get(number=1)
    ReservationFactory(seat=seat, lapsed=True)

    with CaptureQueriesContext(connection) as queries:
        reservation_hold(user=user, concert_id=concert_date.concert_id, date=concert_date.date, seat_number=1)

    kinds = lock_kinds([query["sql"] for query in queries.captured_queries])
    assert kinds == ["accounts.User", "reservations.Reservation"]
    assert in_lock_order(kinds)
