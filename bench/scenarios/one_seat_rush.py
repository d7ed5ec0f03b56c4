"""Scenario 4: the one-seat rush: as many ACTIVE users as connections hold the same seat at the
same instant (every connection opened first, then all requests written at once). Exactly one
may win; the rest get 409 SEAT_UNAVAILABLE, none a 5xx. Beside it, the same burst on the floor
app: how long that many requests at once take here when the app does nothing."""

from __future__ import annotations

import json

from bench.harness import FLOOR_REQUEST
from bench.rows import Row, unexpected
from bench.targets import TARGETS

NUMBER = "4"
SEAT_NUMBER = 50


def run(bench) -> None:
    seed, checks, n, concert = bench.seed, bench.checks, bench.sizes.rush_one_seat, bench.concert
    target = TARGETS["4"]
    bench.queue_reset()
    seed.active_limit_set(n + 10)
    users = seed.users_create("one_", n)
    seed.tokens_issue(users)
    seed.active_limit_set(None)
    assert all(u["status"] == "ACTIVE" for u in users)
    seat = {"concert_id": concert.id, "date": concert.map_date.isoformat(), "seat_number": SEAT_NUMBER}
    reqs = [
        {
            "method": "POST",
            "path": "/api/v1/reservations",
            "headers": {"X-Queue-Token": u["token"], "Content-Type": "application/json"},
            "body": json.dumps(seat),
        }
        for u in users
    ]
    with bench.profiling("4-one-seat", 6):
        result = bench.run_py("4-one-seat", {"mode": "burst", "requests": reqs, "duration": 120}, timeout=180)
    result["tool"], result["conns"] = "py", n
    won = result["statuses"].get("201", 0)
    lost = result["codes"].get("409 SEAT_UNAVAILABLE", 0)
    in_db = checks.reservations_on_seat(concert_id=concert.id, date=concert.map_date, number=SEAT_NUMBER)
    problems = []
    if won != 1 or lost != n - 1:
        problems.append(
            f"expected exactly 1 x 201 and {n - 1} x 409 SEAT_UNAVAILABLE, got {result['statuses']} {result['codes']}"
        )
    if in_db.get("HELD", 0) != 1:
        problems.append(f"the seat has {in_db} reservations in the database, expected exactly one HELD")
    bench.add(
        Row(
            id="4",
            name=f"one-seat rush, {n} concurrent holds",
            tool="py",
            conns=n,
            result=result,
            target=target.text(),
            verdict="PASS" if not problems and result["p99_ms"] < target.max_p99_ms else "FAIL",
            measured=f"{won} x 201, {lost} x 409, p99 {result['p99_ms']:.0f} ms",
            problems=problems,
        )
    )
    floor = bench.run_py(
        "4-floor-burst", {"mode": "burst", "requests": [FLOOR_REQUEST] * n}, timeout=180, target=bench.floor_app
    )
    floor["tool"], floor["conns"] = "py", n
    reference = Row(id="4r", name=f"reference: {n} concurrent requests to the floor app", tool="py", conns=n)
    reference.result = floor
    reference.problems += unexpected(floor, {200})
    bench.add(reference)
    bench.queue_reset()
