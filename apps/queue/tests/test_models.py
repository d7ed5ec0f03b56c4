"""The entry rule is written once, in its forms (queryset methods, an SQL fragment, Python): they agree."""

import datetime as dt

import pytest
from django.db import connection
from django.utils import timezone

from apps.queue.models import LIVE_SQL, QueueEntry, Status
from apps.queue.tests.factories import QueueEntryFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def now() -> dt.datetime:
    return timezone.now()


@pytest.fixture
def entries(now) -> list[QueueEntry]:
    """A WAITING entry, ACTIVE ones whose time ends just before, at and just after `now`, an
    EXPIRED one: each its own user's (one live entry per user)."""
    ends = [now + dt.timedelta(microseconds=microseconds) for microseconds in (-1, 0, 1)]
    return [
        QueueEntryFactory(),
        *(QueueEntryFactory(status=Status.ACTIVE, admitted_at=now, expires_at=end) for end in ends),
        QueueEntryFactory(status=Status.EXPIRED, ended_at=now),
    ]


def test_live_is_the_same_entries_in_sql_and_in_the_orm(entries):
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT id FROM {QueueEntry._meta.db_table} WHERE {LIVE_SQL}")
        by_sql = {row[0] for row in cursor.fetchall()}

    assert set(QueueEntry.objects.live().values_list("pk", flat=True)) == by_sql
    assert by_sql == {entry.pk for entry in entries if entry.status != Status.EXPIRED}


def test_an_active_token_lapses_at_its_expiry_in_queries_and_in_python(entries, now):
    admitted = set(QueueEntry.objects.admitted(now).values_list("pk", flat=True))
    lapsed = set(QueueEntry.objects.lapsed(now).values_list("pk", flat=True))

    assert admitted == {entry.pk for entry in entries if entry.effective_status(now) == Status.ACTIVE}
    assert lapsed == {
        entry.pk for entry in entries if entry.status == Status.ACTIVE and entry.effective_status(now) == Status.EXPIRED
    }
    assert (len(admitted), len(lapsed)) == (1, 2)
