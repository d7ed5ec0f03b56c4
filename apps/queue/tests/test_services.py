import datetime as dt
import pydoc

import pytest
from django.utils import timezone
from django_q.models import Schedule

from apps.accounts.services import api_key_issue
from apps.accounts.tests.factories import UserFactory
from apps.common.redis import get_redis
from apps.queue import line, services
from apps.queue.errors import QueueTokenExpired
from apps.queue.models import QueueEntry
from apps.queue.selectors import estimated_wait_seconds, queue_state_get
from apps.queue.services import (
    queue_entries_end,
    queue_line_rebuild,
    queue_place,
    queue_poll,
    queue_state_update,
    queue_token_issue,
    queue_token_issue_for_api_key,
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


@pytest.fixture(autouse=True)
def _ends_commit(monkeypatch, django_capture_on_commit_callbacks):
    """An end reaches the line when its transaction commits; each test runs inside one that
    never does, so run those callbacks as a real commit would."""

    end = services.queue_entries_end

    def end_and_commit(**kwargs):
        with django_capture_on_commit_callbacks(execute=True):
            return end(**kwargs)

    monkeypatch.setattr(services, "queue_entries_end", end_and_commit)


def at(t0: dt.datetime, seconds: float) -> dt.datetime:
    return t0 + dt.timedelta(seconds=seconds)


def queue_entry_end(*, entry_id: int, now: dt.datetime | None = None) -> None:
    services.queue_entries_end(entry_ids=[entry_id], now=now)


def line_up(count: int, *, now: dt.datetime) -> list[QueueEntry]:
    """`count` new users take a token each, in this order."""
    return [queue_token_issue(user=UserFactory(), now=now)[0] for _ in range(count)]


def poll(entry: QueueEntry, *, now: dt.datetime):
    """A status request, as GET /queue/status makes it: the line's answer (a Place)."""
    return queue_poll(entry_id=entry.pk, now=now)


def place(entry: QueueEntry, *, now: dt.datetime) -> tuple[int, int | None]:
    """(position, estimated_wait_seconds) as the line shows them at `now`, without polling."""
    found = queue_place(entry_id=entry.pk, now=now, poll=False)
    return found.position, estimated_wait_seconds(found)


def statuses(entries: list[QueueEntry], *, now: dt.datetime) -> list[str]:
    """Each entry's status as the line sees it at `now` (PostgreSQL learns it later)."""
    return [queue_place(entry_id=entry.pk, now=now, poll=False).status for entry in entries]


def stored(entries: list[QueueEntry]) -> list[str]:
    """Each entry's status as PostgreSQL has it."""
    for entry in entries:
        entry.refresh_from_db()
    return [entry.status for entry in entries]


# Issue and FIFO


def test_a_new_token_is_active_at_once_when_a_slot_is_free_and_nobody_waits(settings, t0):
    entry, found, created = queue_token_issue(user=UserFactory(), now=t0)

    assert created
    assert found.status == Status.ACTIVE
    assert stored([entry]) == [Status.ACTIVE]  # recorded before the holder can book
    assert entry.admitted_at == t0
    assert entry.expires_at == found.expires_at == at(t0, settings.QUEUE_ACTIVE_TTL_SECONDS)
    assert place(entry, now=t0) == (0, 0)


def test_tokens_past_the_limit_wait_in_issue_order(settings, t0):
    settings.QUEUE_ACTIVE_LIMIT = 2

    entries = line_up(5, now=t0)

    assert statuses(entries, now=t0) == [Status.ACTIVE, Status.ACTIVE, Status.WAITING, Status.WAITING, Status.WAITING]
    assert [place(entry, now=t0)[0] for entry in entries] == [0, 0, 1, 2, 3]
    assert all(entry.expires_at is None for entry in entries[2:])


def test_the_ticket_is_the_entry_id_in_issue_order(t0):
    entries = line_up(3, now=t0)

    assert [entry.pk for entry in entries] == sorted(entry.pk for entry in entries)


def test_a_freed_slot_goes_to_the_head_of_the_line_not_to_whoever_polls(one_slot, t0):
    first, second, third, fourth = line_up(4, now=t0)
    queue_entry_end(entry_id=first.pk, now=at(t0, 1))  # outside a transaction: the line hears at once

    polled = poll(fourth, now=at(t0, 2))

    assert polled.status == Status.WAITING
    assert statuses([second, third, fourth], now=at(t0, 2)) == [Status.ACTIVE, Status.WAITING, Status.WAITING]
    assert place(third, now=at(t0, 2))[0] == 1
    assert place(fourth, now=at(t0, 2))[0] == 2


def test_the_whole_line_is_admitted_in_issue_order(settings, t0):
    settings.QUEUE_ACTIVE_LIMIT = 2
    entries = line_up(8, now=t0)
    admitted_rounds, admitted = [], entries[:2]

    for round_number in range(1, 4):
        now = at(t0, round_number)
        for entry in admitted:
            queue_entry_end(entry_id=entry.pk, now=now)
        # The last in line polls: the slots still go to the front.
        poll(entries[-1], now=now)
        admitted = [entry for entry in entries if statuses([entry], now=now) == [Status.ACTIVE]]
        admitted_rounds.append([entry.pk for entry in admitted])

    pks = [entry.pk for entry in entries]
    assert admitted_rounds == [pks[2:4], pks[4:6], pks[6:8]]


def test_a_new_token_waits_behind_people_already_waiting_even_if_a_slot_is_free(one_slot, t0):
    first, second = line_up(2, now=t0)
    queue_entry_end(entry_id=first.pk, now=at(t0, 1))  # the slot goes on to `second` at once

    third, found, created = queue_token_issue(user=UserFactory(), now=at(t0, 2))

    assert created
    assert found.status == Status.WAITING
    assert place(third, now=at(t0, 2))[0] == 1
    assert statuses([second], now=at(t0, 2)) == [Status.ACTIVE]


# Re-issue


def test_asking_again_returns_the_same_token_and_place(one_slot, t0):
    first, second, third = line_up(3, now=t0)
    tokens_before = QueueEntry.objects.count()

    again, found, created = queue_token_issue(user=third.user, now=at(t0, 5))

    assert not created
    assert again.pk == third.pk
    assert token_for(again) == token_for(third)
    assert (found.position, estimated_wait_seconds(found)) == place(third, now=at(t0, 5))
    assert found.position == 2
    assert QueueEntry.objects.count() == tokens_before  # no new number handed out


def test_asking_again_while_active_returns_the_same_active_token(t0):
    entry, _, _ = queue_token_issue(user=UserFactory(), now=t0)

    again, found, created = queue_token_issue(user=entry.user, now=at(t0, 30))

    assert not created
    assert (again.pk, found.status, found.expires_at) == (entry.pk, Status.ACTIVE, entry.expires_at)


def test_asking_again_keeps_a_waiting_place_alive(settings, one_slot, t0):
    _, waiting = line_up(2, now=t0)
    queue_token_issue(user=waiting.user, now=at(t0, settings.QUEUE_ABANDON_SECONDS - 1))

    polled = poll(waiting, now=at(t0, settings.QUEUE_ABANDON_SECONDS + 1))

    assert polled.status == Status.WAITING


def test_after_paying_a_user_gets_a_new_token_at_the_end_of_the_line(one_slot, t0):
    first, second = line_up(2, now=t0)
    queue_entry_end(entry_id=first.pk, now=at(t0, 1))

    new, found, created = queue_token_issue(user=first.user, now=at(t0, 2))

    assert created
    assert new.pk > second.pk
    assert token_for(new) != token_for(first)
    assert found.status == Status.WAITING  # `second` was ahead and took the slot
    assert statuses([first, second], now=at(t0, 2)) == [Status.EXPIRED, Status.ACTIVE]
    assert stored([first]) == [Status.EXPIRED]


def test_an_abandoned_place_is_not_given_back_on_reissue(settings, one_slot, t0):
    first, second, third = line_up(3, now=t0)
    poll(third, now=at(t0, 60))

    new, _, created = queue_token_issue(user=second.user, now=at(t0, settings.QUEUE_ABANDON_SECONDS + 1))

    assert created
    assert new.pk > third.pk
    assert stored([second]) == [Status.EXPIRED]


# Admission when a slot frees


def test_paying_frees_the_slot_for_the_head_at_once(settings, one_slot, t0):
    first, second = line_up(2, now=t0)
    assert poll(second, now=at(t0, 5)).status == Status.WAITING

    queue_entry_end(entry_id=first.pk, now=at(t0, 10))
    polled = poll(second, now=at(t0, 11))

    assert polled.status == Status.ACTIVE
    assert polled.expires_at == at(t0, 10 + settings.QUEUE_ACTIVE_TTL_SECONDS)
    assert place(second, now=at(t0, 11)) == (0, 0)


def test_an_end_inside_a_transaction_reaches_the_line_only_when_it_commits(
    one_slot, t0, django_capture_on_commit_callbacks
):
    first, second = line_up(2, now=t0)

    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        queue_entries_end(entry_ids=[first.pk], now=at(t0, 1))  # as imported: without the fixture's commit
    assert statuses([first, second], now=at(t0, 1)) == [Status.ACTIVE, Status.WAITING]  # rolled back: nothing freed

    for callback in callbacks:
        callback()
    assert statuses([first, second], now=at(t0, 1)) == [Status.EXPIRED, Status.ACTIVE]


def test_an_ended_token_is_expired_for_good(one_slot, t0):
    first, second = line_up(2, now=t0)
    queue_entry_end(entry_id=first.pk, now=at(t0, 1))
    queue_maintain()
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
    assert statuses([first], now=at(t0, 60)) == [Status.EXPIRED]


def test_an_active_token_ends_when_its_ttl_is_up_even_before_any_job_marks_it(settings, t0):
    first, _, _ = queue_token_issue(user=UserFactory(), now=t0)

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
    assert polled.position == 1


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
    assert statuses([gone], now=at(t0, settings.QUEUE_ABANDON_SECONDS + 2)) == [Status.EXPIRED]


def test_the_scheduled_task_drops_abandoned_places_and_records_the_line_in_postgresql(settings, one_slot):
    now = timezone.now()
    long_ago = now - dt.timedelta(seconds=settings.QUEUE_ABANDON_SECONDS + 60)
    first, gone, polling = line_up(3, now=long_ago)
    for seconds in range(30, settings.QUEUE_ABANDON_SECONDS + 61, 30):
        poll(polling, now=long_ago + dt.timedelta(seconds=seconds))

    result = queue_maintain()

    assert (result["dropped"], result["admitted"], result["ends_recorded"]) == (1, 0, 1)
    assert stored([first, gone, polling]) == [Status.ACTIVE, Status.EXPIRED, Status.WAITING]
    assert place(polling, now=now)[0] == 1  # the head of the line now

    queue_entry_end(entry_id=first.pk)  # the line hands the slot on at once...
    assert queue_maintain()["admissions_recorded"] == 1  # ...and the task writes it down
    assert stored([polling]) == [Status.ACTIVE]


def test_the_scheduled_task_expires_lapsed_tokens_and_admits_without_anyone_polling(settings, one_slot):
    settings.QUEUE_ACTIVE_TTL_SECONDS = 60
    now = timezone.now()
    [first] = line_up(1, now=now - dt.timedelta(seconds=61))
    [second] = line_up(1, now=now - dt.timedelta(seconds=30))

    result = queue_maintain()
    # The line ended the lapsed slot when it admitted `second`; the task wrote both down.
    assert (result["admitted"], result["ends_recorded"], result["admissions_recorded"]) == (1, 1, 1)
    again = queue_maintain()  # idempotent
    assert (again["admitted"], again["ends_recorded"], again["admissions_recorded"]) == (0, 0, 0)

    assert stored([first, second]) == [Status.EXPIRED, Status.ACTIVE]


def test_migrate_schedules_the_task_every_minute():
    schedule = Schedule.objects.get(func="apps.queue.tasks.queue_maintain")

    assert (schedule.schedule_type, schedule.minutes, schedule.repeats) == (Schedule.MINUTES, 1, -1)
    assert pydoc.locate(schedule.func) is queue_maintain  # how django-q2 finds it


# Position and estimated wait


def test_waiting_estimates_are_positive_and_never_smaller_for_a_later_place(settings, t0):
    settings.QUEUE_ACTIVE_LIMIT = 2
    entries = line_up(8, now=t0)

    places = [place(entry, now=t0) for entry in entries]

    assert places[:2] == [(0, 0), (0, 0)]
    waits = [wait for _, wait in places[2:]]
    assert [position for position, _ in places[2:]] == [1, 2, 3, 4, 5, 6]
    assert all(wait > 0 for wait in waits)
    assert waits == sorted(waits)


def test_the_position_stops_counting_people_who_gave_up_once_the_task_drops_them(settings, one_slot, t0):
    _, gone, kept, last = line_up(4, now=t0)
    poll(kept, now=at(t0, 60))
    poll(last, now=at(t0, 60))
    later = at(t0, settings.QUEUE_ABANDON_SECONDS)
    assert poll(last, now=later).position == 3  # it may overcount for a while; it never undercounts

    services.queue_maintain(now=later)

    assert poll(last, now=later).position == 2


def test_the_estimate_follows_the_admission_rate_actually_observed(one_slot, t0):
    first, second, third, fourth = line_up(4, now=t0)
    assert place(third, now=t0) == (2, 2 * 600)  # no history: every slot held for its full TTL

    queue_entry_end(entry_id=first.pk, now=at(t0, 30))  # one admission 30 s after the last one

    assert place(third, now=at(t0, 30)) == (1, 30)
    assert place(fourth, now=at(t0, 30)) == (2, 60)


def test_a_stale_clock_reading_does_not_corrupt_the_estimate(one_slot, t0):
    first, second, third, fourth = line_up(4, now=t0)
    queue_entry_end(entry_id=first.pk, now=at(t0, 1))

    # A poll from a host whose clock lags the one that admitted last.
    poll(third, now=at(t0, -5))

    assert statuses([second], now=at(t0, 1)) == [Status.ACTIVE]
    assert 0 < place(third, now=at(t0, 1))[1] < place(fourth, now=at(t0, 1))[1]


# Staff controls


def test_paused_admission_keeps_everyone_waiting_without_an_estimate_until_resumed(t0):
    queue_state_update(active_limit=None, paused=True)
    entries = line_up(3, now=t0)
    polled = poll(entries[0], now=at(t0, 1))

    assert polled.paused
    assert estimated_wait_seconds(polled) is None
    assert statuses(entries, now=at(t0, 1)) == [Status.WAITING] * 3
    assert [place(entry, now=at(t0, 1))[0] for entry in entries] == [1, 2, 3]

    queue_state_update(active_limit=None, paused=False)

    assert statuses(entries, now=timezone.now()) == [Status.ACTIVE] * 3
    assert not poll(entries[0], now=timezone.now()).paused


def test_staff_active_limit_overrides_the_setting_and_raising_it_admits_at_once(settings, t0):
    settings.QUEUE_ACTIVE_LIMIT = 100
    queue_state_update(active_limit=2, paused=False)
    entries = line_up(5, now=t0)
    assert statuses(entries, now=t0).count(Status.ACTIVE) == 2

    queue_state_update(active_limit=4, paused=False, now=t0)
    assert statuses(entries, now=t0) == [Status.ACTIVE] * 4 + [Status.WAITING]

    queue_state_update(active_limit=None, paused=False, now=t0)  # back to the setting
    assert statuses(entries, now=t0) == [Status.ACTIVE] * 5


def test_lowering_the_limit_admits_nobody_until_the_active_count_is_below_it(settings, t0):
    settings.QUEUE_ACTIVE_LIMIT = 3
    entries = line_up(5, now=t0)
    queue_state_update(active_limit=1, paused=False, now=t0)

    queue_entry_end(entry_id=entries[0].pk, now=at(t0, 1))
    poll(entries[3], now=at(t0, 2))
    assert statuses(entries[3:], now=at(t0, 2)) == [Status.WAITING, Status.WAITING]

    queue_entry_end(entry_id=entries[1].pk, now=at(t0, 3))
    queue_entry_end(entry_id=entries[2].pk, now=at(t0, 3))
    poll(entries[4], now=at(t0, 4))
    assert statuses(entries[3:], now=at(t0, 4)) == [Status.ACTIVE, Status.WAITING]


def test_staff_controls_are_stored_and_survive_a_rebuild_of_the_line(one_slot, t0):
    line_up(3, now=t0)

    queue_state_update(active_limit=7, paused=True)
    queue_line_rebuild()

    after = queue_state_get()
    assert (after.active_limit, after.paused) == (7, True)
    assert poll(QueueEntry.objects.order_by("id").last(), now=timezone.now()).paused


# When Redis loses the line


def test_a_flushed_line_is_rebuilt_from_postgresql_with_every_place_kept(settings, t0):
    settings.QUEUE_ACTIVE_LIMIT = 2
    entries = line_up(6, now=t0)
    before = {entry.pk: place(entry, now=t0) for entry in entries}

    get_redis().flushdb()  # a Redis restart without persistence

    after = {entry.pk: place(entry, now=t0) for entry in entries}
    assert after == before
    assert statuses(entries, now=t0) == [Status.ACTIVE] * 2 + [Status.WAITING] * 4


def test_an_admission_not_yet_recorded_goes_back_to_the_head_and_nobody_holds_two_slots(one_slot, t0):
    first, second, third = line_up(3, now=t0)
    queue_entry_end(entry_id=first.pk, now=at(t0, 1))  # the line admits `second`; PostgreSQL does not know yet
    assert stored([second]) == [Status.WAITING]

    get_redis().flushdb()

    assert statuses([second, third], now=at(t0, 2)) == [Status.WAITING, Status.WAITING]
    assert poll(second, now=at(t0, 2)).status == Status.ACTIVE  # first in line again: admitted again
    assert statuses([third], now=at(t0, 2)) == [Status.WAITING]
    assert line.counts(now=at(t0, 2)).active == 1


def test_an_entry_the_line_lost_is_put_back_in_its_place_on_its_next_poll(settings, t0):
    settings.QUEUE_ACTIVE_LIMIT = 1
    first, second, third = line_up(3, now=t0)
    # An older snapshot came back: the line is loaded but lacks `second`.
    get_redis().zrem(line.WAITING, second.pk)
    get_redis().zrem(line.SEEN, second.pk)

    assert poll(second, now=at(t0, 1)).position == 1  # ahead of `third`, by ticket
    assert poll(third, now=at(t0, 1)).position == 2


def test_the_scheduled_task_gives_back_a_lost_slot_and_frees_one_whose_token_ended(one_slot, t0):
    [first] = line_up(1, now=t0)
    get_redis().zrem(line.ACTIVE, first.pk)  # the line lost an admission PostgreSQL recorded
    [second] = line_up(1, now=at(t0, 1))
    assert statuses([second], now=at(t0, 1)) == [Status.ACTIVE]  # the limit looks free: one too many

    services.queue_maintain(now=at(t0, 2))

    assert set(line.active_slots()) == {first.pk, second.pk}  # over until one ends; then right again
    QueueEntry.objects.filter(pk=second.pk).update(status=Status.EXPIRED)  # ended while Redis was away
    services.queue_maintain(now=at(t0, 3))
    assert set(line.active_slots()) == {first.pk}


def test_the_scheduled_task_frees_the_slot_of_a_deleted_user(one_slot, t0):
    first, second = line_up(2, now=t0)
    first.user.delete()  # staff removed the account; its entry went with it

    services.queue_maintain(now=at(t0, 1))

    assert set(line.active_slots()) == {second.pk}


def test_an_admission_that_lapsed_before_postgresql_recorded_it_stays_ended(settings, one_slot, t0):
    settings.QUEUE_ACTIVE_TTL_SECONDS = 60
    first, second, third = line_up(3, now=t0)
    queue_entry_end(entry_id=first.pk, now=at(t0, 1))  # the line admits `second`, who never comes back
    assert stored([second]) == [Status.WAITING]

    poll(third, now=at(t0, 62))  # `second`'s slot lapsed: `third` is admitted

    with pytest.raises(QueueTokenExpired):
        poll(second, now=at(t0, 63))  # not put back in line
    services.queue_maintain(now=at(t0, 64))
    assert stored([second, third]) == [Status.EXPIRED, Status.ACTIVE]


# Joining with an API key (the edge's way)


def test_a_key_holder_joins_in_one_statement_and_asking_again_gives_the_same_place(
    one_slot, t0, django_assert_num_queries
):
    line_up(1, now=t0)
    user = UserFactory()
    key = api_key_issue(user=user)

    with django_assert_num_queries(1):
        entry, found, created = queue_token_issue_for_api_key(api_key=key, now=t0)
    again, found_again, created_again = queue_token_issue_for_api_key(api_key=key, now=at(t0, 1))

    assert (created, created_again) == (True, False)
    assert entry.user_id == user.pk == again.user_id
    assert again.pk == entry.pk and token_for(again) == token_for(entry)
    assert found.status == found_again.status == Status.WAITING


def test_an_unknown_key_or_an_inactive_user_joins_nothing(t0):
    user = UserFactory()
    key = api_key_issue(user=user)
    assert queue_token_issue_for_api_key(api_key="not-a-key", now=t0) is None
    user.is_active = False
    user.save(update_fields=["is_active"])

    assert queue_token_issue_for_api_key(api_key=key, now=t0) is None
    assert not QueueEntry.objects.exists()
