"""Fault drill: PostgreSQL restarts in the middle of a load run on the cluster.

    .venv/bin/python -m scripts.drills.pg_restart [--down-seconds 5] [--machine]

Three web servers and two qclusters (scripts/cluster.py) share the database and a Redis; while
shoppers poll, read seat maps and hold seats on all three, PostgreSQL is stopped for a few
seconds and started again. By default it is a throwaway PostgreSQL of the drill's own (initdb in
/tmp, a free port: nobody else's work is disturbed); `--machine` restarts the machine's cluster
with pg_ctlcluster instead (run it alone then, not beside tests or benchmarks).

Passes when: no request got a 500 or an HTML error (during the outage they are 503 problem
details with Retry-After), every server's /health said 503 while the database was down, every
server answered normally again within seconds of the database coming back, both qclusters
outlived the outage and ran a scheduled task after it, and the ledger audit is clean.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import psycopg

from bench.server import database_reset, free_port, redis_reset
from scripts.cluster import Cluster
from scripts.drills.common import REDIS_URL, Api, audit, key_header, queue_header, seed_world, use_app_rev, verdict
from scripts.drills.crowd import Tally

DATABASE = "cb_drill_bench"
RECOVERY_LIMIT_SECONDS = 10
SCHEDULE_LIMIT_SECONDS = 90  # the scheduled tasks run every minute
SHOPPERS = 8


class MachinePostgres:
    """The machine's own cluster, stopped and started with pg_ctlcluster."""

    url = f"postgres://postgres@127.0.0.1:5432/{DATABASE}"

    def __init__(self):
        self.version = sorted(Path("/etc/postgresql").iterdir())[0].name

    def _ctl(self, action: str) -> None:
        subprocess.run(["pg_ctlcluster", "--skip-systemctl-redirect", self.version, "main", action], check=True)

    def stop(self) -> None:
        self._ctl("stop")

    def start(self) -> None:
        self._ctl("start")

    def remove(self) -> None:
        pass


class OwnPostgres:
    """A throwaway PostgreSQL: initdb in a temporary directory, trust authentication, a free port
    on 127.0.0.1. Run as the postgres user when we are root (PostgreSQL refuses root)."""

    def __init__(self):
        self.bin = sorted(Path("/usr/lib/postgresql").glob("*/bin"))[-1]
        self.port = free_port()
        self.dir = Path(tempfile.mkdtemp(prefix="drill-pg-"))
        self.data = self.dir / "data"
        self.url = f"postgres://postgres@127.0.0.1:{self.port}/{DATABASE}"
        if os.geteuid() == 0:
            shutil.chown(self.dir, "postgres")
        self._run("initdb", "-D", str(self.data), "-A", "trust", "-U", "postgres", "--no-sync")
        self.start()

    def _run(self, program: str, *args: str) -> None:
        argv = [str(self.bin / program), *args]
        if os.geteuid() == 0:
            argv = ["runuser", "-u", "postgres", "--", *argv]
        subprocess.run(argv, check=True, capture_output=True)

    def start(self) -> None:
        options = f"-p {self.port} -k {self.dir} -c listen_addresses=127.0.0.1 -c fsync=off"
        self._run("pg_ctl", "-D", str(self.data), "-o", options, "-l", str(self.dir / "log"), "-w", "start")

    def stop(self) -> None:
        self._run("pg_ctl", "-D", str(self.data), "-m", "fast", "-w", "stop")

    def remove(self) -> None:
        try:
            self.stop()
        except subprocess.CalledProcessError:
            pass  # not running
        shutil.rmtree(self.dir, ignore_errors=True)


def load(api: Api, shopper, concert_id: int, first_seat: int, phase, tally: Tally, stop: threading.Event) -> None:
    seat = first_seat
    while not stop.is_set():
        hold = {"concert_id": concert_id, "date": "2030-01-01", "seat_number": seat}
        for label, method, path, body in (
            ("poll", "GET", "/api/v1/queue/status", None),
            ("seats", "GET", f"/api/v1/concerts/{concert_id}/dates/2030-01-01/seats", None),
            ("hold", "POST", "/api/v1/reservations", hold),
        ):
            reply = api.call(method, path, body, queue_header(shopper))
            tally.record(f"{label} ({phase()})", reply)
        seat = seat % 50 + 1
        time.sleep(0.05)


