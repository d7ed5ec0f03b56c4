"""Fault drill: Redis restarts empty in the middle of a rush; the line comes back from PostgreSQL.

    .venv/bin/python -m scripts.drills.redis_restart [--down-seconds 3]

A redis-server of the drill's own (a free port, no persistence: a restart loses everything, the
line included) and a Cluster pointed at it: three web servers, two qclusters. 200 users arrive
over a few seconds, take a token and poll round the servers; those admitted hold a seat and one
in three pays (which frees the slot), one in three only holds (its admission is then recorded in
PostgreSQL) and one in three only polls (admitted in the line alone). Meanwhile Redis is shut
down (SHUTDOWN NOSAVE) and started again, empty, a few seconds later.

Passes when: nothing answered 500 (while Redis was down, 503 problem details with Retry-After);
no request that failed left its change behind; afterwards every user who got a token still has
their place (WAITING or ACTIVE, never 401; WAITING positions in ticket order), the admissions
PostgreSQL had recorded are still ACTIVE with the same expiry, no paid token came back; ACTIVE
never passed the limit and no user held two slots; the ledger audit is clean.
"""

from __future__ import annotations

import argparse
import datetime as dt
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import psycopg
import redis

from bench.server import database_reset, free_port
from scripts.cluster import Cluster
from scripts.drills.common import (
    PRICE,
    Api,
    Reply,
    Shopper,
    audit,
    key_header,
    queue_header,
    seed_world,
    use_app_rev,
    verdict,
)
from scripts.drills.crowd import ACTIVE_KEY, Client, Tally, Watcher

DATABASE_URL = "postgres://postgres@127.0.0.1:5432/cb_redis_restart_bench"
DATES = ["2030-01-01", "2030-01-02", "2030-01-03", "2030-01-04"]  # 50 seats each: one per user
PROBE_DATE = "2030-01-05"  # the probe's seats
LIMIT = 20
ARRIVAL_SECONDS = 8  # the users arrive spread over this
DOWN_AT_SECONDS = 3  # Redis goes down this long after the first arrival
AFTER_SECONDS = 8  # the rush goes on this long after Redis is back
POLL_INTERVAL = 1.0  # at most; the server's poll_after_seconds if shorter
MAINTAIN = "from apps.queue.services import queue_maintain; print(queue_maintain())"


class RedisServer:
    """redis-server on a port of its own, persisting nothing: a restart starts it empty."""

    def __init__(self, port: int, log_dir: Path):
        self.port, self.log_dir = port, log_dir
        self.url = f"redis://127.0.0.1:{port}/0"
        self.proc: subprocess.Popen | None = None

    def start(self) -> None:
        argv = ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"]
        with open(self.log_dir / "redis.log", "ab") as log:
            self.proc = subprocess.Popen(
                argv, cwd=self.log_dir, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
            )
        client = redis.Redis(port=self.port, retry=None)
        deadline = time.monotonic() + 10
        while True:
            try:
                client.ping()
                return
            except redis.exceptions.ConnectionError:
                if time.monotonic() > deadline or self.proc.poll() is not None:
                    raise RuntimeError(f"redis-server did not start; see {self.log_dir / 'redis.log'}") from None
                time.sleep(0.05)

    def shutdown(self) -> None:
        """SHUTDOWN NOSAVE: everything in it is gone."""
        if self.proc is None or self.proc.poll() is not None:
            return
        try:
            redis.Redis(port=self.port, retry=None).shutdown(nosave=True)
        except redis.exceptions.ConnectionError:
            pass  # it closes the connection as it goes
        self.proc.wait(timeout=10)


class Outage:
    """When Redis went down and came back, to tell the answers apart."""

    def __init__(self):
        self.down_at: float | None = None
        self.up_at: float | None = None

    def phase(self) -> str:
        if self.down_at is None:
            return "before"
        return "down" if self.up_at is None else "after"


@dataclass
class Outcome:
    token: str | None = None
    admitted: bool = False
    paid: bool = False
    half_done: str = ""  # a request that failed but whose change was made
    taken_back: bool = False  # told ACTIVE, later WAITING again
    join_kept: bool = False  # a join answered 503 whose entry was made: the retry got it back (200)
    slowest_while_down: float = 0.0


