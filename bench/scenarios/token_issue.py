"""Scenario 3: taking a queue token (POST /api/v1/queue/tokens), each user once, against 1, 2 and
3 gunicorn servers at the same time.

Each server is a gunicorn master of its own on its own port, with the project's settings
unchanged (the default worker count each: a second server adds workers, as a second host
would), sharing the database and Redis. The connections are the same in total, split between
the servers, and so are the users: each wrk process gets its share. Since issue 11 joining takes
no lock on a shared row, so the rate should grow with servers, or at least not shrink. Between
rows everyone leaves the line and the same users join again: a user with no live entry, as in
the first row.
"""

from __future__ import annotations

import string
import time

from bench.harness import Part
from bench.rows import measured_row, throughput_row, unexpected
from bench.targets import TARGETS

NUMBER = "3"


def run(bench) -> None:
    seed, sizes = bench.seed, bench.sizes
    bench.queue_reset()
    t0 = time.monotonic()
    users = seed.users_create("issue_", sizes.issue_users)
    bench.log(f"3: {len(users)} users with API keys created in {time.monotonic() - t0:.1f}s")
    reqs = [
        {
            "method": "POST",
            "path": "/api/v1/queue/tokens",
            "headers": {"Authorization": f"Token {u['api_key']}", "Content-Type": "application/json"},
            "body": "{}",
        }
        for u in users
    ]
    servers = [bench.app, *bench.extra_servers]
    one_server = None
    try:
        for count in range(1, len(servers) + 1):
            if count > 1:
                bench.queue_reset()
            parts = [
                Part(s, reqs[i::count], sizes.conns // count + (1 if i < sizes.conns % count else 0))
                for i, s in enumerate(servers[:count])
            ]
            row_id = f"3{string.ascii_lowercase[count - 1]}"
            result, floor = bench.paired(f"{row_id}-issue", parts, distinct=True, profile=count == 1)
            name = f"token issue, distinct users, {count} server{'s' if count > 1 else ''}"
            ratio = result["rps"] / floor["rps"]
            if count == 1:
                row = throughput_row(id=row_id, name=name, result=result, floor=floor)
                one_server = ratio
            else:
                target = TARGETS[row_id]
                row = measured_row(id=row_id, name=name, result=result, floor=floor)
                row.target = target.text()
                row.verdict = "PASS" if ratio / one_server >= target.min_vs_one_server else "FAIL"
                row.measured = f"{ratio / one_server:.2f} x the one-server rate ({ratio:.2f} x floor)"
            row.notes.append(
                f"{count} gunicorn master{'s' if count > 1 else ''} with the project's settings each;"
                f" {' + '.join(str(p.conns) for p in parts)} connections"
            )
            row.problems += unexpected(result, {201})
            if result["requests"] >= len(users) * 0.95:
                row.notes.append("ran out of pre-created users before the duration ended")
            bench.add(row)
    finally:
        for s in bench.extra_servers:
            s.stop()
    bench.queue_reset()