def scheduled_task_ran_since(database_url: str, since) -> bool:
    with psycopg.connect(database_url) as db:
        ran = db.execute("SELECT count(*) FROM django_q_task WHERE started > %s AND success", [since])
        return ran.fetchone()[0] > 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--down-seconds", type=float, default=5)
    parser.add_argument("--machine", action="store_true", help="restart the machine's PostgreSQL (pg_ctlcluster)")
    parser.add_argument("--app-rev", help="run the application as committed at this revision, not the working tree")
    args = parser.parse_args()
    use_app_rev(args.app_rev)

    postgres = MachinePostgres() if args.machine else OwnPostgres()
    try:
        return drill(postgres, args.down_seconds, "the machine's" if args.machine else "its own")
    finally:
        postgres.remove()


def drill(postgres, down_seconds: float, whose: str) -> int:
    database_reset(postgres.url)
    redis_reset(REDIS_URL)
    # Tokens stay ACTIVE for the whole run; the shoppers come from one address.
    settings = {"THROTTLING": "off", "QUEUE_ACTIVE_TTL_SECONDS": "86400"}
    cluster = Cluster(web=3, qcluster=2, database_url=postgres.url, redis_url=REDIS_URL, settings=settings)
    phase_now = ["before"]
    tally, stop = Tally(), threading.Event()
    with cluster:
        apis = [Api(port, timeout=15) for port in cluster.ports]
        concert_id, shoppers = seed_world(cluster.env, apis, shoppers=SHOPPERS, dates=["2030-01-01"], balance=100_000)
        for index, shopper in enumerate(shoppers):
            reply = apis[index % 3].call("POST", "/api/v1/queue/tokens", headers=key_header(shopper))
            shopper.queue_token = reply.body["token"]
        threads = [
            threading.Thread(
                target=load, args=(apis[i % 3], s, concert_id, i * 6 + 1, lambda: phase_now[0], tally, stop)
            )
            for i, s in enumerate(shoppers)
        ]
        for thread in threads:
            thread.start()
        time.sleep(2)
        phase_now[0] = "down"  # from the moment it begins to stop
        postgres.stop()
        time.sleep(1)
        health_during = [api.call("GET", "/health").status for api in apis]
        time.sleep(max(down_seconds - 1, 0))
        postgres.start()
        phase_now[0] = "after"
        back_at = time.monotonic()
        with psycopg.connect(postgres.url) as db:
            back_at_db = db.execute("SELECT now()").fetchone()[0]
        recovered_after: list[float | None] = []
        for api in apis:
            while time.monotonic() - back_at < 30:
                if api.call("GET", "/health").status == 200 and api.call("GET", "/api/v1/concerts").status == 200:
                    recovered_after.append(time.monotonic() - back_at)
                    break
                time.sleep(0.2)
            else:
                recovered_after.append(None)
        time.sleep(2)
        stop.set()
        for thread in threads:
            thread.join()
        qclusters_alive = all(process.running() for process in cluster.qclusters)
        give_up_at = time.monotonic() + SCHEDULE_LIMIT_SECONDS
        while not scheduled_task_ran_since(postgres.url, back_at_db) and time.monotonic() < give_up_at:
            time.sleep(2)
        schedule_ran = scheduled_task_ran_since(postgres.url, back_at_db)
        schedule_after = time.monotonic() - back_at
    passed_audit, report = audit(cluster.env)

    recovered = None not in recovered_after
    slowest = max(recovered_after) if recovered else None
    checks = {
        "no 500, no HTML error (503 problems with Retry-After while down)": not tally.broken,
        "every server's /health said 503 while down": health_during == [503] * len(apis),
        f"every server recovered within {RECOVERY_LIMIT_SECONDS}s": recovered and slowest <= RECOVERY_LIMIT_SECONDS,
        "both qclusters outlived the outage": qclusters_alive,
        "a scheduled task ran after it": schedule_ran,
        "ledger audit clean": passed_audit,
    }
    print(
        f"pg_restart: {whose} PostgreSQL down {down_seconds:.0f}s under load from {len(shoppers)} shoppers "
        "on 3 web servers + 2 qclusters"
    )
    print("\n".join(tally.lines()))
    print(f"  broken answers: {len(tally.broken)} {tally.broken[:5]}")
    print(f"  /health while down: {health_during}")
    print(f"  recovered {', '.join(f'{s:.1f}s' if s is not None else 'never' for s in recovered_after)} after")
    print(f"  scheduled task after the outage: {f'{schedule_after:.0f}s after' if schedule_ran else 'none'}")
    print(f"  audit: {report}")
    return verdict(checks)


if __name__ == "__main__":
    sys.exit(main())
