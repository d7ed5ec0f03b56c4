"""Watching the bench database from outside it: which backends serve it, whether they are busy,
and whether they ran any statement during a run.

The watcher has its own connection to the maintenance database (`postgres`), so that its own
queries are never counted, waited for or timed as the bench database's: pg_stat_activity and
pg_stat_database are views of the whole cluster.

Whether the server ran a statement during a run is read from pg_stat_activity: every statement
sets its backend's query_start, at once. pg_stat_database's transaction counters are only
supporting figures: each backend flushes them lazily (at most once a second while busy; an idle
backend may keep some for seconds, and flushes them when it disconnects, e.g. when Django closes
a connection older than CONN_MAX_AGE), so they lag, and a window can receive counts from before it.
"""

from __future__ import annotations

import contextlib
import dataclasses
import time
from collections.abc import Iterator
from urllib.parse import urlparse

import psycopg


@dataclasses.dataclass(frozen=True)
class Activity:
    """The bench database's client backends at one moment, and its transaction counter."""

    backends: dict[tuple[int, str], str | None]  # (pid, backend_start) -> query_start
    transactions: int  # xact_commit + xact_rollback, as flushed so far

    def statements_since(self, before: Activity) -> list[int]:
        """Pids of the backends that started a statement after `before` was taken (a backend
        that connected since and ran none has no query_start)."""
        return sorted(
            pid
            for (pid, started), query_start in self.backends.items()
            if query_start is not None and before.backends.get((pid, started)) != query_start
        )


class PgWatch:
    def __init__(self, database_url: str):
        url = urlparse(database_url)
        self.database = url.path.lstrip("/")
        self.conn = psycopg.connect(url._replace(path="/postgres").geturl(), autocommit=True)

    def close(self) -> None:
        self.conn.close()

    def _rows(self, sql: str) -> list[tuple]:
        return self.conn.execute(sql, {"db": self.database}).fetchall()

    def backend_pids(self) -> list[int]:
        """The client backends connected to the bench database."""
        rows = self._rows("SELECT pid FROM pg_stat_activity WHERE datname = %(db)s AND backend_type = 'client backend'")
        return [pid for (pid,) in rows]

    def busy(self, exclude: set[int] = frozenset()) -> int:
        rows = self._rows(
            "SELECT pid FROM pg_stat_activity WHERE datname = %(db)s AND backend_type = 'client backend'"
            " AND state <> 'idle'"
        )
        return sum(1 for (pid,) in rows if pid not in exclude)

    def wait_quiet(self, timeout: float = 30.0, exclude: set[int] = frozenset()) -> bool:
        """Wait until no session of the bench database runs a query or holds a transaction open
        for a few checks in a row: requests still in flight when a load run stopped finish
        before the next step reads or writes."""
        deadline, calm = time.monotonic() + timeout, 0
        while time.monotonic() < deadline:
            calm = 0 if self.busy(exclude) else calm + 1
            if calm >= 3:
                return True
            time.sleep(0.05)
        return False

    def activity(self) -> Activity:
        rows = self._rows(
            "SELECT pid, backend_start::text, query_start::text FROM pg_stat_activity"
            " WHERE datname = %(db)s AND backend_type = 'client backend'"
        )
        # A new transaction of this session: a fresh snapshot of the statistics.
        (transactions,) = self.conn.execute(
            "SELECT xact_commit + xact_rollback FROM pg_stat_database WHERE datname = %(db)s", {"db": self.database}
        ).fetchone()
        return Activity(backends={(pid, started): query for pid, started, query in rows}, transactions=transactions)

    def setting(self, name: str) -> str:
        return self.conn.execute("SELECT current_setting(%s)", [name]).fetchone()[0]

    @contextlib.contextmanager
    def watching(self) -> Iterator[DbUse]:
        """Statements and transactions of the bench database while the block runs. Nothing else
        may use the database meanwhile (the orchestrator's own connection stays idle)."""
        use = DbUse(before=self.activity(), track_activities=self.setting("track_activities") == "on")
        yield use
        use.after = self.activity()


@dataclasses.dataclass
class DbUse:
    """What the server did in PostgreSQL between two moments (see `PgWatch.watching`)."""

    before: Activity
    after: Activity | None = None
    track_activities: bool = True

    @property
    def backends(self) -> list[int]:
        """Pids of the connections that started a statement meanwhile."""
        return self.after.statements_since(self.before)

    @property
    def transactions(self) -> int:
        return self.after.transactions - self.before.transactions

    def per_request(self, requests: int) -> float:
        """PostgreSQL transactions per request: exactly 0 when no connection started a
        statement; otherwise pg_stat_database's count, a lower bound (flushed lazily, and not
        at all for transactions that touch no table, such as `SELECT 1`)."""
        if not self.backends and self.track_activities:
            return 0.0
        return self.transactions / max(requests, 1)

    def note(self, requests: int) -> str:
        if not self.track_activities:
            return (
                f"PostgreSQL: at least {self.per_request(requests):.2f} transactions per request (pg_stat_database;"
                " track_activities is off, so statements could not be seen)"
            )
        if not self.backends:
            moved = (
                f"; pg_stat_database's counter moved by {self.transactions}, counts flushed from before the run"
                if self.transactions
                else ""
            )
            return (
                "PostgreSQL: 0 transactions per request (no connection of the bench database started a"
                f" statement during the run, per pg_stat_activity{moved})"
            )
        counted = (
            f"at least {self.per_request(requests):.2f} transactions per request ({self.transactions:,} counted"
            if self.transactions
            else "(no transaction counted yet"
        )
        return (
            f"PostgreSQL: {len(self.backends)} connections started statements during the run; {counted}"
            " by pg_stat_database, which flushes lazily)"
        )
