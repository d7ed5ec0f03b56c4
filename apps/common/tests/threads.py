"""Real threads for the concurrency tests, one database connection each."""

import threading
from collections.abc import Callable
from typing import TypeVar

from django.db import connection

JOIN_TIMEOUT_SECONDS = 60
T = TypeVar("T")


def run_in_threads(worker: Callable[[int], T], count: int) -> list[T | BaseException]:
    """Start `count` threads, line them up on a barrier so they collide, run `worker(index)`
    in each, and return each result or the exception it raised, in index order.

    Each thread has its own database connection, so callers need `django_db(transaction=True)`:
    the setup must be committed for the workers to see it."""
    barrier = threading.Barrier(count)
    results: list = [None] * count

    def run(index: int) -> None:
        try:
            barrier.wait(timeout=JOIN_TIMEOUT_SECONDS)
            results[index] = worker(index)
        except BaseException as exc:  # reported to the test, which decides what is allowed
            results[index] = exc
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(index,)) for index in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(JOIN_TIMEOUT_SECONDS)
    assert not any(thread.is_alive() for thread in threads), "a worker hung (deadlock?)"
    return results
