"""The bench's own HTTP load driver: asyncio, raw HTTP/1.1, no dependencies.

Runs as its own process (`python -m bench.driver SPEC.json`), so it shares no interpreter, GIL
or event loop with the server or with the orchestrator that seeds the database. It prints one
JSON object with the results on stdout.

Three modes, all bounded in request count and wall time:

- ``closed``: N connections, each sending the next request from a list as soon as the previous
  answer arrived, until ``duration`` seconds or ``max_requests`` requests.
- ``burst``: one connection per request; every connection is opened first, then all requests
  are written at the same instant (the one-seat rush).
- ``rush``: the spread rush of stateful users: hold random free seats, pay, take a new queue
  token, repeat, until the seat pool is empty or the budget is spent.

Latency is measured from the first byte written to the last byte read of the response, like
wrk does; connecting (gunicorn's sync workers close the connection after every response) is
not part of it.
"""

from __future__ import annotations

import asyncio
import json
import random
import sys
import time
from collections import Counter

# Only ever a loopback address: the bench never drives anything else.
ALLOWED_HOSTS = {"127.0.0.1", "localhost"}
READ_TIMEOUT = 30.0


class HttpError(Exception):
    pass


class Connection:
    """One keep-alive-capable HTTP/1.1 connection that reconnects when the server closes it."""

    def __init__(self, host: str, port: int):
        self.host, self.port = host, port
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def connect(self) -> None:
        if self.writer is None:
            self.reader, self.writer = await asyncio.open_connection(self.host, self.port)

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
        self.reader = self.writer = None

    def encode(self, method: str, path: str, headers: dict | None, body: bytes | None) -> bytes:
        lines = [f"{method} {path} HTTP/1.1", f"Host: {self.host}:{self.port}"]
        for name, value in (headers or {}).items():
            lines.append(f"{name}: {value}")
        if body is not None or method in ("POST", "PUT", "PATCH"):
            lines.append(f"Content-Length: {len(body or b'')}")
        return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + (body or b"")

    async def send(self, raw: bytes) -> tuple[int, bytes, float]:
        """Write one encoded request, read the response. Returns (status, body, seconds)."""
        await self.connect()
        started = time.perf_counter()
        self.writer.write(raw)
        head = await asyncio.wait_for(self.reader.readuntil(b"\r\n\r\n"), READ_TIMEOUT)
        status_line, *header_lines = head.decode("latin-1").split("\r\n")
        parts = status_line.split(" ", 2)
        if len(parts) < 2 or not parts[0].startswith("HTTP/"):
            raise HttpError(f"bad status line {status_line!r}")
        status = int(parts[1])
        length, chunked, close = None, False, parts[0] == "HTTP/1.0"
        for line in header_lines:
            name, _, value = line.partition(":")
            name, value = name.strip().lower(), value.strip().lower()
            if name == "content-length":
                length = int(value)
            elif name == "transfer-encoding" and "chunked" in value:
                chunked = True
            elif name == "connection":
                close = close or value == "close"
        if chunked:
            body = b""
            while True:
                size = int((await self.reader.readuntil(b"\r\n")).split(b";")[0], 16)
                chunk = await self.reader.readexactly(size + 2)
                if size == 0:
                    break
                body += chunk[:-2]
        elif length is not None:
            body = await asyncio.wait_for(self.reader.readexactly(length), READ_TIMEOUT)
        else:
            body = await asyncio.wait_for(self.reader.read(), READ_TIMEOUT)
            close = True
        elapsed = time.perf_counter() - started
        if close:
            self.close()
        return status, body, elapsed


