"""Soak: mixed traffic (poll, seat map, hold, pay, charge) against gunicorn with several
workers for a bounded time, then the ledger audit. Passes with zero 5xx and zero violations.

    .venv/bin/python -m scripts.drills.soak --seconds 60 --shoppers 40

A small queue limit and short holds make people wait in line and holds lapse, so every path
(admission, 409s, lapsed holds, idempotent retries) is exercised.
"""

from __future__ import annotations

import argparse
import random
import sys
import threading
import time
import uuid
from collections import Counter
from pathlib import Path

from bench.server import Gunicorn, bench_env, database_reset, manage, redis_reset
from scripts.drills.common import REDIS_URL, Api, Shopper, audit, key_header, queue_header, seed_world

DATABASE_URL = "postgres://postgres@127.0.0.1:5432/cb_soak_bench"


def shop(api: Api, shopper: Shopper, concert_id: int, deadline: float, tally: Counter, lock: threading.Lock) -> None:
    rng = random.Random(shopper.user_id)

    def call(label, method, path, body=None, headers=None):
        reply = api.call(method, path, body, headers)
        with lock:
            tally[(label, reply.status)] += 1
        return reply

    while time.monotonic() < deadline:
        shopper.queue_token = call("issue", "POST", "/api/v1/queue/tokens", headers=key_header(shopper)).body["token"]
        status = None
        while time.monotonic() < deadline:
            reply = call("poll", "GET", "/api/v1/queue/status", headers=queue_header(shopper))
            status = reply.body.get("status") if reply.body else None
            if status != "WAITING":
                break
            time.sleep(0.2)
        if status != "ACTIVE":
            continue
        dates = call("dates", "GET", f"/api/v1/concerts/{concert_id}/dates", headers=queue_header(shopper)).body
        if not dates or not dates.get("dates"):
            break  # sold out
        date = rng.choice(dates["dates"])["date"]
        seats = call("seats", "GET", f"/api/v1/concerts/{concert_id}/dates/{date}/seats", headers=queue_header(shopper))
        free = [seat["number"] for seat in (seats.body or {}).get("seats", []) if seat["available"]]
        held = []
        for number in rng.sample(free, min(len(free), rng.randint(1, 2))):
            body = {"concert_id": concert_id, "date": date, "seat_number": number}
            reply = call("hold", "POST", "/api/v1/reservations", body, queue_header(shopper))
            if reply.status == 201:
                held.append(reply.body["id"])
        if rng.random() < 0.2:
            charge = {"amount": rng.randint(1, 5) * 1000}
            call("charge", "POST", f"/api/v1/users/{shopper.user_id}/wallet/charge", charge, key_header(shopper))
        if held and rng.random() < 0.7:
            key = {"Idempotency-Key": uuid.uuid4().hex, **queue_header(shopper)}
            for _ in range(rng.choice([1, 1, 2])):  # sometimes a client retries the same payment
                call("pay", "POST", "/api/v1/payments", {"reservation_ids": held}, key)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--shoppers", type=int, default=40)
    parser.add_argument("--workers", type=int, default=4)
    args = parser.parse_args()

    env = bench_env(DATABASE_URL, REDIS_URL)
    env.update({"QUEUE_ACTIVE_LIMIT": "10", "QUEUE_ACTIVE_TTL_SECONDS": "20", "HOLD_SECONDS": "3",
                "GUNICORN_WORKERS": str(args.workers)})  # fmt: skip
    database_reset(DATABASE_URL)
    redis_reset(REDIS_URL)
    manage(env, "migrate", "--noinput")
    manage(env, "collectstatic", "--noinput")
    server = Gunicorn(env, Path("/tmp/soak-gunicorn.log"))
    server.start()
    try:
        api = Api(server.port)
        dates = ["2030-01-01", "2030-01-02", "2030-01-03"]
        concert_id, shoppers = seed_world(env, api, shoppers=args.shoppers, dates=dates, balance=20_000)
        tally: Counter = Counter()
        lock = threading.Lock()
        deadline = time.monotonic() + args.seconds
        threads = [
            threading.Thread(target=shop, args=(api, shopper, concert_id, deadline, tally, lock))
            for shopper in shoppers
        ]
        started = time.monotonic()
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=args.seconds + 60)
        elapsed = time.monotonic() - started
    finally:
        server.stop()

    manage(env, "sweep_holds")
    passed, report = audit(env)
    failures = {key: n for key, n in tally.items() if key[1] >= 500 or key[1] == 0}
    total = sum(tally.values())
    print(f"soak: {total} requests in {elapsed:.0f}s ({total / elapsed:.0f} req/s), {args.shoppers} shoppers")
    for label in sorted({label for label, _ in tally}):
        statuses = ", ".join(f"{status}x{n}" for (lab, status), n in sorted(tally.items()) if lab == label)
        print(f"  {label:7} {statuses}")
    print(f"  5xx or dropped: {sum(failures.values())}")
    print(f"  audit: {report}")
    return 0 if passed and not failures else 1


if __name__ == "__main__":
    sys.exit(main())
