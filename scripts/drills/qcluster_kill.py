"""Fault drill: the django-q2 cluster is killed in the middle of a sale, then restarted.

    .venv/bin/python -m scripts.drills.qcluster_kill

Holds are made with a short HOLD_SECONDS while qcluster runs; qcluster is killed with SIGKILL.
Passes when: the lapsed seats read as free and can be held again at once although no sweeper
runs (expiry is a predicate); after qcluster restarts, its scheduled sweep marks every lapsed
hold EXPIRED; two sweeps run at the same time afterwards change nothing; the audit is clean.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

from bench.server import PYTHON, ROOT, Gunicorn, bench_env, database_reset, manage, redis_reset
from scripts.drills.common import REDIS_URL, Api, audit, key_header, queue_header, seed_world

DATABASE_URL = "postgres://postgres@127.0.0.1:5432/cb_qdrill_bench"
HOLD_SECONDS = 3
CATCH_UP_LIMIT_SECONDS = 150  # the sweep is scheduled every minute


def start_cluster(env: dict) -> subprocess.Popen:
    log = open("/tmp/qcluster-drill.log", "a")
    return subprocess.Popen(
        [PYTHON, "manage.py", "qcluster"],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )


def lapsed_but_unmarked(env: dict) -> int:
    script = (
        "from django.utils import timezone; from apps.reservations.models import Reservation; "
        "print(Reservation.objects.filter(status='HELD', expires_at__lte=timezone.now()).count())"
    )
    return int(manage(env, "shell", "--no-imports", "-c", script).strip().splitlines()[-1])


def main() -> int:
    env = bench_env(DATABASE_URL, REDIS_URL)
    env.update({"HOLD_SECONDS": str(HOLD_SECONDS), "GUNICORN_WORKERS": "2"})
    database_reset(DATABASE_URL)
    redis_reset(REDIS_URL)
    manage(env, "migrate", "--noinput")
    manage(env, "collectstatic", "--noinput")
    server = Gunicorn(env, Path("/tmp/qdrill-gunicorn.log"))
    server.start()
    cluster = start_cluster(env)
    checks: dict[str, bool] = {}
    try:
        api = Api(server.port)
        concert_id, shoppers = seed_world(env, api, shoppers=10, dates=["2030-01-01"], balance=100_000)
        for shopper in shoppers:
            shopper.queue_token = api.call("POST", "/api/v1/queue/tokens", headers=key_header(shopper)).body["token"]
        seat = {"concert_id": concert_id, "date": "2030-01-01"}
        for number, shopper in enumerate(shoppers, start=1):
            api.call("POST", "/api/v1/reservations", {**seat, "seat_number": number}, queue_header(shopper))

        os.killpg(cluster.pid, signal.SIGKILL)
        cluster.wait()
        time.sleep(HOLD_SECONDS + 1)

        seats = api.call(
            "GET", f"/api/v1/concerts/{concert_id}/dates/2030-01-01/seats", headers=queue_header(shoppers[0])
        )
        checks["lapsed seats read free with no sweeper running"] = all(s["available"] for s in seats.body["seats"])
        rehold = api.call("POST", "/api/v1/reservations", {**seat, "seat_number": 2}, queue_header(shoppers[0]))
        checks["a lapsed seat can be held again at once"] = rehold.status == 201
        unmarked_before = lapsed_but_unmarked(env)

        cluster = start_cluster(env)
        started = time.monotonic()
        while lapsed_but_unmarked(env) and time.monotonic() - started < CATCH_UP_LIMIT_SECONDS:
            time.sleep(5)
        caught_up_after = time.monotonic() - started
        checks[f"the restarted cluster's sweep caught up ({unmarked_before} lapsed holds)"] = not lapsed_but_unmarked(
            env
        )

        outputs: list[str] = []
        sweeps = [threading.Thread(target=lambda: outputs.append(manage(env, "sweep_holds"))) for _ in range(2)]
        for sweep in sweeps:
            sweep.start()
        for sweep in sweeps:
            sweep.join()
        checks["two concurrent sweeps afterwards change nothing"] = all("swept 0 " in out for out in outputs)
    finally:
        if cluster.poll() is None:
            os.killpg(cluster.pid, signal.SIGTERM)
            try:
                cluster.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(cluster.pid, signal.SIGKILL)
                cluster.wait()
        server.stop()

    passed_audit, report = audit(env)
    checks["ledger audit clean"] = passed_audit
    print(
        f"qcluster_kill: holds of {HOLD_SECONDS}s, cluster killed with SIGKILL, "
        f"sweep caught up in {caught_up_after:.0f}s"
    )
    for name, ok in checks.items():
        print(f"  {'ok  ' if ok else 'FAIL'} {name}")
    print(f"  audit: {report}")
    return 0 if all(checks.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