def call(client: Client, outage: Outage, tally: Tally, outcome: Outcome, label: str, *args, **record) -> Reply:
    """One request, tallied under its phase; the slowest while Redis is down is noted."""
    began, phase = time.monotonic(), outage.phase()
    reply, _ = client.call(*args)
    if phase == "down" or outage.phase() == "down":
        outcome.slowest_while_down = max(outcome.slowest_while_down, time.monotonic() - began)
    tally.record(f"{label} ({phase})", reply, **record)
    return reply


def retried(make_call, stop: threading.Event) -> Reply:
    """Repeat while the answer is a retryable 503, as Retry-After says (until the drill stops)."""
    reply = make_call()
    while reply.status == 503 and not stop.is_set():
        time.sleep(float(reply.retry_after or 1))
        reply = make_call()
    return reply


def hold(index: int, user: Shopper, concert_id: int, ask, stop: threading.Event, outcome: Outcome) -> int | None:
    """Hold the user's own seat: the reservation's id, or None if the token is not ACTIVE after all
    (the line lost the admission and queued it again: back to polling)."""
    seat = {"concert_id": concert_id, "date": DATES[index // 50 % len(DATES)], "seat_number": index % 50 + 1}
    statuses = []

    def attempt() -> Reply:
        reply = ask("hold", "POST", "/api/v1/reservations", seat, queue_header(user))
        statuses.append(reply.status)
        return reply

    reply = retried(attempt, stop)
    if reply.status == 201:
        return reply.body["id"]
    if reply.status == 409 and 503 in statuses:  # only this user ever asks for this seat
        outcome.half_done = "a hold answered 503 was made all the same (its retry: 409 SEAT_UNAVAILABLE)"
        mine = ask("mine", "GET", "/api/v1/reservations", None, key_header(user))
        return next((r["id"] for r in (mine.body or {}).get("results", []) if r["status"] == "HELD"), None)
    return None


def pay(user: Shopper, reservation_id: int, ask, stop: threading.Event) -> bool:
    """Pay for the hold, with one Idempotency-Key for every retry."""
    headers = {"Idempotency-Key": uuid.uuid4().hex, **queue_header(user)}
    body = {"reservation_ids": [reservation_id]}
    return retried(lambda: ask("pay", "POST", "/api/v1/payments", body, headers), stop).status == 201


def visit(index: int, user: Shopper, apis: list[Api], concert_id: int, arrives_at: float, outage: Outage, tally: Tally,
          stop: threading.Event, outcome: Outcome) -> None:  # fmt: skip
    """Join, poll; once ACTIVE, stay a few seconds and pay. Every other user holds at once (its
    admission is then recorded in PostgreSQL), the others only poll until they hold and pay
    (admitted in the line alone meanwhile). Payments free slots before, during and after the outage."""
    client = Client(apis, index % len(apis))
    linger = 2 + index % 4

    def ask(label, *args, **record) -> Reply:
        return call(client, outage, tally, outcome, label, *args, **record)

    time.sleep(max(0.0, arrives_at - time.monotonic()))
    joins = []

    def join() -> Reply:
        joins.append(ask("join", "POST", "/api/v1/queue/tokens", None, key_header(user)))
        return joins[-1]

    reply = retried(join, stop)
    if reply.status not in (200, 201):
        return
    outcome.join_kept = reply.status == 200 and any(earlier.status == 503 for earlier in joins)
    outcome.token = user.queue_token = reply.body["token"]
    admitted_since = reservation_id = None
    while not stop.is_set():
        if reply.status in (200, 201) and reply.body["status"] == "ACTIVE":
            outcome.admitted = True
            admitted_since = admitted_since or time.monotonic()
            stayed = time.monotonic() - admitted_since >= linger
            if reservation_id is None and (index % 2 == 0 or stayed):
                reservation_id = hold(index, user, concert_id, ask, stop, outcome)
                if reservation_id is None:
                    admitted_since, outcome.taken_back = None, True  # not ACTIVE after all: wait again
            if reservation_id is not None and stayed:
                outcome.paid = pay(user, reservation_id, ask, stop)
                return
        elif reply.status == 200:
            admitted_since = None
            outcome.taken_back = outcome.taken_back or outcome.admitted
        pause = reply.body.get("poll_after_seconds", 1) if reply.status < 300 else float(reply.retry_after or 1)
        stop.wait(min(pause, POLL_INTERVAL))
        reply = ask("poll", "GET", "/api/v1/queue/status", None, queue_header(user), forbid=(401,))


class Probe:
    """One more user, admitted (and recorded) before the rush with two holds, who books while
    Redis is down: a third hold and the payment for the first. Whatever each answer, it must
    be the truth afterwards: a 503 changed nothing, a success changed what it says."""

    def __init__(self, user: Shopper, api: Api, concert_id: int):
        self.user, self.api, self.concert_id = user, api, concert_id
        self.held: list[int] = []
        self.answers: dict[str, Reply] = {}

    def seat(self, number: int) -> dict:
        return {"concert_id": self.concert_id, "date": PROBE_DATE, "seat_number": number}

    def prepare(self) -> None:
        token = self.api.call("POST", "/api/v1/queue/tokens", headers=key_header(self.user))
        self.user.queue_token = token.body["token"]
        for number in (1, 2):
            reply = self.api.call("POST", "/api/v1/reservations", self.seat(number), queue_header(self.user))
            if reply.status != 201:
                raise RuntimeError(f"probe: hold {number} answered {reply.status} {reply.body}")
            self.held.append(reply.body["id"])

    def book_while_down(self) -> None:
        self.answers["hold"] = self.api.call("POST", "/api/v1/reservations", self.seat(3), queue_header(self.user))
        payment = {"reservation_ids": [self.held[0]]}
        headers = {"Idempotency-Key": uuid.uuid4().hex, **queue_header(self.user)}
        self.answers["pay"] = self.api.call("POST", "/api/v1/payments", payment, headers)

    def untrue(self) -> list[str]:
        """The answers given while Redis was down that the reservations now contradict."""
        mine = self.api.call("GET", "/api/v1/reservations", headers=key_header(self.user)).body
        status = {r["seat_number"]: r["status"] for r in mine["results"]}
        hold, pay = self.answers["hold"].status, self.answers["pay"].status
        wrong = []
        if (hold == 201) != (3 in status):
            wrong.append(f"hold answered {hold} while Redis was down, and seat 3 is {status.get(3, 'not held')}")
        if (pay == 201) != (status.get(1) == "CONFIRMED"):
            wrong.append(f"payment answered {pay} while Redis was down, and seat 1 is {status.get(1)}")
        return wrong


def line_snapshot(database_url: str, redis_url: str) -> tuple[dict[int, dt.datetime], set[int]]:
    """Just before the outage: the admissions PostgreSQL has recorded (entry id -> expiry), and
    the entries holding a slot in the line."""
    with psycopg.connect(database_url) as db:
        recorded = dict(
            db.execute(
                "SELECT id, expires_at FROM queue_queueentry WHERE status = 'ACTIVE' AND expires_at > now()"
            ).fetchall()
        )
    holders = {int(member) for member in redis.Redis.from_url(redis_url, retry=None).zrange(ACTIVE_KEY, 0, -1)}
    return recorded, holders


def entry_ids(database_url: str) -> tuple[dict[int, int], int]:
    """user id -> their entry's id (the ticket), and the most entries any user has."""
    with psycopg.connect(database_url) as db:
        rows = db.execute("SELECT user_id, id FROM queue_queueentry ORDER BY id").fetchall()
        most = db.execute("SELECT count(*) FROM queue_queueentry GROUP BY user_id ORDER BY 1 DESC LIMIT 1")
        return dict(rows), most.fetchone()[0]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=200)
    parser.add_argument("--down-seconds", type=float, default=3)
    parser.add_argument("--app-rev", help="run the application as committed at this revision, not the working tree")
    args = parser.parse_args()
    use_app_rev(args.app_rev)
    started = time.monotonic()

    log_dir = Path(tempfile.mkdtemp(prefix="drill-redis-restart-"))
    store = RedisServer(free_port(), log_dir)
    store.start()
    database_reset(DATABASE_URL)
    settings = {
        "QUEUE_ACTIVE_LIMIT": str(LIMIT),
        "QUEUE_ACTIVE_TTL_SECONDS": "300",  # no token lapses during the drill: every place must survive
        "THROTTLE_SIGNUP": "100000/min",
        "THROTTLE_QUEUE_ISSUE": "100000/min",
        "THROTTLE_WALLET_CHARGE": "100000/min",
    }
    cluster = Cluster(
        web=3, qcluster=2, database_url=DATABASE_URL, redis_url=store.url, settings=settings, log_dir=log_dir
    )
    try:
        cluster.start()
        apis = [Api(port, timeout=30) for port in cluster.ports]
        dates = [*DATES, PROBE_DATE]
        concert_id, users = seed_world(cluster.env, apis, shoppers=args.users + 1, dates=dates, balance=PRICE)
        probe = Probe(users.pop(), apis[0], concert_id)
        probe.prepare()
        tally, outage, stop = Tally(), Outage(), threading.Event()
        outcomes = [Outcome() for _ in users]
        watcher = Watcher(redis_url=store.url, database_url=DATABASE_URL)
        watcher.start()
        began = time.monotonic()
        arrivals = [began + i * ARRIVAL_SECONDS / len(users) for i in range(len(users))]
        threads = [
            threading.Thread(
                target=visit, args=(i, user, apis, concert_id, arrivals[i], outage, tally, stop, outcomes[i])
            )
            for i, user in enumerate(users)
        ]
        for thread in threads:
            thread.start()

        time.sleep(DOWN_AT_SECONDS)
        recorded_before, holders_before = line_snapshot(DATABASE_URL, store.url)
        store.shutdown()
        outage.down_at = time.monotonic()
        health_while_down = apis[0].call("GET", "/health").status
        probe.book_while_down()
        time.sleep(max(0.0, args.down_seconds - (time.monotonic() - outage.down_at)))
        store.start()
        outage.up_at = time.monotonic()
        first_poll_ok = None
        while first_poll_ok is None and time.monotonic() - outage.up_at < 30:
            token = next((o.token for o in outcomes if o.token and not o.paid), None)
            if token and apis[0].call("GET", "/api/v1/queue/status", headers={"X-Queue-Token": token}).status == 200:
                first_poll_ok = time.monotonic() - outage.up_at
            time.sleep(0.05)
        time.sleep(max(0.0, AFTER_SECONDS - (time.monotonic() - outage.up_at)))
        stop.set()
        for thread in threads:
            thread.join()
        watcher.stop()

        # Settle: free slots filled, admissions recorded; then every place, checked at once.
        sync = cluster.manage("shell", "--no-imports", "-c", MAINTAIN).strip().splitlines()[-1]
        tickets, most_entries = entry_ids(DATABASE_URL)
        checker = Client(apis, 0)

        def place(index: int) -> Reply:
            return checker.call("GET", "/api/v1/queue/status", headers={"X-Queue-Token": outcomes[index].token})[0]

        holders = [i for i, o in enumerate(outcomes) if o.token]
        with ThreadPoolExecutor(max_workers=8) as pool:
            places = dict(zip(holders, pool.map(place, holders), strict=True))
        probe_untrue = probe.untrue()
    finally:
        cluster.stop()
        store.shutdown()
    passed_audit, report = audit(cluster.env)

    unpaid = [i for i in holders if not outcomes[i].paid]
    kept_place = [i for i in unpaid if places[i].status == 200 and places[i].body["status"] in ("WAITING", "ACTIVE")]
    waiting = sorted(
        (tickets[users[i].user_id], places[i].body["position"])
        for i in kept_place
        if places[i].body["status"] == "WAITING"
    )
    positions = [position for _, position in waiting]
    active_now = [i for i in kept_place if places[i].body["status"] == "ACTIVE"]
    by_ticket = {tickets[users[i].user_id]: i for i in holders}
    recorded_crowd = {ticket: expires for ticket, expires in recorded_before.items() if ticket in by_ticket}
    recorded_kept = [
        ticket
        for ticket, expires in recorded_crowd.items()
        if outcomes[by_ticket[ticket]].paid
        or (
            places[by_ticket[ticket]].body.get("status") == "ACTIVE"
            and dt.datetime.fromisoformat(places[by_ticket[ticket]].body["expires_at"]) == expires
        )
    ]
    line_only = [by_ticket[t] for t in holders_before - set(recorded_before) if t in by_ticket]
    taken_back = sum(outcomes[i].taken_back for i in line_only)
    admitted_again = sum(outcomes[i].paid or i in active_now for i in line_only)
    paid_back = [i for i in holders if outcomes[i].paid and places[i].status != 401]
    half_done = [o.half_done for o in outcomes if o.half_done] + probe_untrue
    slowest = max(o.slowest_while_down for o in outcomes)
    checks = {
        "no 500, only 503 problems with Retry-After while down; no poll refused with 401": not tally.broken,
        "every answer while down was the truth (a 503 changed nothing)": not half_done,
        "every user who got a token kept a place (WAITING or ACTIVE)": len(kept_place) == len(unpaid),
        "WAITING positions in ticket order": positions == sorted(set(positions)) and all(p >= 1 for p in positions),
        "admissions recorded before the outage kept, same expiry": len(recorded_kept) == len(recorded_crowd),
        "no paid token came back": not paid_back,
        f"ACTIVE at most {LIMIT} (samples and the final check)": max(watcher.max_redis, watcher.max_pg, len(active_now))
        <= LIMIT,
        "one entry per user": most_entries == 1,
        "ledger audit clean": passed_audit,
    }
    print(
        f"redis_restart: Redis (no persistence) shut down {DOWN_AT_SECONDS}s into a rush of {len(users)} users "
        f"on 3 web servers + 2 qclusters, back empty after {args.down_seconds:.0f}s; limit {LIMIT}"
    )
    print(
        f"  before the outage: {len(holders_before)} slots in the line, {len(recorded_before)} of them recorded "
        "in PostgreSQL"
    )
    print(
        f"  while down: slowest answer {slowest:.2f}s, /health {health_while_down} (it checks the database only); "
        f"first poll answered 200 {first_poll_ok or -1:.2f}s after Redis was back"
    )
    print(
        f"  afterwards: {len(kept_place)}/{len(unpaid)} unpaid tokens kept their place ({len(active_now)} ACTIVE, "
        f"{len(waiting)} WAITING at positions {positions[:3]}..{positions[-1:]}); "
        f"{sum(o.paid for o in outcomes)} paid tokens all 401: {not paid_back}"
    )
    print(
        f"  recorded admissions kept with their expiry: {len(recorded_kept)}/{len(recorded_crowd)}; "
        f"the line's own {len(line_only)}: {taken_back} seen WAITING again, {admitted_again} admitted again"
    )
    print(
        f"  ACTIVE at most {watcher.max_redis} in Redis, {watcher.max_pg} in PostgreSQL ({watcher.samples} samples, "
        f"{watcher.missed} missed while down); FIFO breaks seen in the line: {len(watcher.fifo_breaks)}"
    )
    print(
        f"  joins answered 503 whose entry was made all the same (the retry got it back, 200): "
        f"{sum(o.join_kept for o in outcomes)}"
    )
    print(f"  sync: {sync}")
    print("\n".join(tally.lines()))
    print(f"  broken answers: {len(tally.broken)} {tally.broken[:5]}")
    probe_answers = ", ".join(f"{name} {reply.status}" for name, reply in probe.answers.items())
    print(f"  the probe booked while down ({probe_answers}); answers that were not the truth: {len(half_done)}")
    for line in half_done[:4]:
        print(f"    {line}")
    print(f"  audit: {report}")
    return verdict(checks, closing=f" in {time.monotonic() - started:.0f}s (logs: {log_dir})")


if __name__ == "__main__":
    sys.exit(main())
