"""The waiting room under real concurrency: each thread is its own database connection, as
each request of several server processes would be."""

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
from apps.queue import services
from apps.queue.models import QueueEntry
from apps.queue.services import queue_admit, queue_entry_end, queue_poll, queue_token_issue
from apps.queue.tasks import queue_maintain
from apps.queue.tokens import entry_for_token, token_for

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
    """Watches the ACTIVE count from another connection for as long as the block runs."""
    peak, stop, errors = [0], threading.Event(), []

    def watch():
        while not stop.is_set():
            now = timezone.now()
            peak[0] = max(peak[0], QueueEntry.objects.filter(status=Status.ACTIVE, expires_at__gt=now).count())

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
    assert sorted(body["position"] for body in bodies if body["status"] == "WAITING") == list(range(1, 10))
    assert QueueEntry.objects.filter(status=Status.ACTIVE).count() == 3
    assert peak[0] <= 3
    tickets = list(QueueEntry.objects.order_by("ticket").values_list("ticket", flat=True))
    assert tickets == list(range(tickets[0], tickets[0] + 12))  # one number each, none skipped


def test_simultaneous_polls_admit_exactly_the_head_of_the_line_into_freed_slots(settings):
    settings.QUEUE_ACTIVE_LIMIT = 3
    entries = [queue_token_issue(user=UserFactory())[0] for _ in range(12)]
    for entry in entries[:3]:
        queue_entry_end(entry_id=entry.pk)
    waiting_clients = [client_with_queue_token(entry) for entry in entries[3:]]

    with peak_active_count() as peak:
        responses = run_together([lambda client=client: client.get(STATUS) for client in waiting_clients])

    assert [response.status_code for response in responses] == [200] * 9
    assert peak[0] <= 3
    active = set(QueueEntry.objects.filter(status=Status.ACTIVE).values_list("pk", flat=True))
    assert active == {entry.pk for entry in entries[3:6]}


def test_one_user_asking_many_times_at_once_gets_one_token():
    user = UserFactory()
    clients = [client_with_key(user) for _ in range(8)]

    responses = run_together([lambda client=client: client.post(ISSUE, {}, format="json") for client in clients])

    assert sorted(response.status_code for response in responses) == [200] * 7 + [201]
    assert len({response.json()["token"] for response in responses}) == 1
    assert QueueEntry.objects.filter(user=user).count() == 1


def test_a_crowd_taking_polling_and_paying_at_once_never_passes_the_limit_and_everyone_gets_in(settings):
    settings.QUEUE_ACTIVE_LIMIT = 2
    users = [UserFactory() for _ in range(10)]
    stop_task = threading.Event()

    def shopper(user) -> bool:
        token = token_for(queue_token_issue(user=user)[0])
        for _ in range(2000):
            entry, _ = queue_poll(entry=entry_for_token(token))
            if entry.status == Status.ACTIVE:
                queue_entry_end(entry_id=entry.pk)  # pays at once
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
    assert QueueEntry.objects.filter(admitted_at__isnull=False).count() == 10


def test_a_token_ended_while_admission_picks_it_stays_ended_and_the_slot_goes_to_the_next(settings, monkeypatch):
    settings.QUEUE_ACTIVE_LIMIT = 1
    first, picked, next_in_line = (queue_token_issue(user=UserFactory())[0] for _ in range(3))
    queue_entry_end(entry_id=first.pk)
    checked = services.entry_is_abandoned

    def end_picked_meanwhile(*, entry, now):
        # Admission has read the head of the line; staff (another connection) end that token now.
        if entry.pk == picked.pk:
            errors: list = []
            staff = threading.Thread(target=in_own_thread(lambda: queue_entry_end(entry_id=picked.pk), errors))
            staff.start()
            staff.join(timeout=10)
            assert not errors, errors
        return checked(entry=entry, now=now)

    monkeypatch.setattr(services, "entry_is_abandoned", end_picked_meanwhile)

    queue_admit()

    assert QueueEntry.objects.get(pk=picked.pk).status == Status.EXPIRED
    assert QueueEntry.objects.get(pk=next_in_line.pk).status == Status.ACTIVE
    assert QueueEntry.objects.filter(status=Status.ACTIVE).count() == 1
