import datetime as dt
import pydoc

import pytest
from django.utils import timezone
from django_q.models import Schedule

from apps.accounts.tests.factories import UserFactory
from apps.queue.errors import QueueTokenExpired
from apps.queue.models import QueueEntry
from apps.queue.selectors import entry_place, queue_state_get
from apps.queue.services import (
    queue_admit,
    queue_entry_end,
    queue_poll,
    queue_state_update,
    queue_token_issue,
)
from apps.queue.tasks import queue_maintain
from apps.queue.tokens import token_for

pytestmark = pytest.mark.django_db

Status = QueueEntry.Status


@pytest.fixture(autouse=True)
def _contract_defaults(settings):
    """The documented defaults, whatever the environment says: the timings below build on them."""
    settings.QUEUE_ACTIVE_LIMIT = 100
    settings.QUEUE_ACTIVE_TTL_SECONDS = 600
    settings.QUEUE_ABANDON_SECONDS = 120


@pytest.fixture
def t0() -> dt.datetime:
    return timezone.now()


@pytest.fixture
def one_slot(settings):
    settings.QUEUE_ACTIVE_LIMIT = 1


def at(t0: dt.datetime, seconds: float) -> dt.datetime:
    return t0 + dt.timedelta(seconds=seconds)


def line_up(count: int, *, now: dt.datetime) -> list[QueueEntry]:
    """`count` new users take a token each, in this order."""
    return [queue_token_issue(user=UserFactory(), now=now)[0] for _ in range(count)]


def poll(entry: QueueEntry, *, now: dt.datetime) -> QueueEntry:
    """A status request: the entry is loaded afresh, as the token authentication does."""
    return queue_poll(entry=QueueEntry.objects.get(pk=entry.pk), now=now)[0]


def place(entry: QueueEntry) -> tuple[int, int]:
    """(position, estimated_wait_seconds) as a poll would show them now."""
    entry.refresh_from_db()
    return entry_place(entry=entry, state=queue_state_get())


def statuses(entries: list[QueueEntry]) -> list[str]:
    for entry in entries:
        entry.refresh_from_db()
    return [entry.status for entry in entries]


# Issue and FIFO


def test_a_new_token_is_active_at_once_when_a_slot_is_free_and_nobody_waits(settings, t0):
    entry, created = queue_token_issue(user=UserFactory(), now=t0)

    assert created
    assert entry.status == Status.ACTIVE
    assert entry.admitted_at == t0
    assert entry.expires_at == at(t0, settings.QUEUE_ACTIVE_TTL_SECONDS)
    assert place(entry) == (0, 0)


def test_tokens_past_the_limit_wait_in_issue_order(settings, t0):
    settings.QUEUE_ACTIVE_LIMIT = 2

    entries = line_up(5, now=t0)

    assert statuses(entries) == [Status.ACTIVE, Status.ACTIVE, Status.WAITING, Status.WAITING, Status.WAITING]
    assert [place(entry)[0] for entry in entries] == [0, 0, 1, 2, 3]
    assert all(entry.expires_at is None for entry in entries[2:])


def test_a_freed_slot_goes_to_the_head_of_the_line_not_to_whoever_polls(one_slot, t0):
    first, second, third, fourth = line_up(4, now=t0)
    queue_entry_end(entry_id=first.pk, now=at(t0, 1))

    polled = poll(fourth, now=at(t0, 2))

    assert polled.status == Status.WAITING
    assert statuses([second, third, fourth]) == [Status.ACTIVE, Status.WAITING, Status.WAITING]
    assert place(third)[0] == 1
    assert place(fourth)[0] == 2


def test_the_whole_line_is_admitted_in_issue_order(settings, t0):
    settings.QUEUE_ACTIVE_LIMIT = 2
    entries = line_up(8, now=t0)
    admitted_rounds = []

    for round_number in range(1, 4):
        for entry in QueueEntry.objects.filter(status=Status.ACTIVE):
            queue_entry_end(entry_id=entry.pk, now=at(t0, round_number))
        # The last in line polls: the slots still go to the front.
        poll(QueueEntry.objects.filter(status=Status.WAITING).latest("ticket"), now=at(t0, round_number))
        admitted_rounds.append(sorted(QueueEntry.objects.filter(status=Status.ACTIVE).values_list("pk", flat=True)))

    pks = [entry.pk for entry in entries]
    assert admitted_rounds == [pks[2:4], pks[4:6], pks[6:8]]


