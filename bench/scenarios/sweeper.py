"""Scenario 7: the sweeper (`holds_sweep`) on 100,000 lapsed holds (SQL): first alone, then on a
fresh batch while wrk reads the seat map of a date being swept, from a second before the sweep
until it is done. Judged on holds/s under that load and on the seat map's p99 meanwhile."""

from __future__ import annotations

import datetime as dt
import threading
import time

from bench import fixtures
from bench.rows import Row, measured_row, unexpected
from bench.targets import TARGETS

NUMBER = "7"


def run(bench) -> None:
    from apps.reservations.services import holds_sweep

    seed, checks, sizes = bench.seed, bench.checks, bench.sizes
    target = TARGETS["7"]
    bench.queue_reset()
    users = seed.users_create("sweep_", max(8, sizes.sweep_conns))
    seed.tokens_issue(users)
    # First the sweeper alone, on its own batch of lapsed holds: the rate without a concurrent load.
    alone = fixtures.lapsed_holds_seed(
        count=sizes.lapsed_holds,
        user_id=users[0]["user_id"],
        first_date=dt.date.today() + dt.timedelta(days=5000),
        price=seed.PRICE,
    )
    bench.watch.wait_quiet()
    lapsed_alone = checks.lapsed_holds_left()  # the seeded ones, and any other that lapsed by now
    t = time.perf_counter()
    swept_alone = holds_sweep()
    alone_s = time.perf_counter() - t
    alone_rate = swept_alone / alone_s if alone_s else 0
    bench.log(f"7: sweeper alone: {swept_alone:,} holds in {alone_s:.2f}s = {alone_rate:,.0f} holds/s")
    t0 = time.monotonic()
    sweep = fixtures.lapsed_holds_seed(
        count=sizes.lapsed_holds,
        user_id=users[0]["user_id"],
        first_date=dt.date.today() + dt.timedelta(days=400),
        price=seed.PRICE,
    )
    bench.log(
        f"7: seeded {sweep['holds']:,} lapsed holds over {sweep['dates']} dates with SQL"
        f" in {time.monotonic() - t0:.1f}s"
    )
    date = (dt.date.today() + dt.timedelta(days=400 + sweep["dates"] // 2)).isoformat()
    path = f"/api/v1/concerts/{sweep['concert_id']}/dates/{date}/seats"
    reqs = [{"method": "GET", "path": path, "headers": {"X-Queue-Token": u["token"]}} for u in users]
    before, floor = bench.paired("7-seatmap-before", bench.part(reqs, sizes.sweep_conns))
    row = measured_row(id="7a", name="seat map of a swept date, before the sweep", result=before, floor=floor)
    row.problems += unexpected(before, {200})
    bench.add(row)

    outcome: dict = {}

    def sweeper() -> None:
        time.sleep(1.0)  # the load runs alone for a second first
        from django.db import connection

        t = time.perf_counter()
        outcome["swept"] = holds_sweep()
        outcome["seconds"] = time.perf_counter() - t
        connection.close()

    thread = threading.Thread(target=sweeper)
    bench.watch.wait_quiet()
    lapsed = checks.lapsed_holds_left()
    thread.start()
    if bench.tool == "wrk":
        during = bench.load(
            "7-seatmap-during",
            bench.part(reqs, sizes.sweep_conns),
            duration=120,
            stop_when=lambda: not thread.is_alive(),
            quiet=False,
        )
    else:
        during = bench.load(
            "7-seatmap-during", bench.part(reqs, sizes.sweep_conns), duration=max(3, sizes.duration), quiet=False
        )
    thread.join()
    rate = outcome["swept"] / outcome["seconds"] if outcome.get("seconds") else 0
    left = checks.lapsed_holds_left()
    problems = unexpected(during, {200})
    if swept_alone != lapsed_alone or lapsed_alone < alone["holds"]:
        problems.append(
            f"the sweeper alone swept {swept_alone} of {lapsed_alone} lapsed holds ({alone['holds']} seeded)"
        )
    if outcome.get("swept") != lapsed or lapsed < sweep["holds"] or left:
        problems.append(
            f"swept {outcome.get('swept')} of {lapsed} lapsed holds ({sweep['holds']} seeded), {left} left after"
        )
    responsive = during["p99_ms"] < target.max_p99_ms
    bench.add(
        Row(
            id="7",
            name=f"sweeper: {sweep['holds']:,} lapsed holds; seat map meanwhile",
            tool=during["tool"],
            conns=sizes.sweep_conns,
            result=during,
            floor=floor,
            target=target.text(),
            verdict="PASS" if rate >= target.min_rate and responsive and not problems else "FAIL",
            measured=f"{rate:,.0f} holds/s ({outcome.get('seconds', 0):.2f} s); seat map p99 {during['p99_ms']:.1f} ms",
            problems=problems,
            notes=[
                "the seat map load ran from 1 s before the sweep until it finished",
                f"the sweeper alone (no HTTP load, same size, just before): {alone_rate:,.0f} holds/s"
                f" ({swept_alone:,} in {alone_s:.2f} s)",
            ],
        )
    )
