"""Fault drill: the waiting room on several nodes, one of them killed mid-sale.

    .venv/bin/python -m scripts.drills.multi_node [--users 200] [--limit 20] [--ttl 4]

Three gunicorn servers and two qclusters share one PostgreSQL and one Redis (scripts/cluster.py).
The users join at once, each asking twice at the same moment on two different servers, then
poll round the servers until admitted, hold a seat and (every other one) pay. ACTIVE tokens end
after a few seconds, so the line moves by time as well as by payments. When a third of the
crowd has been admitted, one server is killed with SIGKILL; its users go on at the others.

Passes when: every user got one token (the same from both servers, one entry in PostgreSQL);
the ACTIVE count never passed the limit, in Redis or in PostgreSQL; admission followed ticket
order, in the line all along and in PostgreSQL's admitted_at afterwards; nobody lost their place
(no 401, no 5xx) and everyone was admitted; the ledger audit is clean.
"""

from __future__ import annotations

import argparse
import sys
import threading
import time
import uuid
from dataclasses import dataclass, field

import psycopg

from bench.server import database_reset, redis_mark_present, redis_reset
from scripts.cluster import Cluster
from scripts.drills.common import (
    PRICE,
    REDIS_URL,
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
from scripts.drills.crowd import Client, Tally, Watcher, answered

DATABASE_URL = "postgres://postgres@127.0.0.1:5432/cb_multinode_bench"
DATES = ["2030-01-01", "2030-01-02", "2030-01-03", "2030-01-04"]  # 50 seats each
KILLED = 1  # the server that dies
MAX_POLL_INTERVAL = 2.0  # the server's poll_after_seconds, but at most this, to keep the drill short
SERVE_LIMIT_SECONDS = 75  # everyone admitted within this after joining
# admitted_at is the clock of the request that made the admission, read as it began, not when its
# script ran on Redis: two admissions made by two processes a moment apart can be recorded in the
# other order, by as long as a request waits between the two (the line's own order is sampled exact).
CLOCK_SKEW_TOLERANCE_MS = 250
NOT_ACTIVE = "hold 403 QUEUE_TOKEN_NOT_ACTIVE"
MAINTAIN = "from apps.queue.services import queue_maintain; print(queue_maintain())"


@dataclass
class Outcome:
    """What one user saw."""

    joins: list[Reply] = field(default_factory=list)
    admitted: bool = False
    booked: str = ""  # paid, held, or why not
    client: Client | None = None

    def token(self) -> str | None:
        tokens = {reply.body.get("token") for reply in self.joins if reply.status in (200, 201)}
        return tokens.pop() if len(tokens) == 1 and len(self.joins) == 2 else None


def join_twice(user: Shopper, apis: list[Api], home: int, tally: Tally) -> list[Reply]:
    """Two token requests at the same moment, on two different servers."""
    replies: list[Reply | None] = [None, None]

    def ask(slot: int, server: Api) -> None:
        call = lambda: server.call("POST", "/api/v1/queue/tokens", headers=key_header(user))  # noqa: E731
        replies[slot] = answered(call, tally, "join")

    other = threading.Thread(target=ask, args=(1, apis[(home + 1) % len(apis)]))
    other.start()
    ask(0, apis[home])
    other.join()
    return replies


def book(index: int, user: Shopper, client: Client, concert_id: int, tally: Tally) -> str:
    """Hold the user's own seat; every other user pays for it (which ends the token at once)."""
    seat = {"concert_id": concert_id, "date": DATES[index // 50 % len(DATES)], "seat_number": index % 50 + 1}
    reply, _ = client.call("POST", "/api/v1/reservations", seat, queue_header(user), move_on=False)
    tally.record("hold", reply)
    if reply.status == 409:  # a hold whose answer was lost with a killed server: it is ours
        mine, _ = client.call("GET", "/api/v1/reservations", headers=key_header(user), move_on=False)
        held = [r for r in (mine.body or {}).get("results", []) if r["status"] == "HELD"]
        if not held:
            return f"hold {reply.status} {reply.body.get('code')}"
        reservation_id = held[0]["id"]
    elif reply.status != 201:
        return f"hold {reply.status} {(reply.body or {}).get('code')}"
    else:
        reservation_id = reply.body["id"]
    if index % 2:
        return "held"
    headers = {"Idempotency-Key": uuid.uuid4().hex, **queue_header(user)}  # the same key if it is sent again
    reply, _ = client.call("POST", "/api/v1/payments", {"reservation_ids": [reservation_id]}, headers, move_on=False)
    tally.record("pay", reply)
    return "paid" if reply.status == 201 else f"pay {reply.status} {(reply.body or {}).get('code')}"


def wait_for_turn(user: Shopper, client: Client, reply: Reply, tally: Tally, deadline: float) -> bool:
    """Poll round the servers, as often as the server asks (at most MAX_POLL_INTERVAL apart),
    until ACTIVE. A poll must never be refused (401): the token keeps its place whatever happens."""
    while reply.body.get("status") != "ACTIVE" and time.monotonic() < deadline:
        time.sleep(min(reply.body.get("poll_after_seconds", 1), MAX_POLL_INTERVAL))
        reply = answered(
            lambda: client.call("GET", "/api/v1/queue/status", headers=queue_header(user))[0],
            tally,
            "poll",
            forbid=(401,),
        )
        if reply.status != 200:
            return False  # recorded as broken: this user is out
    return reply.body.get("status") == "ACTIVE"


def visit(index: int, user: Shopper, apis: list[Api], concert_id: int, start: threading.Barrier, tally: Tally,
          outcome: Outcome) -> None:  # fmt: skip
    home = index % len(apis)
    start.wait()
    outcome.joins = join_twice(user, apis, home, tally)
    user.queue_token = outcome.token()
    if user.queue_token is None:
        return
    client = outcome.client = Client(apis, home)
    reply = outcome.joins[0]
    deadline = time.monotonic() + SERVE_LIMIT_SECONDS
    while wait_for_turn(user, client, reply, tally, deadline):
        outcome.admitted = True
        outcome.booked = book(index, user, client, concert_id, tally)
        if outcome.booked != NOT_ACTIVE:
            return
        # Told ACTIVE, then refused as not active: the line took the admission back (it lost
        # it, and the entry queued again at the head). Back to polling, as the web page does.
        reply = Reply(200, "", {"status": "WAITING", "poll_after_seconds": 1})


def admission_order(database_url: str) -> tuple[int, int, int, float]:
    """From PostgreSQL, over every entry in ticket order: (entries, admissions recorded,
    inversions where an entry was admitted before one with a lower ticket, the largest in ms)."""
    with psycopg.connect(database_url) as db:
        rows = db.execute("SELECT id, admitted_at FROM queue_queueentry ORDER BY id").fetchall()
    recorded = [admitted_at for _, admitted_at in rows if admitted_at is not None]
    inversions, worst, latest = 0, 0.0, None
    for admitted_at in recorded:
        if latest is not None and admitted_at < latest:
            inversions += 1
            worst = max(worst, (latest - admitted_at).total_seconds() * 1000)
        latest = admitted_at if latest is None else max(latest, admitted_at)
    return len(rows), len(recorded), inversions, worst


def entries_per_user(database_url: str) -> dict[int, int]:
    with psycopg.connect(database_url) as db:
        return dict(db.execute("SELECT user_id, count(*) FROM queue_queueentry GROUP BY user_id").fetchall())


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=200)
    parser.add_argument("--limit", type=int, default=20, help="QUEUE_ACTIVE_LIMIT")
    parser.add_argument("--ttl", type=int, default=4, help="QUEUE_ACTIVE_TTL_SECONDS")
    parser.add_argument("--app-rev", help="run the application as committed at this revision, not the working tree")
    args = parser.parse_args()
    use_app_rev(args.app_rev)
    began = time.monotonic()

    database_reset(DATABASE_URL)
    mark = redis_reset(REDIS_URL)  # gone at the end: something else flushed the database meanwhile
    settings = {
        "QUEUE_ACTIVE_LIMIT": str(args.limit),
        "QUEUE_ACTIVE_TTL_SECONDS": str(args.ttl),
        # Throttles stay on (their counters are shared by the servers), with room for a crowd
        # that comes from one address.
        "THROTTLE_SIGNUP": "100000/min",
        "THROTTLE_QUEUE_ISSUE": "100000/min",
        "THROTTLE_WALLET_CHARGE": "100000/min",
    }
    cluster = Cluster(web=3, qcluster=2, database_url=DATABASE_URL, redis_url=REDIS_URL, settings=settings)
    with cluster:
        apis = [Api(port, timeout=30) for port in cluster.ports]
        concert_id, users = seed_world(cluster.env, apis, shoppers=args.users, dates=DATES, balance=PRICE)
        tally = Tally()
        outcomes = [Outcome() for _ in users]
        start = threading.Barrier(len(users))
        threads = [
            threading.Thread(target=visit, args=(index, user, apis, concert_id, start, tally, outcomes[index]))
            for index, user in enumerate(users)
        ]
        watcher = Watcher(redis_url=REDIS_URL, database_url=DATABASE_URL)
        watcher.start()
        crowd_began = time.monotonic()
        for thread in threads:
            thread.start()
        killed_at = admitted_by_then = None
        while any(thread.is_alive() for thread in threads):
            joined = all(outcome.joins for outcome in outcomes)  # a join cut off by the kill proves nothing
            if killed_at is None and joined and watcher.admitted_total() >= args.users // 3:
                cluster.kill_web(KILLED)
                killed_at, admitted_by_then = time.monotonic() - crowd_began, watcher.admitted_total()
            time.sleep(0.1)
        crowd_seconds = time.monotonic() - crowd_began
        watcher.stop()
        sync = cluster.manage("shell", "--no-imports", "-c", MAINTAIN).strip().splitlines()[-1]
        entries, recorded, inversions, worst_ms = admission_order(DATABASE_URL)
        per_user = entries_per_user(DATABASE_URL)
        kept_to_itself = redis_mark_present(REDIS_URL, mark)
    passed_audit, report = audit(cluster.env)

    same_token = sum(outcome.token() is not None for outcome in outcomes)
    one_created = sum(sorted(r.status for r in outcome.joins) == [200, 201] for outcome in outcomes)
    admitted = sum(outcome.admitted for outcome in outcomes)
    booked = {kind: sum(o.booked == kind for o in outcomes) for kind in {o.booked for o in outcomes}}
    moved = sum(bool(o.client and KILLED in o.client.down) for o in outcomes)
    checks = {
        "one token per user, the same from both servers": same_token == len(users) and one_created == len(users),
        "one entry per user in PostgreSQL": sorted(per_user.values()) == [1] * len(users),
        f"ACTIVE never above the limit of {args.limit}": max(watcher.max_redis, watcher.max_pg) <= args.limit,
        "FIFO in the line all along": not watcher.fifo_breaks,
        "FIFO in PostgreSQL's admitted_at": recorded == entries and worst_ms <= CLOCK_SKEW_TOLERANCE_MS,
        "a server was killed mid-sale": killed_at is not None,
        "no 401 and no 5xx": not tally.broken,
        "everyone admitted": admitted == len(users),
        "ledger audit clean": passed_audit,
        f"nobody else flushed Redis {REDIS_URL} meanwhile (else: rerun with DRILLS_REDIS_URL)": kept_to_itself,
    }
    print(
        f"multi_node: 3 web servers x 2 workers, 2 qclusters; {len(users)} users, "
        f"limit {args.limit}, ACTIVE for {args.ttl}s"
    )
    print(f"  joined twice at once on two servers: {same_token} got one token ({one_created} as 201 + 200)")
    if killed_at is not None:
        print(
            f"  web {KILLED + 1} killed (SIGKILL) {killed_at:.1f}s in, {admitted_by_then} admitted by then; "
            f"{moved} users found it gone and went on at the others"
        )
    print(f"  admitted {admitted}/{len(users)} in {crowd_seconds:.1f}s; booked: {dict(sorted(booked.items()))}")
    print(
        f"  ACTIVE at most {watcher.max_redis} in Redis, {watcher.max_pg} in PostgreSQL "
        f"({watcher.samples} samples, limit {args.limit})"
    )
    print(f"  FIFO: {len(watcher.fifo_breaks)} breaks in the line {watcher.fifo_breaks[:3]}")
    print(
        f"  admitted_at recorded for {recorded}/{entries} entries, {inversions} out of ticket order"
        + (f" by up to {worst_ms:.0f} ms (tolerance {CLOCK_SKEW_TOLERANCE_MS} ms)" if inversions else "")
    )
    print(f"  sync: {sync}")
    print("\n".join(tally.lines()))
    print(f"  broken answers: {len(tally.broken)} {tally.broken[:5]}")
    print(f"  audit: {report}")
    return verdict(checks, closing=f" in {time.monotonic() - began:.0f}s (logs: {cluster.log_dir})")


if __name__ == "__main__":
    sys.exit(main())