def test_a_new_token_waits_behind_people_already_waiting_even_if_a_slot_is_free(one_slot, t0):
    first, second = line_up(2, now=t0)
    queue_entry_end(entry_id=first.pk, now=at(t0, 1))  # free slot, but `second` has not polled yet

    third, created = queue_token_issue(user=UserFactory(), now=at(t0, 2))

    assert created
    assert third.status == Status.WAITING
    assert place(third)[0] == 1
    assert statuses([second]) == [Status.ACTIVE]


# Re-issue


def test_asking_again_returns_the_same_token_and_place(one_slot, t0):
    first, second, third = line_up(3, now=t0)
    last_ticket = queue_state_get().last_ticket

    again, created = queue_token_issue(user=third.user, now=at(t0, 5))

    assert not created
    assert again.pk == third.pk
    assert token_for(again) == token_for(third)
    assert place(again) == place(third)
    assert place(again)[0] == 2
    assert queue_state_get().last_ticket == last_ticket  # no new number handed out


def test_asking_again_while_active_returns_the_same_active_token(t0):
    entry, _ = queue_token_issue(user=UserFactory(), now=t0)

    again, created = queue_token_issue(user=entry.user, now=at(t0, 30))

    assert not created
    assert (again.pk, again.status, again.expires_at) == (entry.pk, Status.ACTIVE, entry.expires_at)


def test_asking_again_keeps_a_waiting_place_alive(settings, one_slot, t0):
    _, waiting = line_up(2, now=t0)
    queue_token_issue(user=waiting.user, now=at(t0, settings.QUEUE_ABANDON_SECONDS - 1))

    polled = poll(waiting, now=at(t0, settings.QUEUE_ABANDON_SECONDS + 1))

    assert polled.status == Status.WAITING


def test_after_paying_a_user_gets_a_new_token_at_the_end_of_the_line(one_slot, t0):
    first, second = line_up(2, now=t0)
    queue_entry_end(entry_id=first.pk, now=at(t0, 1))

    new, created = queue_token_issue(user=first.user, now=at(t0, 2))

    assert created
    assert new.pk != first.pk
    assert token_for(new) != token_for(first)
    assert new.ticket > second.ticket
    assert new.status == Status.WAITING  # `second` was ahead and took the slot
    assert statuses([first, second]) == [Status.EXPIRED, Status.ACTIVE]


def test_an_abandoned_place_is_not_given_back_on_reissue(settings, one_slot, t0):
    first, second, third = line_up(3, now=t0)
    poll(third, now=at(t0, 60))

    new, created = queue_token_issue(user=second.user, now=at(t0, settings.QUEUE_ABANDON_SECONDS + 1))

    assert created
    assert new.ticket > third.ticket
    assert statuses([second]) == [Status.EXPIRED]


# Admission when a slot frees


def test_paying_frees_the_slot_for_the_head_at_its_next_poll(settings, one_slot, t0):
    first, second = line_up(2, now=t0)
    assert poll(second, now=at(t0, 5)).status == Status.WAITING

    queue_entry_end(entry_id=first.pk, now=at(t0, 10))
    polled = poll(second, now=at(t0, 11))

    assert polled.status == Status.ACTIVE
    assert polled.expires_at == at(t0, 11 + settings.QUEUE_ACTIVE_TTL_SECONDS)
    assert place(polled) == (0, 0)


def test_an_ended_token_is_expired_for_good(one_slot, t0):
    first, second = line_up(2, now=t0)
    queue_entry_end(entry_id=first.pk, now=at(t0, 1))
    queue_admit(now=at(t0, 2))
    queue_entry_end(entry_id=first.pk, now=at(t0, 3))  # a second end changes nothing

    first.refresh_from_db()
    assert first.status == Status.EXPIRED
    assert first.ended_at == at(t0, 1)
    with pytest.raises(QueueTokenExpired):
        poll(first, now=at(t0, 4))


