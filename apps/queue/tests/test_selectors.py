import datetime as dt

import pytest
from django.utils import timezone

from apps.queue.models import QueueState
from apps.queue.selectors import QUEUE_STATE_PK, active_count, queue_state_and_active_count
from apps.queue.tests.factories import QueueEntryFactory

pytestmark = pytest.mark.django_db


def test_state_and_active_count_in_one_query_agree_with_the_orm(django_assert_num_queries):
    now = timezone.now()
    QueueState.objects.filter(pk=QUEUE_STATE_PK).update(now_serving=7, active_limit=3, paused=True)
    QueueEntryFactory.create_batch(2, active=True)
    QueueEntryFactory(active=True, expires_at=now - dt.timedelta(seconds=1))  # lapsed, not yet marked
    QueueEntryFactory()  # waiting

    with django_assert_num_queries(1):
        state, active = queue_state_and_active_count(now=now)

    assert (state.now_serving, state.active_limit, state.paused) == (7, 3, True)
    assert active == 2 == active_count(now=now)


def test_before_the_state_row_exists_its_defaults_are_used():
    QueueState.objects.all().delete()
    QueueEntryFactory(active=True)

    state, active = queue_state_and_active_count(now=timezone.now())

    assert (state.pk, state.now_serving, state.paused, active) == (QUEUE_STATE_PK, 0, False, 1)
