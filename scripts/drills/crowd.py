"""Pieces of the drills that put a crowd in the waiting room of a Cluster (scripts/cluster.py):
a user's client that goes round the servers, a tally of every answer, and a watcher that
samples the ACTIVE count in Redis and PostgreSQL and the line's order all along."""

from __future__ import annotations

import threading
import time
from collections import Counter

import psycopg
import redis

from scripts.drills.common import Api, Reply

# The line's keys (apps/queue/line.py): entry id -> slot end (µs), entry id -> ticket.
ACTIVE_KEY, WAITING_KEY, STATS_KEY = "queue:active", "queue:waiting", "queue:stats"
PG_ACTIVE = "SELECT count(*) FROM queue_queueentry WHERE status = 'ACTIVE' AND expires_at > now()"


class Client:
    """One user's view of the cluster: requests go round the servers in turn from a home
    server; a server that drops a connection is left out from then on (as a load balancer's
    health check would) and the request goes on to the next one."""

    def __init__(self, apis: list[Api], home: int):
        self.apis = apis
        self.turn = home
        self.down: set[int] = set()

    def call(self, method: str, path: str, body=None, headers=None, *, move_on: bool = True) -> tuple[Reply, int]:
        """(the reply, the server's index). `move_on`: a call after the next one goes to the next
        server (polls spread out); otherwise the client stays where it is."""
        while True:
            live = [index for index in range(len(self.apis)) if index not in self.down]
            if not live:
                return Reply(0, "", None), -1
            index = live[self.turn % len(live)]
            reply = self.apis[index].call(method, path, body, headers)
            if reply.status == 0:
                self.down.add(index)
                continue
            if move_on:
                self.turn += 1
            return reply, index


def answered(call, tally: Tally, label: str, **record) -> Reply:
    """Repeat a call while it is a retryable 503, as its Retry-After says; every answer is tallied."""
    while True:
        reply = call()
        tally.record(label, reply, **record)
        if reply.status != 503:
            return reply
        time.sleep(float(reply.retry_after or 1))


class Tally:
    """Every answer by (label, status), and the ones that break the contract."""

    def __init__(self):
        self.counts: Counter = Counter()
        self.broken: list[str] = []
        self.lock = threading.Lock()

    def record(self, label: str, reply: Reply, *, forbid: tuple[int, ...] = ()) -> None:
        """A 5xx other than a 503 problem with Retry-After breaks the contract, and so does any
        status in `forbid` (a 401 for a poll that must keep its place)."""
        with self.lock:
            self.counts[(label, reply.status)] += 1
            retryable = reply.status == 503 and "problem+json" in reply.content_type and reply.retry_after
            if (reply.status >= 500 and not retryable) or reply.status in forbid:
                self.broken.append(f"{label} {reply.status} {reply.content_type} {reply.body}")

    def lines(self) -> list[str]:
        out = []
        for label in sorted({label for label, _ in self.counts}):
            statuses = ", ".join(f"{status}x{n}" for (lab, status), n in sorted(self.counts.items()) if lab == label)
            out.append(f"  {label:7} {statuses}")
        return out

    def total(self, label: str, status: int) -> int:
        return self.counts[(label, status)]


class Watcher(threading.Thread):
    """Samples, every `interval` seconds: the ACTIVE slots in Redis (ZCOUNT of slots ending after
    now), ACTIVE entries in PostgreSQL (status ACTIVE, expires_at > now()), and FIFO in the line
    itself: every entry holding a slot must have a lower ticket than every entry still waiting."""

    def __init__(self, *, redis_url: str, database_url: str, interval: float = 0.05):
        super().__init__(daemon=True)
        self.redis = redis.Redis.from_url(redis_url, socket_connect_timeout=1, socket_timeout=1, retry=None)
        self.database_url = database_url
        self.interval = interval
        self.stopping = threading.Event()
        self.samples = self.missed = 0
        self.max_redis = self.max_pg = 0
        self.fifo_breaks: list[str] = []

    def run(self) -> None:
        with psycopg.connect(self.database_url, autocommit=True) as db:
            while not self.stopping.is_set():
                self.sample(db)
                time.sleep(self.interval)

    def sample(self, db) -> None:
        try:
            pipe = self.redis.pipeline(transaction=True)  # one consistent view of the line
            pipe.zcount(ACTIVE_KEY, f"({time.time_ns() // 1000}", "+inf")
            pipe.zrange(ACTIVE_KEY, 0, -1)
            pipe.zrange(WAITING_KEY, 0, 0)
            active, holders, head = pipe.execute()
        except redis.exceptions.RedisError:
            self.missed += 1  # Redis is down: the redis_restart drill's outage
            return
        pg_active = db.execute(PG_ACTIVE).fetchone()[0]
        self.samples += 1
        self.max_redis, self.max_pg = max(self.max_redis, active), max(self.max_pg, pg_active)
        if holders and head and max(map(int, holders)) > int(head[0]):
            self.fifo_breaks.append(f"slot held by ticket {max(map(int, holders))} while {int(head[0])} waits")

    def admitted_total(self) -> int:
        try:
            return int(self.redis.hget(STATS_KEY, "admitted_total") or 0)
        except redis.exceptions.RedisError:
            return 0

    def stop(self) -> None:
        self.stopping.set()
        self.join()