def test_a_slot_frees_ttl_seconds_after_admission(settings, one_slot, t0):
    settings.QUEUE_ACTIVE_TTL_SECONDS = 60
    first, second = line_up(2, now=t0)

    assert poll(second, now=at(t0, 59)).status == Status.WAITING
    polled = poll(second, now=at(t0, 60))

    assert polled.status == Status.ACTIVE
    assert polled.expires_at == at(t0, 120)
    first.refresh_from_db()
    assert (first.status, first.ended_at) == (Status.EXPIRED, at(t0, 60))


def test_an_active_token_ends_when_its_ttl_is_up_even_before_any_job_marks_it(settings, t0):
    first, _ = queue_token_issue(user=UserFactory(), now=t0)

    assert poll(first, now=at(t0, settings.QUEUE_ACTIVE_TTL_SECONDS - 1)).status == Status.ACTIVE
    with pytest.raises(QueueTokenExpired):
        poll(first, now=at(t0, settings.QUEUE_ACTIVE_TTL_SECONDS))


# Abandonment


def test_a_waiting_token_not_polled_for_the_abandon_time_drops_out(settings, one_slot, t0):
    _, kept, dropped = line_up(3, now=t0)

    assert poll(kept, now=at(t0, settings.QUEUE_ABANDON_SECONDS - 1)).status == Status.WAITING
    with pytest.raises(QueueTokenExpired):
        poll(dropped, now=at(t0, settings.QUEUE_ABANDON_SECONDS))


def test_polling_keeps_a_waiting_place_however_long_the_wait(settings, one_slot, t0):
    settings.QUEUE_ACTIVE_TTL_SECONDS = 10_000
    _, waiting = line_up(2, now=t0)
    interval = settings.QUEUE_ABANDON_SECONDS * 0.8

    for step in range(1, 11):
        polled = poll(waiting, now=at(t0, step * interval))

    assert polled.status == Status.WAITING
    assert place(polled)[0] == 1


def test_polling_keeps_the_place_even_with_a_short_abandon_time(settings, one_slot, t0):
    settings.QUEUE_ABANDON_SECONDS = 8
    _, waiting = line_up(2, now=t0)

    for step in range(1, 11):
        polled = poll(waiting, now=at(t0, step * 3))

    assert polled.status == Status.WAITING


def test_abandoned_places_are_skipped_when_a_slot_frees(settings, one_slot, t0):
    first, gone, polling = line_up(3, now=t0)
    poll(polling, now=at(t0, settings.QUEUE_ABANDON_SECONDS - 10))
    queue_entry_end(entry_id=first.pk, now=at(t0, settings.QUEUE_ABANDON_SECONDS + 1))

    polled = poll(polling, now=at(t0, settings.QUEUE_ABANDON_SECONDS + 2))

    assert polled.status == Status.ACTIVE
    assert statuses([gone]) == [Status.EXPIRED]


def test_the_scheduled_task_drops_abandoned_places_and_the_next_in_line_moves_up(settings, one_slot):
    now = timezone.now()
    long_ago = now - dt.timedelta(seconds=settings.QUEUE_ABANDON_SECONDS + 60)
    first, gone, polling = line_up(3, now=long_ago)
    for seconds in range(30, settings.QUEUE_ABANDON_SECONDS + 61, 30):
        poll(polling, now=long_ago + dt.timedelta(seconds=seconds))

    assert queue_maintain() == {"dropped": 1, "admitted": 0}

    assert statuses([first, gone, polling]) == [Status.ACTIVE, Status.EXPIRED, Status.WAITING]
    assert place(polling)[0] == 1  # the head of the line now

    queue_entry_end(entry_id=first.pk)
    assert queue_maintain() == {"dropped": 0, "admitted": 1}
    assert statuses([polling]) == [Status.ACTIVE]


def test_the_scheduled_task_expires_lapsed_tokens_and_admits_without_anyone_polling(settings, one_slot):
    settings.QUEUE_ACTIVE_TTL_SECONDS = 60
    now = timezone.now()
    [first] = line_up(1, now=now - dt.timedelta(seconds=61))
    [second] = line_up(1, now=now - dt.timedelta(seconds=30))

    assert queue_maintain() == {"dropped": 0, "admitted": 1}
    assert queue_maintain() == {"dropped": 0, "admitted": 0}  # idempotent

    assert statuses([first, second]) == [Status.EXPIRED, Status.ACTIVE]