class Recorder:
    """Latencies, statuses, problem codes and transport errors of one kind of request."""

    def __init__(self):
        self.latencies: list[float] = []
        self.statuses: Counter = Counter()
        self.codes: Counter = Counter()
        self.errors: Counter = Counter()

    def record(self, status: int, body: bytes, seconds: float) -> None:
        self.latencies.append(seconds)
        self.statuses[str(status)] += 1
        if status >= 400:
            try:
                self.codes[f"{status} {json.loads(body).get('code', '?')}"] += 1
            except ValueError:
                self.codes[f"{status} (not json)"] += 1

    def error(self, exc: BaseException) -> None:
        self.errors[type(exc).__name__] += 1

    def summary(self, elapsed: float) -> dict:
        lat = sorted(self.latencies)

        def pct(p: float) -> float | None:
            if not lat:
                return None
            return lat[min(len(lat) - 1, max(0, round(p / 100 * len(lat) + 0.5) - 1))] * 1000

        count = len(lat)
        return {
            "requests": count,
            "elapsed_s": elapsed,
            "rps": count / elapsed if elapsed > 0 else 0.0,
            "p50_ms": pct(50),
            "p95_ms": pct(95),
            "p99_ms": pct(99),
            "max_ms": lat[-1] * 1000 if lat else None,
            "statuses": dict(self.statuses),
            "codes": dict(self.codes),
            "errors": dict(self.errors),
        }


def _encode_all(conn: Connection, requests: list[dict]) -> list[bytes]:
    return [
        conn.encode(r["method"], r["path"], r.get("headers"), r["body"].encode() if "body" in r else None)
        for r in requests
    ]


async def run_closed(spec: dict) -> dict:
    host, port = spec["host"], spec["port"]
    connections = spec["connections"]
    duration, max_requests = spec["duration"], spec.get("max_requests", 10**9)
    encoded = _encode_all(Connection(host, port), spec["requests"])
    recorder = Recorder()
    sent = 0
    counter = iter(range(10**12))
    deadline = time.perf_counter() + duration

    async def worker(index: int) -> None:
        nonlocal sent
        conn = Connection(host, port)
        while time.perf_counter() < deadline and sent < max_requests:
            sent += 1
            raw = encoded[next(counter) % len(encoded)]
            try:
                status, body, seconds = await conn.send(raw)
                recorder.record(status, body, seconds)
            except (TimeoutError, OSError, asyncio.IncompleteReadError, HttpError) as exc:
                recorder.error(exc)
                conn.close()
        conn.close()

    started = time.perf_counter()
    await asyncio.gather(*(worker(i) for i in range(connections)))
    return recorder.summary(time.perf_counter() - started)


async def run_burst(spec: dict) -> dict:
    """Open one connection per request, then write them all at once."""
    host, port = spec["host"], spec["port"]
    requests = spec["requests"]
    recorder = Recorder()
    go = asyncio.Event()
    ready = 0
    connect_errors: Counter = Counter()

    async def one(request: dict) -> None:
        nonlocal ready
        conn = Connection(host, port)
        raw = _encode_all(conn, [request])[0]
        try:
            await conn.connect()
        except OSError as exc:
            connect_errors[type(exc).__name__] += 1
            recorder.error(exc)
            ready += 1
            return
        ready += 1
        await go.wait()
        try:
            status, body, seconds = await conn.send(raw)
            recorder.record(status, body, seconds)
        except (TimeoutError, OSError, asyncio.IncompleteReadError, HttpError) as exc:
            recorder.error(exc)
        finally:
            conn.close()

    tasks = [asyncio.create_task(one(r)) for r in requests]
    connect_deadline = time.perf_counter() + 10
    while ready < len(requests) and time.perf_counter() < connect_deadline:
        await asyncio.sleep(0.01)
    started = time.perf_counter()
    go.set()
    await asyncio.wait_for(asyncio.gather(*tasks), spec.get("duration", 60))
    result = recorder.summary(time.perf_counter() - started)
    result["connect_errors"] = dict(connect_errors)
    return result


