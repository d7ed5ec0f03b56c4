"""The services that lock rows of more than one kind take them in apps.common.locking's order."""

import re

import pytest
from django.apps import apps
from django.db import connection
from django.test.utils import CaptureQueriesContext

from apps.accounts.tests.factories import UserFactory
from apps.common.locking import LOCK_ORDER
from apps.payments.services import concert_date_cancel, payment_create, reservation_cancel
from apps.queue.tests.factories import QueueEntryFactory
from apps.reservations.services import reservation_hold
from apps.reservations.tests.factories import ReservationFactory
from apps.wallet.models import Wallet
from apps.wallet.services import wallet_charge

pytestmark = pytest.mark.django_db

LOCKING_SELECT = re.compile(r'^SELECT .* FROM "?(?P<table>\w+)"? .*FOR (NO KEY UPDATE|UPDATE|KEY SHARE)', re.DOTALL)
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


def test_a_hold_locks_the_user_then_the_date_then_the_seats_lapsed_hold(user, concert_date):
    seat = concert_date.seats.get(number=1)
    ReservationFactory(seat=seat, lapsed=True)

    with CaptureQueriesContext(connection) as queries:
        reservation_hold(user=user, concert_id=concert_date.concert_id, date=concert_date.date, seat_number=1)

    kinds = lock_kinds([query["sql"] for query in queries.captured_queries])
    assert kinds == ["accounts.User", "concerts.ConcertDate", "reservations.Reservation"]
    assert in_lock_order(kinds)
    (date_lock,) = [query["sql"] for query in queries.captured_queries if "FOR KEY SHARE" in query["sql"]]
    assert "FOR UPDATE" not in date_lock  # shared: holds of one date do not wait for each other


def bought(user, seat):
    wallet_charge(user=user, amount=seat.price)
    reservation = ReservationFactory(user=user, seat=seat)
    entry = QueueEntryFactory(user=user, active=True)
    payment_create(user=user, reservation_ids=[reservation.pk], queue_entry_id=entry.pk)
    return reservation


def test_a_cancel_locks_the_reservation_then_the_wallet(user, concert_date):
    reservation = bought(user, concert_date.seats.get(number=1))

    with CaptureQueriesContext(connection) as queries:
        reservation_cancel(user=user, reservation_id=reservation.pk)

    kinds = lock_kinds([query["sql"] for query in queries.captured_queries])
    assert kinds == ["reservations.Reservation", "wallet.Wallet"]


def test_calling_a_date_off_locks_the_date_then_its_reservations_then_the_wallets(concert_date):
    for seat in concert_date.seats.order_by("number")[:3]:
        bought(UserFactory(), seat)

    with CaptureQueriesContext(connection) as queries:
        concert_date_cancel(concert_date_id=concert_date.pk)

    statements = [query["sql"] for query in queries.captured_queries]
    kinds = lock_kinds(statements)
    assert kinds == ["concerts.ConcertDate", "reservations.Reservation", "wallet.Wallet"]
    wallet_table = Wallet._meta.db_table
    first_wallet_statement = next(sql for sql in statements if wallet_table in sql.split(" WHERE")[0])
    assert "FOR UPDATE" in first_wallet_statement and "ORDER BY" in first_wallet_statement  # all, in pk order