def test_migrate_schedules_the_task_every_minute():
    schedule = Schedule.objects.get(func="apps.queue.tasks.queue_maintain")

    assert (schedule.schedule_type, schedule.minutes, schedule.repeats) == (Schedule.MINUTES, 1, -1)
    assert pydoc.locate(schedule.func) is queue_maintain  # how django-q2 finds it


# Position and estimated wait


def test_waiting_estimates_are_positive_and_never_smaller_for_a_later_place(settings, t0):
    settings.QUEUE_ACTIVE_LIMIT = 2
    entries = line_up(8, now=t0)

    places = [place(entry) for entry in entries]

    assert places[:2] == [(0, 0), (0, 0)]
    waits = [wait for _, wait in places[2:]]
    assert [position for position, _ in places[2:]] == [1, 2, 3, 4, 5, 6]
    assert all(wait > 0 for wait in waits)
    assert waits == sorted(waits)


def test_the_estimate_follows_the_admission_rate_actually_observed(one_slot, t0):
    first, second, third, fourth = line_up(4, now=t0)
    assert place(third) == (2, 2 * 600)  # no history: every slot held for its full TTL

    queue_entry_end(entry_id=first.pk, now=at(t0, 30))
    poll(second, now=at(t0, 30))  # one admission 30 s after the last one

    assert place(third) == (1, 30)
    assert place(fourth) == (2, 60)


def test_a_stale_clock_reading_does_not_corrupt_the_estimate(one_slot, t0):
    first, second, third, fourth = line_up(4, now=t0)
    queue_entry_end(entry_id=first.pk, now=at(t0, 1))

    # A poll that read the clock, then waited for the lock behind a later admission.
    queue_admit(now=at(t0, -5))

    assert statuses([second]) == [Status.ACTIVE]
    assert 0 < place(third)[1] < place(fourth)[1]


# Staff controls


def test_paused_admission_keeps_everyone_waiting_until_resumed(t0):
    queue_state_update(active_limit=None, paused=True)
    entries = line_up(3, now=t0)
    poll(entries[0], now=at(t0, 1))

    assert statuses(entries) == [Status.WAITING] * 3
    assert [place(entry)[0] for entry in entries] == [1, 2, 3]

    queue_state_update(active_limit=None, paused=False)

    assert statuses(entries) == [Status.ACTIVE] * 3


def test_staff_active_limit_overrides_the_setting_and_raising_it_admits_at_once(settings, t0):
    settings.QUEUE_ACTIVE_LIMIT = 100
    queue_state_update(active_limit=2, paused=False)
    entries = line_up(5, now=t0)
    assert statuses(entries).count(Status.ACTIVE) == 2

    queue_state_update(active_limit=4, paused=False)
    assert statuses(entries) == [Status.ACTIVE] * 4 + [Status.WAITING]

    queue_state_update(active_limit=None, paused=False)  # back to the setting
    assert statuses(entries) == [Status.ACTIVE] * 5


def test_lowering_the_limit_admits_nobody_until_the_active_count_is_below_it(settings, t0):
    settings.QUEUE_ACTIVE_LIMIT = 3
    entries = line_up(5, now=t0)
    queue_state_update(active_limit=1, paused=False)

    queue_entry_end(entry_id=entries[0].pk, now=at(t0, 1))
    poll(entries[3], now=at(t0, 2))
    assert statuses(entries[3:]) == [Status.WAITING, Status.WAITING]

    queue_entry_end(entry_id=entries[1].pk, now=at(t0, 3))
    queue_entry_end(entry_id=entries[2].pk, now=at(t0, 3))
    poll(entries[4], now=at(t0, 4))
    assert statuses(entries[3:]) == [Status.ACTIVE, Status.WAITING]


def test_staff_controls_leave_the_line_counters_alone(one_slot, t0):
    line_up(3, now=t0)
    before = queue_state_get()

    queue_state_update(active_limit=7, paused=True)

    after = queue_state_get()
    assert (after.active_limit, after.paused) == (7, True)
    assert (after.last_ticket, after.now_serving) == (before.last_ticket, before.now_serving)
