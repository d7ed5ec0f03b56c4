"""Scenario 9: the cost of one request without HTTP or scheduling noise: each endpoint called
in-process through Django's test client (the full middleware stack and DRF, same settings,
database and Redis as the server), counting SQL queries and this process's CPU time per request.

On a shared machine the HTTP figures swing with everyone else's load; query counts do not, and
CPU time per request moves much less. Together they say what a change to the app would buy.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import statistics
import time

from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from bench.rows import Row

NUMBER = "9"


def _call(client: Client, method: str, path: str, headers: dict, body: dict | None = None) -> tuple[int, int, float]:
    with CaptureQueriesContext(connection) as queries:
        started = time.process_time()
        if method == "GET":
            response = client.get(path, headers=headers)
        else:
            response = client.post(path, data=json.dumps(body or {}), content_type="application/json", headers=headers)
        cpu = time.process_time() - started
    return response.status_code, len(queries), cpu


def run(bench) -> None:
    day = dt.date.today() + dt.timedelta(days=20)
    concert_id = bench.seed.concert_seed(title="Bench probe", dates=[day])
    # The app logs every 4xx (django.request); the 409 case below would fill the terminal.
    request_log = logging.getLogger("django.request")
    level = request_log.level
    request_log.setLevel(logging.ERROR)
    try:
        bench.costs = request_costs(bench, concert_id=concert_id, date=day.isoformat(), repeat=bench.sizes.probe_repeat)
    finally:
        request_log.setLevel(level)
    for row in bench.costs:
        if not row["ok"]:
            bench.add(Row(id="9", name=f"request cost {row['endpoint']}", problems=[f"statuses {row['statuses']}"]))
    bench.log("9: per-request cost measured in-process")


def request_costs(bench, *, concert_id: int, date: str, repeat: int) -> list[dict]:
    seed, checks = bench.seed, bench.checks
    client = Client(HTTP_HOST="127.0.0.1")
    bench.queue_reset()
    seed.active_limit_set(repeat + 1)
    active = seed.users_create("probe_a_", repeat + 1)
    seed.tokens_issue(active)
    spare = active.pop()  # still ACTIVE after everyone else paid: for the 409 case
    waiting = seed.users_create("probe_w_", 5)
    seed.tokens_issue(waiting)
    fresh = seed.users_create("probe_i_", repeat)
    seed.wallets_charge(active, 1_000_000)
    rows = []

    def measure(name: str, calls: list[tuple], expect: int) -> None:
        # One warm-up call on the same kind of request, not counted (a fresh DB connection, caches).
        _call(client, *calls[0][:3], *(calls[0][3:]))
        results = [_call(client, *c) for c in calls[1:]]
        statuses = {s for s, _, _ in results}
        rows.append(
            {
                "endpoint": name,
                "requests": len(results),
                "queries": statistics.median(q for _, q, _ in results),
                "cpu_ms": 1000 * statistics.median(c for _, _, c in results),
                "statuses": sorted(statuses),
                "ok": statuses == {expect},
            }
        )

    n = repeat
    measure("GET /health/live (the floor view in the project)", [("GET", "/health/live", {})] * (n + 1), 200)
    tok = [{"X-Queue-Token": u["token"]} for u in active]
    wtok = [{"X-Queue-Token": u["token"]} for u in waiting]
    measure("GET /queue/status (ACTIVE)", [("GET", "/api/v1/queue/status", tok[i % n]) for i in range(n + 1)], 200)
    measure("GET /queue/status (WAITING)", [("GET", "/api/v1/queue/status", wtok[i % 5]) for i in range(n + 1)], 200)
    seats = f"/api/v1/concerts/{concert_id}/dates/{date}/seats"
    measure("GET .../seats (seat map)", [("GET", seats, tok[i % n]) for i in range(n + 1)], 200)
    dates = f"/api/v1/concerts/{concert_id}/dates"
    measure("GET .../dates (dates list)", [("GET", dates, tok[i % n]) for i in range(n + 1)], 200)
    measure(
        "POST /queue/tokens (new user)",
        [("POST", "/api/v1/queue/tokens", {"Authorization": f"Token {u['api_key']}"}, {}) for u in fresh],
        201,
    )
    # The first user's token was spent on the warm-up of each write below.
    holds = [
        ("POST", "/api/v1/reservations", tok[i], {"concert_id": concert_id, "date": date, "seat_number": 1 + i})
        for i in range(n)
    ]
    before = checks.reservation_ids()
    measure("POST /reservations (hold)", holds, 201)
    held = checks.reservation_ids() - before
    by_user = checks.reservations_by_user(held)
    pays = [
        ("POST", "/api/v1/payments", tok[i], {"reservation_ids": by_user.get(u["user_id"], [0])})
        for i, u in enumerate(active)
    ]
    measure("POST /payments (1 seat)", pays, 201)
    measure(
        "POST /reservations (409 taken)",
        [
            (
                "POST",
                "/api/v1/reservations",
                {"X-Queue-Token": spare["token"]},
                {"concert_id": concert_id, "date": date, "seat_number": 1 + i},
            )
            for i in range(n)
        ],
        409,
    )
    bench.queue_reset()
    return rows
