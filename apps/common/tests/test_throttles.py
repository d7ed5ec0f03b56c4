"""Throttle counts in the shared Redis: exact under threads and across processes."""

import multiprocessing
import time
from collections import Counter

import pytest
from rest_framework.test import APIClient

from apps.accounts.models import User
from apps.common.redis import get_redis
from apps.common.tests.threads import run_in_threads
from apps.common.throttles import rate_limit_hit, rate_limit_queue, rate_limit_verdict

SIGNUP = "/api/v1/users"


@pytest.fixture(autouse=True)
def _throttling_on(settings):
    settings.THROTTLING = True


def hits(count: int, *, scope: str = "signup", ident: str = "10.0.0.1") -> list[bool]:
    return [rate_limit_hit(scope=scope, ident=ident)[0] for _ in range(count)]


@pytest.mark.django_db(transaction=True)
@pytest.mark.concurrency
def test_sixty_signups_at_once_against_30_per_minute_let_exactly_30_through(settings):
    settings.THROTTLE_RATES = {**settings.THROTTLE_RATES, "signup": "30/min"}

    def sign_up(index: int):
        return APIClient().post(SIGNUP, {"username": f"racer{index}"}, format="json")

    responses = run_in_threads(sign_up, 60)

    outcomes = Counter((response.status_code, response.json().get("code")) for response in responses)
    assert outcomes == {(201, None): 30, (429, "THROTTLED"): 30}
    refused = [response for response in responses if response.status_code == 429]
    # The rest of the minute, in whole seconds past its end.
    assert all(0 < int(response["Retry-After"]) <= 61 for response in refused)
    assert User.objects.count() == 30


def _hit_in_another_process(barrier, allowed) -> None:
    barrier.wait()
    allowed.put(sum(hits(25)))


def test_processes_share_one_exact_count(settings):
    settings.THROTTLE_RATES = {**settings.THROTTLE_RATES, "signup": "30/min"}
    # Forked, so each process inherits the settings above and opens its own Redis connection.
    context = multiprocessing.get_context("fork")
    barrier, allowed = context.Barrier(4), context.Queue()
    processes = [context.Process(target=_hit_in_another_process, args=(barrier, allowed)) for _ in range(4)]
    for process in processes:
        process.start()
    counts = [allowed.get(timeout=30) for _ in processes]
    for process in processes:
        process.join(timeout=30)

    assert sum(counts) == 30
    assert rate_limit_hit(scope="signup", ident="10.0.0.1") == (False, pytest.approx(60, abs=1))


def test_the_count_starts_again_when_the_window_ends(settings):
    settings.THROTTLE_RATES = {**settings.THROTTLE_RATES, "signup": "2/s"}
    assert hits(2) == [True, True]

    allowed, retry_after = rate_limit_hit(scope="signup", ident="10.0.0.1")
    assert not allowed
    assert retry_after in (1, 2)  # 2 if the window had a whole second left

    time.sleep(retry_after)
    assert hits(3) == [True, True, False]


def test_each_scope_and_identity_counts_on_its_own(settings):
    settings.THROTTLE_RATES = {**settings.THROTTLE_RATES, "signup": "1/min", "wallet_charge": "1/min"}

    assert hits(2, ident="10.0.0.1") == [True, False]
    assert hits(2, ident="10.0.0.2") == [True, False]
    assert hits(2, scope="wallet_charge", ident="10.0.0.1") == [True, False]


def test_a_hit_rides_on_the_callers_own_pipeline(settings):
    settings.THROTTLE_RATES = {**settings.THROTTLE_RATES, "queue_poll": "2/min"}
    verdicts = []
    for _ in range(3):
        pipe = get_redis().pipeline(transaction=False)
        pipe.incr("polls")  # the caller's own commands, around the hit
        rate_limit_queue(pipe=pipe, scope="queue_poll", ident="token-1")
        pipe.get("polls")
        results = pipe.execute()
        verdicts.append(rate_limit_verdict(scope="queue_poll", results=results[1:4]))

    assert [allowed for allowed, _ in verdicts] == [True, True, False]
    assert verdicts[-1][1] == pytest.approx(60, abs=1)
    assert get_redis().get("polls") == b"3"


def test_throttling_off_lets_every_hit_through(settings):
    settings.THROTTLING = False
    settings.THROTTLE_RATES = {**settings.THROTTLE_RATES, "signup": "1/min"}

    assert hits(5) == [True] * 5
