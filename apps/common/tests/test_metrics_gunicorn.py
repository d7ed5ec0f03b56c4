"""/metrics under gunicorn with several workers, started with the project's gunicorn.conf.py as
production starts it: every worker's counts add up, exactly, also across a worker that died;
counts an earlier master left behind are not added in; the access log has a line per request
Django answered, and no queue token."""

import json
import os
import signal
import time
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from django.conf import settings
from prometheus_client.mmap_dict import MmapedDict, mmap_key
from prometheus_client.multiprocess import MultiProcessCollector

from apps.accounts.tests.factories import UserFactory
from apps.common.tests.wsgi import METRICS_TOKEN, parse_samples, value
from apps.queue.services import queue_token_issue
from apps.queue.tokens import token_for
from bench.server import Gunicorn

pytestmark = pytest.mark.django_db(transaction=True)

WORKERS = 3
POLL = "/api/v1/queue/status"
REQUESTS = ("concert_http_requests_total", "concert_http_requests")


def database_url() -> str:
    """The test database, which the test's own connection sees too (committed data)."""
    db = settings.DATABASES["default"]
    password = f":{db['PASSWORD']}" if db.get("PASSWORD") else ""
    return f"postgres://{db['USER']}{password}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"


@pytest.fixture
def multiproc_dir(tmp_path) -> Path:
    directory = tmp_path / "metrics"
    directory.mkdir()
    return directory


@pytest.fixture
def server(tmp_path, multiproc_dir):
    env = {
        **os.environ,
        "DATABASE_URL": database_url(),
        "REDIS_URL": settings.REDIS_URL,
        "SECRET_KEY": settings.SECRET_KEY,
        "DEBUG": "0",
        "ALLOWED_HOSTS": "127.0.0.1,localhost",
        "GUNICORN_WORKERS": str(WORKERS),
        "THROTTLING": "off",
        "METRICS_TOKEN": METRICS_TOKEN,
        "PROMETHEUS_MULTIPROC_DIR": str(multiproc_dir),
        "LOG_EDGE_SAMPLE": "1",
    }
    gunicorn = Gunicorn(env, tmp_path / "gunicorn.log")
    # Counts a master stopped earlier left in the directory: gone once the new one starts.
    stale = MmapedDict(str(multiproc_dir / "counter_1.db"))
    labels = ["layer", "method", "route", "status"]
    key = mmap_key(REQUESTS[1], REQUESTS[0], labels, ["django", "GET", "/health/live", "200"], "stale")
    stale.write_value(key, 1000.0, 0.0)
    stale.close()
    gunicorn.start()
    yield gunicorn
    gunicorn.stop()


def get(server, path: str, headers: dict | None = None) -> int:
    request = urllib.request.Request(f"http://127.0.0.1:{server.port}{path}", headers=headers or {})
    with urllib.request.urlopen(request, timeout=10) as response:
        response.read()
        return response.status


def send_rush(server, tokens: list[str], polls: int, lives: int) -> None:
    """`polls` polls (the edge answers them) and `lives` GET /health/live (Django), from 8
    clients at once, so that every worker takes some."""
    jobs = [(POLL, {"X-Queue-Token": tokens[n % len(tokens)]}) for n in range(polls)]
    jobs += [("/health/live", {}) for _ in range(lives)]
    with ThreadPoolExecutor(8) as pool:
        statuses = list(pool.map(lambda job: get(server, *job), jobs))
    assert statuses == [200] * len(jobs)


def scrape(server) -> dict:
    request = urllib.request.Request(
        f"http://127.0.0.1:{server.port}/metrics", headers={"Authorization": f"Bearer {METRICS_TOKEN}"}
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        return parse_samples(response.read().decode())


def per_worker(multiproc_dir: Path, layer: str) -> dict[int, float]:
    """Each process's own count of `layer`'s requests, from its file."""
    counts = {}
    for path in multiproc_dir.glob("counter_*.db"):
        samples = [s for m in MultiProcessCollector.merge([str(path)]) for s in m.samples]
        counts[int(path.stem.split("_")[1])] = sum(
            s.value for s in samples if s.name == REQUESTS[0] and s.labels["layer"] == layer
        )
    return counts


def wait_for_replacement(server, gone: int) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        pids = server.worker_pids()
        if gone not in pids and len(pids) == WORKERS:
            return
        time.sleep(0.2)
    raise AssertionError("gunicorn did not replace the killed worker")


def test_every_workers_counts_add_up_exactly_also_those_of_a_worker_that_died(server, multiproc_dir):
    tokens = [token_for(queue_token_issue(user=UserFactory())[0]) for _ in range(4)]

    send_rush(server, tokens, polls=60, lives=30)

    edge_by_worker = per_worker(multiproc_dir, "edge")
    assert len([pid for pid, count in edge_by_worker.items() if count]) >= 2, edge_by_worker  # spread out
    assert sum(edge_by_worker.values()) == 60
    assert sum(per_worker(multiproc_dir, "django").values()) >= 30  # /health/live, and the start's /health

    victim = max(edge_by_worker, key=edge_by_worker.get)
    os.kill(victim, signal.SIGKILL)
    wait_for_replacement(server, victim)
    send_rush(server, tokens, polls=40, lives=20)

    samples = scrape(server)
    assert value(samples, REQUESTS[0], layer="edge", method="GET", route=POLL, status="200") == 100
    assert value(samples, REQUESTS[0], layer="django", method="GET", route="/health/live", status="200") == 50
    poll_seconds = {"layer": "edge", "method": "GET", "route": POLL}
    assert value(samples, "concert_http_request_duration_seconds_count", **poll_seconds) == 100
    assert value(samples, "concert_queue_waiting") + value(samples, "concert_queue_active") == 4

    log = server.log_path.read_text()
    lines = [json.loads(line) for line in log.splitlines() if line.startswith("{")]
    access = [line for line in lines if line["logger"].startswith("concert_booking.access")]
    assert len([line for line in access if line["route"] == "/health/live" and line["status"] == 200]) == 50
    assert len([line for line in access if line["route"] == POLL and line["layer"] == "edge"]) == 100
    assert all(line["request_id"] for line in access)
    assert not [token for token in tokens if token in log]
