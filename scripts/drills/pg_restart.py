"""Fault drill: PostgreSQL restarts in the middle of a load run.

    .venv/bin/python -m scripts.drills.pg_restart [--down-seconds 5]

While shoppers poll, read seat maps and hold seats, PostgreSQL is stopped for a few seconds
and started again. Passes when: no request got a 500 or an HTML error (during the outage they
are 503 problem details), /health said 503 while the database was down, the service answered
normally again within seconds of the database coming back, and the ledger audit is clean.
It restarts the machine's PostgreSQL cluster: run it alone, not beside other tests.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import threading
import time
from collections import Counter
from pathlib import Path

from bench.server import Gunicorn, bench_env, database_reset, manage, redis_reset
from scripts.drills.common import REDIS_URL, Api, audit, key_header, queue_header, seed_world

DATABASE_URL = "postgres://postgres@127.0.0.1:5432/cb_drill_bench"
RECOVERY_LIMIT_SECONDS = 10


def cluster(action: str) -> None:
    version = sorted(Path("/etc/postgresql").iterdir())[0].name
    subprocess.run(["pg_ctlcluster", "--skip-systemctl-redirect", version, "main", action], check=True)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--down-seconds", type=float, default=5)
    args = parser.parse_args()

    env = bench_env(DATABASE_URL, REDIS_URL)
    env["GUNICORN_WORKERS"] = "4"
    database_reset(DATABASE_URL)
    redis_reset(REDIS_URL)
    manage(env, "migrate", "--noinput")
    manage(env, "collectstatic", "--noinput")
    server = Gunicorn(env, Path("/tmp/pg-restart-gunicorn.log"))
    server.start()
    api = Api(server.port, timeout=15)
    concert_id, shoppers = seed_world(env, api, shoppers=8, dates=["2030-01-01"], balance=100_000)
    for shopper in shoppers:
        shopper.queue_token = api.call("POST", "/api/v1/queue/tokens", headers=key_header(shopper)).body["token"]

    stop = threading.Event()
    tally: Counter = Counter()
    bad_bodies: list[str] = []
    lock = threading.Lock()

    def load(shopper, offset):
        seat = offset
        while not stop.is_set():
            for method, path, body in (
                ("GET", "/api/v1/queue/status", None),
                ("GET", f"/api/v1/concerts/{concert_id}/dates/2030-01-01/seats", None),
                ("POST", "/api/v1/reservations", {"concert_id": concert_id, "date": "2030-01-01", "seat_number": seat}),
            ):
                reply = api.call(method, path, body, queue_header(shopper))
                with lock:
                    tally[reply.status] += 1
                    if reply.status >= 500 and not (reply.status == 503 and "problem+json" in reply.content_type):
                        bad_bodies.append(f"{reply.status} {reply.content_type} {path}")
            seat = seat % 50 + 1
            time.sleep(0.05)

    threads = [threading.Thread(target=load, args=(s, i * 6 + 1)) for i, s in enumerate(shoppers)]
    for thread in threads:
        thread.start()
    time.sleep(2)
    cluster("stop")
    time.sleep(1)
    health_during = api.call("GET", "/health").status
    time.sleep(max(args.down_seconds - 1, 0))
    cluster("start")
    back_at = time.monotonic()
    recovered_after = None
    while time.monotonic() - back_at < 30:
        if api.call("GET", "/health").status == 200 and api.call("GET", "/api/v1/concerts").status == 200:
            recovered_after = time.monotonic() - back_at
            break
        time.sleep(0.2)
    time.sleep(2)
    stop.set()
    for thread in threads:
        thread.join()
    server.stop()

    passed_audit, report = audit(env)
    print(f"pg_restart: database down {args.down_seconds:.0f}s under load from {len(shoppers)} shoppers")
    print(f"  statuses: {dict(sorted(tally.items()))}")
    print(f"  500s or non-problem errors: {len(bad_bodies)} {bad_bodies[:5]}")
    print(f"  /health while down: {health_during}")
    print(f"  recovered {recovered_after:.1f}s after the database came back" if recovered_after else "  NOT recovered")
    print(f"  audit: {report}")
    ok = (
        not bad_bodies
        and health_during == 503
        and recovered_after is not None
        and recovered_after <= RECOVERY_LIMIT_SECONDS
        and passed_audit
    )
    print("PASS" if ok else "FAIL")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
