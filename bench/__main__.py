"""The benchmark suite: `bench/run` (or `.venv/bin/python -m bench`), `--smoke` for CI.

Creates its own database and Redis database, starts the project under gunicorn on a free
loopback port with production settings, and beside it the floor app (bench/floor_app) under the
same gunicorn settings; seeds each scenario (bench/seed.py, bench/fixtures.py), drives the
servers over HTTP from separate processes (wrk, or the bench's asyncio driver), and prints a
table where every figure is also given as a ratio to the floor measured just before it, with
the same tool and the same number of connections. The scenarios are in bench/scenarios/, their
targets in bench/targets.py, the plumbing in bench/harness.py.

Exit status: 1 if a correctness check failed (any 5xx or transport error, a double sale, a
negative balance, money that does not add up, a one-seat rush without exactly one winner);
otherwise 0, also when a speed target is missed (`--strict` makes that 2).
"""

from __future__ import annotations

import argparse
import os
import sys

from bench import server
from bench.harness import Bench


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="bench/run", description=__doc__.split("\n\n")[0])
    parser.add_argument("--smoke", action="store_true", help="every scenario at tiny sizes (CI); speed never fails it")
    parser.add_argument("--tool", choices=["auto", "wrk", "py"], default="auto", help="load tool for closed-loop runs")
    parser.add_argument("--only", nargs="+", metavar="N", help="only these scenarios (1-9)")
    parser.add_argument("--profile", action="store_true", help="record py-spy profiles of the workers during the runs")
    parser.add_argument("--update-doc", action="store_true", help="write the table into BENCHMARKS.md")
    parser.add_argument("--strict", action="store_true", help="exit 2 when a speed target is missed")
    parser.add_argument("--workers", type=int, help="GUNICORN_WORKERS for the servers (the project's and the floor's)")
    parser.add_argument("--threads", type=int, help="GUNICORN_THREADS for the servers (the project's and the floor's)")
    parser.add_argument(
        "--app-rev",
        metavar="REV",
        help="benchmark the app as committed at REV (git archive into bench/results/) instead of the working tree",
    )
    parser.add_argument(
        "--server-env",
        action="append",
        metavar="NAME=VALUE",
        help="extra environment for the server under test (and the seeding), e.g. DB_CONN_MAX_AGE=0; repeatable",
    )
    parser.add_argument(
        "--database-url",
        default=os.environ.get("BENCH_DATABASE_URL", server.DEFAULT_DATABASE_URL),
        help="the bench's own database (dropped and created; its name must contain 'bench')",
    )
    parser.add_argument(
        "--redis-url",
        default=os.environ.get("BENCH_REDIS_URL", server.DEFAULT_REDIS_URL),
        help="the bench's own Redis database (flushed; not database 0)",
    )
    args = parser.parse_args(argv)
    return Bench(args).run()


if __name__ == "__main__":
    sys.exit(main())
