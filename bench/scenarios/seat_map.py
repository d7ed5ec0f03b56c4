"""Scenario 2: what an admitted user reads: the seat map of a date (50 seats, 8 held, 12 sold)
and the list of a concert's bookable dates. Both need an ACTIVE queue token."""

from __future__ import annotations

from bench.rows import throughput_row, unexpected

NUMBER = "2"


def run(bench) -> None:
    seed, sizes, concert = bench.seed, bench.sizes, bench.concert
    tokens = bench.active_tokens
    if not tokens:  # run without scenario 1
        bench.queue_reset()
        users = seed.users_create("map_", sizes.poll_active)
        seed.tokens_issue(users)
        tokens = bench.active_tokens = [u["token"] for u in users]
    pages = (
        (
            "2",
            "2-seatmap",
            f"seat map, 50 seats ({concert.dress['held']} held, {concert.dress['sold']} sold)",
            f"/api/v1/concerts/{concert.id}/dates/{concert.map_date.isoformat()}/seats",
        ),
        ("2d", "2d-dates", f"dates list, {len(concert.dates)} dates", f"/api/v1/concerts/{concert.id}/dates"),
    )
    for row_id, name, title, path in pages:
        reqs = [{"method": "GET", "path": path, "headers": {"X-Queue-Token": t}} for t in tokens]
        result, floor = bench.paired(name, bench.part(reqs, sizes.conns), profile=True)
        row = throughput_row(id=row_id, name=title, result=result, floor=floor)
        row.problems += unexpected(result, {200})
        bench.add(row)
