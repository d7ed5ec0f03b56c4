"""The waiting room under real concurrency: each thread is its own database connection and
shares the one Redis, as each request of several server processes would."""

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import pytest
from django.db import connection
from django.utils import timezone

from apps.accounts.tests.factories import UserFactory
from apps.common.tests.fixtures import client_with_key, client_with_queue_token
from apps.common.tests.threads import run_in_threads
from apps.queue import line
from apps.queue.models import QueueEntry
from apps.queue.services import queue_entry_end, queue_line_rebuild, queue_poll, queue_token_issue
from apps.queue.tasks import queue_maintain
from apps.queue.tokens import entry_id_for_token, token_for

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.concurrency]

ISSUE = "/api/v1/queue/tokens"
STATUS = "/api/v1/queue/status"
Status = QueueEntry.Status


def in_own_thread(job: Callable, errors: list) -> Callable[[], None]:
    def run():
        try:
            job()
        except Exception as exc:  # re-raised by the test through `errors`
            errors.append(exc)
        finally:
            connection.close()

    return run


def run_together(jobs: list[Callable]) -> list:
    """Run each job in its own thread, all released at the same instant; their results in order."""
    results = run_in_threads(lambda index: jobs[index](), len(jobs))
    errors = [result for result in results if isinstance(result, BaseException)]
    assert not errors, errors
    return results


@contextmanager
def peak_active_count() -> Iterator[list[int]]:
    """Watches, for as long as the block runs, the most slots ever taken at once: in the line
    (Redis) and in PostgreSQL's record, from another connection."""
    peak, stop, errors = [0], threading.Event(), []

    def watch():
        while not stop.is_set():
            now = timezone.now()
            stored = QueueEntry.objects.filter(status=Status.ACTIVE, expires_at__gt=now).count()
            peak[0] = max(peak[0], stored, line.counts(now=now).active)

    watcher = threading.Thread(target=in_own_thread(watch, errors))
    watcher.start()
    try:
        yield peak
    finally:
        stop.set()
        watcher.join(timeout=10)
    assert not errors, errors


def test_simultaneous_token_requests_never_activate_more_than_the_limit(settings):
    settings.QUEUE_ACTIVE_LIMIT = 3
    clients = [client_with_key(UserFactory()) for _ in range(12)]

    with peak_active_count() as peak:
        responses = run_together([lambda client=client: client.post(ISSUE, {}, format="json") for client in clients])

    assert [response.status_code for response in responses] == [201] * 12
    bodies = [response.json() for response in responses]
    assert [body["status"] for body in bodies].count("ACTIVE") == 3
    assert QueueEntry.objects.filter(status=Status.ACTIVE).count() == 3
    assert peak[0] <= 3
    # Every later poll sees one place each, 1 to 9, in ticket order.
    waiting = sorted(
        (entry_id_for_token(body["token"]), body["token"]) for body in bodies if body["status"] == "WAITING"
    )
    assert [queue_poll(entry_id=entry_id).position for entry_id, _ in waiting] == list(range(1, 10))


def test_simultaneous_polls_admit_exactly_the_head_of_the_line_into_freed_slots(settings):
    settings.QUEUE_ACTIVE_LIMIT = 3
    entries = [queue_token_issue(user=UserFactory())[0] for _ in range(12)]
    line.set_controls(active_limit=None, paused=True)  # the ends below free slots; nobody takes them yet
    for entry in entries[:3]:
        queue_entry_end(entry_id=entry.pk)
    line.set_controls(active_limit=None, paused=False)
    waiting_clients = [client_with_queue_token(entry) for entry in reversed(entries[3:])]  # the back polls first

    with peak_active_count() as peak:
        responses = run_together([lambda client=client: client.get(STATUS) for client in waiting_clients])

    assert [response.status_code for response in responses] == [200] * 9
    assert peak[0] <= 3
    assert set(line.active_slots()) == {entry.pk for entry in entries[3:6]}


def test_one_user_asking_many_times_at_once_gets_one_token():
    user = UserFactory()
    clients = [client_with_key(user) for _ in range(8)]

    responses = run_together([lambda client=client: client.post(ISSUE, {}, format="json") for client in clients])

    assert sorted(response.status_code for response in responses) == [200] * 7 + [201]
    assert len({response.json()["token"] for response in responses}) == 1
    assert QueueEntry.objects.filter(user=user).count() == 1


def test_a_crowd_joining_polling_and_paying_at_once_never_passes_the_limit_and_everyone_gets_in_in_order(settings):
    settings.QUEUE_ACTIVE_LIMIT = 2
    users = [UserFactory() for _ in range(10)]
    stop_task = threading.Event()
    admitted_order: list[int] = []

    def shopper(user) -> bool:
        entry_id = entry_id_for_token(token_for(queue_token_issue(user=user)[0]))
        for _ in range(2000):
            if queue_poll(entry_id=entry_id).status == Status.ACTIVE:
                admitted_order.append(entry_id)
                queue_entry_end(entry_id=entry_id)  # pays at once
                return True
            time.sleep(0.005)
        return False

    def scheduler() -> None:
        while not stop_task.is_set():
            queue_maintain()

    scheduler_errors: list = []
    scheduler_thread = threading.Thread(target=in_own_thread(scheduler, scheduler_errors))
    with peak_active_count() as peak:
        scheduler_thread.start()
        try:
            served = run_together([lambda user=user: shopper(user) for user in users])
        finally:
            stop_task.set()
            scheduler_thread.join(timeout=10)

    assert not scheduler_errors, scheduler_errors
    assert served == [True] * 10
    assert peak[0] <= 2
    assert QueueEntry.objects.filter(status=Status.EXPIRED).count() == 10


def test_a_line_rebuilt_in_the_middle_of_a_rush_loses_nobody_and_admits_nobody_twice(settings):
    """Redis flushed while people join and poll: whoever joined is still in line afterwards,
    and the slots never pass the limit."""
    settings.QUEUE_ACTIVE_LIMIT = 3
    users = [UserFactory() for _ in range(24)]

    def joiner(index: int) -> int:
        if index == 0:
            line.wipe()  # Redis lost everything; the next request reloads from PostgreSQL
            return 0
        entry, _, _ = queue_token_issue(user=users[index])
        return entry.pk

    with peak_active_count() as peak:
        results = run_together([lambda index=index: joiner(index) for index in range(len(users))])

    joined = [entry_id for entry_id in results if entry_id]
    places = {entry_id: queue_poll(entry_id=entry_id) for entry_id in joined}
    assert peak[0] <= 3
    assert sum(place.status == Status.ACTIVE for place in places.values()) == 3
    waiting = sorted(entry_id for entry_id, place in places.items() if place.status == Status.WAITING)
    assert [places[entry_id].position for entry_id in waiting] == list(range(1, len(waiting) + 1))
    assert len(waiting) == len(joined) - 3  # nobody lost
    queue_line_rebuild()
    assert {entry_id: queue_poll(entry_id=entry_id).status for entry_id in joined} == {
        entry_id: place.status for entry_id, place in places.items()
    }
