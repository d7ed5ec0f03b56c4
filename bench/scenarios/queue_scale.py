"""Scenario 6: does the poll slow down with the length of the line? A line of 100 WAITING entries
(SQL), polls at a few connections; then a million more (SQL, then the line rebuilt in Redis from
PostgreSQL), the same again. Judged on the p50 of each, normalised by its own floor."""

from __future__ import annotations

import time

from django.conf import settings

from bench import fixtures
from bench.rows import measured_row, unexpected
from bench.scenarios.queue_poll import STATUS_PATH
from bench.targets import TARGETS

NUMBER = "6"


def run(bench) -> None:
    checks, sizes = bench.checks, bench.sizes
    target = TARGETS["6b"]
    bench.queue_reset()
    fixtures.line_seed(prefix="line_active_", first=1, count=settings.QUEUE_ACTIVE_LIMIT, status="ACTIVE")
    fixtures.line_seed(prefix="line_", first=1, count=sizes.line_small, status="WAITING")
    fixtures.analyze("accounts_user", "queue_queueentry")
    measured = {}
    for label, size in (("small", sizes.line_small), ("big", sizes.line_big)):
        if label == "big":
            t0 = time.monotonic()
            fixtures.line_seed(
                prefix="line_", first=sizes.line_small + 1, count=size - sizes.line_small, status="WAITING"
            )
            fixtures.analyze("accounts_user", "queue_queueentry")
            bench.log(
                f"6: seeded {size - sizes.line_small:,} more WAITING entries (and users) with SQL, line rebuilt"
                f" in Redis, in {time.monotonic() - t0:.1f}s"
            )
        counts = checks.line_counts()
        tokens = checks.line_sample_tokens(status="WAITING", count=min(sizes.line_sample, size))
        reqs = [{"method": "GET", "path": STATUS_PATH, "headers": {"X-Queue-Token": t}} for t in tokens]
        result, floor = bench.paired(f"6-poll-{label}", bench.part(reqs, sizes.line_conns), profile=label == "big")
        measured[label] = (result, floor)
        row = measured_row(
            id="6a" if label == "small" else "6b",
            name=f"queue poll with {counts.get('WAITING', 0):,} WAITING in line",
            result=result,
            floor=floor,
        )
        row.problems += unexpected(result, {200})
        if counts.get("WAITING", 0) != size:
            row.problems.append(f"line has {counts} entries, expected {size} WAITING")
        if label == "small":
            bench.add(row)
    (small, small_floor), (big, big_floor) = measured["small"], measured["big"]
    raw = big["p50_ms"] / small["p50_ms"]
    normalised = (big["p50_ms"] / big_floor["p50_ms"]) / (small["p50_ms"] / small_floor["p50_ms"])
    row.target = target.text()
    row.verdict = "PASS" if normalised <= target.max_p50_growth else "FAIL"
    row.measured = f"p50 {normalised:.2f} x the short line's (raw {raw:.2f} x)"
    bench.add(row)
