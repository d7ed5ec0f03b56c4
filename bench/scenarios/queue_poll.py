"""Scenario 1: the queue poll (GET /api/v1/queue/status) with ACTIVE and with WAITING tokens,
and two references beside it: the floor view inside the project, and a plain view with one
database round trip.

Since issue 11 the line lives in Redis and a poll reads no database: the WAITING poll's row also
checks that no connection of the bench database started a statement during its run.
"""

from __future__ import annotations

from bench.rows import measured_row, throughput_row, unexpected
from bench.targets import TARGETS

NUMBER = "1"
STATUS_PATH = "/api/v1/queue/status"


def run(bench) -> None:
    seed, sizes = bench.seed, bench.sizes
    bench.queue_reset()
    seed.active_limit_set(sizes.poll_active)
    users = seed.users_create("poll_", sizes.poll_active + sizes.poll_waiting)
    seed.tokens_issue(users)
    active = [u["token"] for u in users if u["status"] == "ACTIVE"]
    waiting = [u["token"] for u in users if u["status"] == "WAITING"]
    assert len(active) == sizes.poll_active and len(waiting) == sizes.poll_waiting, (len(active), len(waiting))
    bench.active_tokens = active
    bench.log(f"1: {len(active)} ACTIVE and {len(waiting)} WAITING tokens")

    for row_id, kind, tokens in (("1a", "ACTIVE", active), ("1b", "WAITING", waiting)):
        reqs = [{"method": "GET", "path": STATUS_PATH, "headers": {"X-Queue-Token": t}} for t in tokens]
        result, floor, db = paired_watched(bench, f"{row_id}-poll", reqs, profile=True)
        row = throughput_row(id=row_id, name=f"queue poll, {kind} tokens", result=result, floor=floor)
        row.problems += unexpected(result, {200})
        limit = TARGETS[row_id].max_db_transactions
        if limit is not None:
            per_request = db.per_request(result["requests"])
            if db.backends:
                row.measured += f", statements from {len(db.backends)} connections (>= {per_request:.2f} tx/request)"
            else:
                row.measured += ", 0 PostgreSQL transactions/request"
            if per_request > limit or (limit == 0 and db.backends):
                row.verdict = "FAIL"
        row.notes.append(db.note(result["requests"]))
        bench.add(row)

    # The floor view inside the project: the project's settings and middleware around the same
    # one-line view that the floor app serves.
    result, floor = bench.paired("1f-live", bench.part([{"method": "GET", "path": "/health/live"}], sizes.conns))
    row = measured_row(
        id="1f", name="reference: GET /health/live, the floor view inside the project", result=result, floor=floor
    )
    row.problems += unexpected(result, {200})
    bench.add(row)

    # What any endpoint with one database round trip can reach here: a plain Django view
    # (no DRF, no ORM) that runs `SELECT 1`. Its PostgreSQL note is the control of the polls':
    # about one transaction per request.
    result, floor, db = paired_watched(bench, "1r-health", [{"method": "GET", "path": "/health"}])
    row = measured_row(id="1r", name="reference: GET /health, plain view + SELECT 1", result=result, floor=floor)
    row.problems += unexpected(result, {200})
    row.notes.append(db.note(result["requests"]))
    bench.add(row)


def paired_watched(bench, name: str, reqs: list[dict], profile: bool = False):
    """bench.paired, and what the server did in PostgreSQL meanwhile (the floor app has no database)."""
    with bench.watch.watching() as db:
        result, floor = bench.paired(name, bench.part(reqs, bench.sizes.conns), profile=profile)
    return result, floor, db