async def run_rush(spec: dict) -> dict:
    """Users hold random seats from a shared pool (up to the hold limit), pay, take a new token."""
    host, port = spec["host"], spec["port"]
    max_holds = spec["max_holds"]
    deadline = time.perf_counter() + spec["duration"]
    budget = spec.get("max_requests", 10**9)
    rng = random.Random(spec.get("seed", 1))
    pool: list[tuple[int, str, int]] = [tuple(s) for s in spec["seats"]]  # (concert_id, date, number)
    where = {seat: i for i, seat in enumerate(pool)}
    kinds = {name: Recorder() for name in ("hold", "pay", "token", "poll")}
    outcome = Counter()
    paid: list[int] = []
    sent = 0

    def pool_remove(seat) -> None:
        i = where.pop(seat, None)
        if i is None:
            return
        last = pool.pop()
        if i < len(pool):
            pool[i] = last
            where[last] = i

    async def call(conn: Connection, kind: str, method: str, path: str, headers: dict, payload=None):
        nonlocal sent
        sent += 1
        body = json.dumps(payload).encode() if payload is not None else None
        if body is not None:
            headers = {**headers, "Content-Type": "application/json"}
        try:
            status, raw, seconds = await conn.send(conn.encode(method, path, headers, body))
        except (TimeoutError, OSError, asyncio.IncompleteReadError, HttpError) as exc:
            kinds[kind].error(exc)
            conn.close()
            return None, None
        kinds[kind].record(status, raw, seconds)
        try:
            return status, json.loads(raw) if raw else None
        except ValueError:
            return status, None

    def live() -> bool:
        return time.perf_counter() < deadline and sent < budget

    async def hold_round(conn: Connection, token: str) -> list[int]:
        """Hold random seats from the pool until the hold limit, an empty pool or the budget."""
        held: list[int] = []
        while pool and len(held) < max_holds and live():
            seat = pool[rng.randrange(len(pool))]
            status, body = await call(
                conn,
                "hold",
                "POST",
                "/api/v1/reservations",
                {"X-Queue-Token": token},
                {"concert_id": seat[0], "date": seat[1], "seat_number": seat[2]},
            )
            code = (body or {}).get("code") if status != 201 else None
            if status == 201:
                held.append(body["id"])
                pool_remove(seat)
                outcome["hold_won"] += 1
            elif code == "SEAT_UNAVAILABLE":
                pool_remove(seat)
                outcome["hold_lost"] += 1
            elif code == "HOLD_LIMIT_REACHED":
                outcome["hold_limit"] += 1
                break
            elif status is None or status >= 500:
                outcome[f"hold_unexpected_{status}"] += 1  # counted as an error; try another seat
            else:
                outcome[f"hold_unexpected_{status}_{code}"] += 1
                break
        return held

    async def user(u: dict) -> None:
        conn = Connection(host, port)
        token, rounds = u["token"], 0
        while True:
            held = await hold_round(conn, token)
            if not held:
                break
            rounds += 1
            status, body = await call(
                conn,
                "pay",
                "POST",
                "/api/v1/payments",
                {"X-Queue-Token": token, "Idempotency-Key": f"bench-{u['user_id']}-{rounds}"},
                {"reservation_ids": held},
            )
            if status != 201:
                outcome[f"pay_unexpected_{status}_{(body or {}).get('code')}"] += 1
                break
            outcome["payments"] += 1
            paid.extend(held)
            if not (pool and live()):
                break
            # Payment ended the token: back into the queue for another round.
            status, body = await call(
                conn, "token", "POST", "/api/v1/queue/tokens", {"Authorization": f"Token {u['api_key']}"}, {}
            )
            if status not in (200, 201) or not body:
                outcome[f"token_unexpected_{status}"] += 1
                break
            token = body["token"]
            polls = 0
            while status == 200 and body.get("status") == "WAITING" and polls < 100 and live():
                polls += 1
                await asyncio.sleep(0.05)
                status, body = await call(conn, "poll", "GET", "/api/v1/queue/status", {"X-Queue-Token": token})
                body = body or {}
            if status not in (200, 201) or body.get("status") != "ACTIVE":
                outcome["token_not_admitted"] += 1
                break
        conn.close()

    started = time.perf_counter()
    await asyncio.gather(*(user(u) for u in spec["users"]))
    elapsed = time.perf_counter() - started
    return {
        "elapsed_s": elapsed,
        "kinds": {name: rec.summary(elapsed) for name, rec in kinds.items()},
        "outcome": dict(outcome),
        "paid_reservation_ids": paid,
        "seats_left_in_pool": len(pool),
    }


MODES = {"closed": run_closed, "burst": run_burst, "rush": run_rush}


def main(argv: list[str]) -> int:
    with open(argv[1]) as fh:
        spec = json.load(fh)
    if spec["host"] not in ALLOWED_HOSTS:
        print(f"refusing to drive {spec['host']!r}: the bench only targets loopback", file=sys.stderr)
        return 2
    result = asyncio.run(MODES[spec["mode"]](spec))
    json.dump(result, sys.stdout)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
