"""The benchmark suite: `bench/run` (or `.venv/bin/python -m bench`), `--smoke` for CI.

Creates its own database, starts gunicorn on a free loopback port with production settings,
seeds each scenario straight into the database, drives the server over HTTP from separate
processes (wrk, or the bench's asyncio driver), and prints a table where every figure is also
given as a ratio to the framework floor (`GET /health/live`) measured just before it, with the
same tool and the same number of connections.

Exit status: 1 if a correctness check failed (any 5xx or transport error, a double sale, a
negative balance, money that does not add up, a one-seat rush without exactly one winner);
otherwise 0, also when a speed target is missed (`--strict` makes that 2).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import subprocess
import sys
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from bench import server, wrk
from bench.profile import Profiler
from bench.report import render_markdown, render_text, update_doc

RESULTS = server.ROOT / "bench" / "results"


@dataclass
class Sizes:
    duration: float  # seconds of a single closed-loop run
    slices: int  # a paired measurement alternates this many floor and scenario slices
    slice_s: float  # seconds per slice
    conns: int  # connections of the throughput runs (the seat-map target is at 32)
    poll_active: int
    poll_waiting: int
    issue_users: int
    rush_one_seat: int
    rush_users: int
    rush_dates: int
    rush_duration: float
    line_small: int
    line_big: int
    line_conns: int
    line_sample: int
    lapsed_holds: int
    sweep_conns: int
    probe_repeat: int


FULL = Sizes(
    duration=10,
    slices=5,
    slice_s=2,
    conns=32,
    poll_active=100,
    poll_waiting=400,
    issue_users=10_000,  # each used once: 10 s of issues, and those in flight at each slice's end
    rush_one_seat=500,
    rush_users=100,
    rush_dates=20,
    rush_duration=60,
    line_small=100,
    line_big=1_000_000,
    line_conns=4,
    line_sample=100,
    lapsed_holds=100_000,
    sweep_conns=8,
    probe_repeat=30,
)
SMOKE = Sizes(
    duration=1,
    slices=1,
    slice_s=1,
    conns=8,
    poll_active=5,
    poll_waiting=10,
    issue_users=150,
    rush_one_seat=40,
    rush_users=10,
    rush_dates=1,
    rush_duration=10,
    line_small=100,
    line_big=2_000,
    line_conns=2,
    line_sample=20,
    lapsed_holds=2_000,
    sweep_conns=4,
    probe_repeat=8,
)


@dataclass
class Row:
    id: str
    name: str
    tool: str = ""
    conns: int | None = None
    result: dict | None = None  # driver summary: requests, rps, p50/p95/p99, statuses, codes, errors
    floor: dict | None = None  # the floor summary the ratios use
    target: str = ""
    verdict: str = ""  # PASS / FAIL / "" (no target)
    measured: str = ""  # the figure the target is about, as text
    problems: list[str] = field(default_factory=list)  # correctness failures
    notes: list[str] = field(default_factory=list)


def throughput_row(
    *, id: str, name: str, result: dict, floor: dict, conns: int, min_ratio: float, max_p99_ms: float | None = None
) -> Row:
    """A scenario judged on req/s as a ratio to its floor (and, optionally, on p99)."""
    ratio = result["rps"] / floor["rps"]
    ok = ratio >= min_ratio and (max_p99_ms is None or result["p99_ms"] < max_p99_ms)
    target = f">= {min_ratio:.2f} x floor req/s"
    measured = f"{ratio:.2f} x floor"
    if max_p99_ms is not None:
        target += f"; p99 < {max_p99_ms:.0f} ms at {conns} conns"
        measured += f", p99 {result['p99_ms']:.1f} ms"
    return Row(
        id=id,
        name=name,
        tool=result["tool"],
        conns=conns,
        result=result,
        floor=floor,
        target=target,
        verdict="PASS" if ok else "FAIL",
        measured=measured,
    )


def proc_cpu_seconds(pid: int) -> float:
    try:
        fields = (Path("/proc") / str(pid) / "stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def merge(parts: list[dict]) -> dict:
    """Slices of one measurement as one: sums, and request-weighted means of the percentiles."""
    if len(parts) == 1:
        return parts[0]
    total = sum(p["requests"] for p in parts)
    elapsed = sum(p["elapsed_s"] for p in parts)
    merged = {
        "requests": total,
        "elapsed_s": elapsed,
        "rps": total / elapsed if elapsed else 0.0,
        "tool": parts[0].get("tool"),
        "conns": parts[0].get("conns"),
        "slices": len(parts),
        "cpu_app_s": sum(p.get("cpu_app_s", 0.0) for p in parts),
        "cpu_db_s": sum(p.get("cpu_db_s", 0.0) for p in parts),
        "max_ms": max((p["max_ms"] or 0) for p in parts),
    }
    for key in ("p50_ms", "p95_ms", "p99_ms"):
        weighted = [(p[key], p["requests"]) for p in parts if p.get(key) is not None and p["requests"]]
        merged[key] = sum(v * n for v, n in weighted) / sum(n for _, n in weighted) if weighted else None
    for key in ("statuses", "codes", "errors"):
        counter: Counter = Counter()
        for p in parts:
            counter.update(p.get(key, {}))
        merged[key] = dict(counter)
    return merged


def count_status(result: dict, predicate) -> int:
    return sum(n for status, n in result.get("statuses", {}).items() if predicate(int(status)))


def transport_errors(result: dict) -> int:
    return sum(result.get("errors", {}).values())


class Bench:
    def __init__(self, args):
        self.args = args
        self.sizes = SMOKE if args.smoke else FULL
        self.tool = "wrk" if args.tool == "wrk" or (args.tool == "auto" and wrk.available()) else "py"
        self.rows: list[Row] = []
        self.log_lines: list[str] = []
        self.started = time.monotonic()
        self.profiles: dict[str, str] = {}
        self.floors: dict = {}
        self.costs: list[dict] = []

    # --- plumbing ---------------------------------------------------------------------------

    def log(self, message: str) -> None:
        line = f"[{time.monotonic() - self.started:7.1f}s] {message}"
        self.log_lines.append(line)
        print(line, file=sys.stderr, flush=True)

    def run_py(self, name: str, spec: dict, timeout: float) -> dict:
        spec = {"host": "127.0.0.1", "port": self.gunicorn.port, **spec}
        path = RESULTS / f"spec-{name}.json"
        path.write_text(json.dumps(spec))
        proc = subprocess.run(
            [sys.executable, "-m", "bench.driver", str(path)],
            cwd=server.ROOT,
            capture_output=True,
            text=True,
            timeout=timeout,
        )
        if proc.returncode != 0:
            raise RuntimeError(f"driver failed ({name}): {proc.stderr[-2000:]}")
        return json.loads(proc.stdout)

    def cpu_snapshot(self) -> dict:
        """CPU seconds used so far by each gunicorn worker and each PostgreSQL backend serving them."""
        return {
            "app": {pid: proc_cpu_seconds(pid) for pid in self.gunicorn.worker_pids()},
            "db": {pid: proc_cpu_seconds(pid) for pid in self.seed.db_backend_pids()},
        }

    @staticmethod
    def cpu_delta(before: dict, after: dict, side: str) -> float:
        return sum(max(0.0, t - before[side].get(pid, 0.0)) for pid, t in after[side].items())

    def load(
        self,
        name: str,
        requests: list[dict],
        *,
        conns: int,
        duration: float | None = None,
        max_requests: int = 10**9,
        distinct: bool = False,
        tool: str | None = None,
        stop_when=None,
        profile: bool = False,
        quiet: bool = True,
    ) -> dict:
        """One closed-loop run; `distinct` sends each request of the list at most once.
        Waits for the server to finish earlier work first, and counts the CPU time the workers
        and their PostgreSQL backends spent during the run."""
        tool = tool or self.tool
        duration = duration or self.sizes.duration
        if distinct:
            max_requests = min(max_requests, len(requests))
        if quiet:
            self.seed.wait_quiet()
        profiler = None
        if profile and self.args.profile:
            profiler = Profiler(self.gunicorn.proc.pid, RESULTS / f"profile-{name}.raw")
            profiler.start(duration)
        cpu_before = self.cpu_snapshot()
        if tool == "wrk":
            result = wrk.run(
                host="127.0.0.1",
                port=self.gunicorn.port,
                requests=requests,
                connections=conns,
                duration=duration,
                max_requests=max_requests,
                workdir=RESULTS,
                name=name,
                distinct=distinct,
                stop_when=stop_when,
            )
        else:
            if stop_when is not None:
                raise ValueError("stop_when needs wrk")
            spec = {
                "mode": "closed",
                "connections": conns,
                "duration": duration,
                "max_requests": max_requests,
                "requests": requests,
            }
            result = self.run_py(name, spec, timeout=duration + 120)
        cpu_after = self.cpu_snapshot()
        result["cpu_app_s"] = self.cpu_delta(cpu_before, cpu_after, "app")
        result["cpu_db_s"] = self.cpu_delta(cpu_before, cpu_after, "db")
        if profiler is not None:
            self.profiles[name] = profiler.stop() or ""
        result["tool"], result["conns"] = tool, conns
        return result

    def paired(
        self,
        name: str,
        requests: list[dict],
        *,
        conns: int,
        tool: str | None = None,
        distinct: bool = False,
        profile: bool = False,
    ) -> tuple[dict, dict]:
        """The scenario and the floor in alternating slices (floor, run, floor, run, ...), so a
        change in the machine's background load hits both alike. Returns (run, floor), merged."""
        runs, floors, offset = [], [], 0
        for i in range(self.sizes.slices):
            floors.append(self.floor(name, conns=conns, tool=tool, duration=self.sizes.slice_s))
            part_requests = requests[offset:] if distinct else requests
            if not part_requests:
                break
            part = self.load(
                name,
                part_requests,
                conns=conns,
                tool=tool,
                duration=self.sizes.slice_s,
                distinct=distinct,
                profile=profile and i == self.sizes.slices // 2,
            )
            runs.append(part)
            if distinct:
                # Requests in flight when a slice ended were sent but not counted: never resend them.
                if part.get("remaining") is not None:
                    requests = [part_requests[i] for i in part["remaining"]]
                else:
                    offset += part["requests"] + sum(part["errors"].values())
        return merge(runs), merge(floors)

    def floor(self, name: str, *, conns: int, tool: str | None = None, duration: float | None = None) -> dict:
        """GET /health/live with the same tool and connections. The smoke run measures each
        (tool, conns) floor once and reuses it: its ratios mean nothing."""
        key = (tool or self.tool, conns)
        if self.args.smoke and key in self.floors:
            return self.floors[key]
        self.floors[key] = self.load(
            f"floor-{name}", [{"method": "GET", "path": "/health/live"}], conns=conns, tool=tool, duration=duration
        )
        return self.floors[key]

    def add(self, row: Row) -> Row:
        result = row.result or {}
        if result:
            fives = count_status(result, lambda s: s >= 500)
            if fives:
                row.problems.append(f"{fives} responses were 5xx")
            errors = transport_errors(result)
            if errors:
                row.problems.append(f"{errors} transport errors {result.get('errors')}")
        self.rows.append(row)
        verdict = row.verdict or "-"
        self.log(
            f"{row.id} {row.name}: {row.measured or ''} [{verdict}]"
            + (f" PROBLEMS {row.problems}" if row.problems else "")
        )
        return row

    def unexpected(self, result: dict, allowed: set[int]) -> list[str]:
        bad = {s: n for s, n in result.get("statuses", {}).items() if int(s) not in allowed and int(s) < 500}
        return [f"unexpected statuses {bad} {result.get('codes')}"] if bad else []

    # --- the run ----------------------------------------------------------------------------

    def run(self) -> int:
        RESULTS.mkdir(parents=True, exist_ok=True)
        if self.args.app_rev:
            server.APP_DIR = server.app_export(self.args.app_rev, RESULTS)
            sys.path.insert(0, str(server.APP_DIR))
            self.log(f"benchmarking {self.args.app_rev} exported to {server.APP_DIR}")
        env = server.bench_env(self.args.database_url, self.args.redis_url)
        if self.args.workers:
            env["GUNICORN_WORKERS"] = str(self.args.workers)
        if self.args.threads:
            env["GUNICORN_THREADS"] = str(self.args.threads)
        for item in self.args.server_env or []:
            name, _, value = item.partition("=")
            env[name] = value
        self.env = env
        self.log(
            f"database {self.args.database_url}: drop, create, migrate, collectstatic;"
            f" Redis {self.args.redis_url}: flush"
        )
        static = subprocess.Popen(
            [sys.executable, "manage.py", "collectstatic", "--noinput", "-v0"], cwd=server.APP_DIR, env=env
        )
        server.database_reset(self.args.database_url)
        server.redis_reset(self.args.redis_url)
        server.manage(env, "migrate", "--noinput", "-v0")
        if static.wait() != 0:
            raise SystemExit("collectstatic failed")
        os.environ.update(env)
        import django

        django.setup()
        from bench import seed

        self.seed = seed
        self.machine = self.machine_describe()
        self.gunicorn = server.Gunicorn(env, RESULTS / "server.log")
        self.gunicorn.launch()  # boots while the concert is seeded
        try:
            self.setup_concert()
            self.gunicorn.wait_ready()
            self.log(
                f"gunicorn on 127.0.0.1:{self.gunicorn.port}, workers {self.gunicorn.worker_pids()}; tool {self.tool}"
            )
            for step in (
                self.s1_queue_poll,
                self.s2_seat_map,
                self.s3_token_issue,
                self.s4_one_seat_rush,
                self.s5_spread_rush,
                self.s7_sweeper,
                self.s6_queue_scale,
                self.s8_memory,
                self.s9_request_costs,
            ):
                if self.args.only and step.__name__.split("_")[0][1:] not in self.args.only:
                    continue
                try:
                    step()
                except Exception as exc:  # a scenario that crashes is a correctness failure
                    import traceback

                    traceback.print_exc()
                    self.add(Row(id=step.__name__[1], name=step.__name__, problems=[f"crashed: {exc!r}"]))
        finally:
            self.machine["loadavg_end"] = Path("/proc/loadavg").read_text().split()[:3]
            self.gunicorn.stop()
        return self.finish()

    def machine_describe(self) -> dict:
        cpu = next(
            (
                ln.split(":", 1)[1].strip()
                for ln in Path("/proc/cpuinfo").read_text().splitlines()
                if ln.startswith("model name")
            ),
            platform.processor(),
        )
        mem_kb = int(
            next(ln.split()[1] for ln in Path("/proc/meminfo").read_text().splitlines() if ln.startswith("MemTotal"))
        )
        workers = self.env.get("GUNICORN_WORKERS") or str((os.cpu_count() or 1) * 2 + 1)
        threads = self.env.get("GUNICORN_THREADS") or "1"
        return {
            "date": dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC"),
            "nproc": os.cpu_count(),
            "cpu": cpu,
            "memory_gib": round(mem_kb / 1024 / 1024, 1),
            "postgresql": self.seed.pg_version(),
            "python": platform.python_version(),
            "gunicorn": f"{workers} workers x {threads} threads ({'gthread' if int(threads) > 1 else 'sync'})",
            "tool": self.tool,
            "mode": "smoke" if self.args.smoke else "full",
            "loadavg_start": Path("/proc/loadavg").read_text().split()[:3],
            "server_env": self.args.server_env or [],
            "code": server.app_describe(),
        }

    def setup_concert(self) -> None:
        seed, sizes = self.seed, self.sizes
        first = dt.date.today() + dt.timedelta(days=30)
        self.dates = [first + dt.timedelta(days=i) for i in range(1 + sizes.rush_dates)]
        self.concert_id = seed.concert_seed(title="Bench rush", dates=self.dates)
        self.map_date = self.dates[0]
        # Seat map dress: 2 users hold 4 seats each, 3 users buy 4 seats each (8 held, 12 sold).
        dress = seed.users_create("dress_", 5)
        seed.tokens_issue(dress)
        self.dress = seed.seat_map_dress(
            concert_id=self.concert_id, date=self.map_date, held_by=dress[:2], sold_by=dress[2:]
        )
        self.log(
            f"concert {self.concert_id}: {len(self.dates)} dates x 50 seats; seat map {self.map_date}: {self.dress}"
        )

    # --- scenarios --------------------------------------------------------------------------

    def s1_queue_poll(self) -> None:
        seed, sizes = self.seed, self.sizes
        seed.queue_reset()
        seed.active_limit_set(sizes.poll_active)
        users = seed.users_create("poll_", sizes.poll_active + sizes.poll_waiting)
        seed.tokens_issue(users)
        active = [u["token"] for u in users if u["status"] == "ACTIVE"]
        waiting = [u["token"] for u in users if u["status"] == "WAITING"]
        assert len(active) == sizes.poll_active and len(waiting) == sizes.poll_waiting, (len(active), len(waiting))
        self.active_tokens = active
        self.log(f"1: {len(active)} ACTIVE and {len(waiting)} WAITING tokens")
        for sub, tokens in (("a", active), ("b", waiting)):
            kind = "ACTIVE" if sub == "a" else "WAITING"
            reqs = [{"method": "GET", "path": "/api/v1/queue/status", "headers": {"X-Queue-Token": t}} for t in tokens]
            result, floor = self.paired(f"1{sub}-poll", reqs, conns=sizes.conns, profile=True)
            row = throughput_row(
                id=f"1{sub}",
                name=f"queue poll, {kind} tokens",
                result=result,
                floor=floor,
                conns=sizes.conns,
                min_ratio=0.60,
            )
            row.problems += self.unexpected(result, {200})
            self.add(row)
        # What any endpoint with one database round trip can reach here: a plain Django view
        # (no DRF, no ORM) that runs `SELECT 1`. The gap between it and the floor is the price
        # of the round trip alone.
        reqs = [{"method": "GET", "path": "/health"}]
        result, floor = self.paired("1r-health", reqs, conns=sizes.conns)
        row = Row(id="1r", name="reference: GET /health, plain view + SELECT 1", tool=result["tool"], conns=sizes.conns)
        row.result, row.floor = result, floor
        row.problems += self.unexpected(result, {200})
        self.add(row)

    def s2_seat_map(self) -> None:
        sizes = self.sizes
        if not getattr(self, "active_tokens", None):  # run without scenario 1
            self.seed.queue_reset()
            users = self.seed.users_create("map_", sizes.poll_active)
            self.seed.tokens_issue(users)
            self.active_tokens = [u["token"] for u in users]
        path = f"/api/v1/concerts/{self.concert_id}/dates/{self.map_date.isoformat()}/seats"
        reqs = [{"method": "GET", "path": path, "headers": {"X-Queue-Token": t}} for t in self.active_tokens]
        conns = 32 if not self.args.smoke else sizes.conns
        result, floor = self.paired("2-seatmap", reqs, conns=conns, profile=True)
        row = throughput_row(
            id="2",
            name=f"seat map, 50 seats ({self.dress['held']} held, {self.dress['sold']} sold)",
            result=result,
            floor=floor,
            conns=conns,
            min_ratio=0.50,
            max_p99_ms=50,
        )
        row.problems += self.unexpected(result, {200})
        self.add(row)

    def s3_token_issue(self) -> None:
        seed, sizes = self.seed, self.sizes
        seed.queue_reset()
        t0 = time.monotonic()
        users = seed.users_create("issue_", sizes.issue_users)
        self.log(f"3: {len(users)} users with API keys created in {time.monotonic() - t0:.1f}s")
        reqs = [
            {
                "method": "POST",
                "path": "/api/v1/queue/tokens",
                "headers": {"Authorization": f"Token {u['api_key']}", "Content-Type": "application/json"},
                "body": "{}",
            }
            for u in users
        ]
        result, floor = self.paired("3-issue", reqs, conns=sizes.conns, distinct=True, profile=True)
        row = throughput_row(
            id="3", name="token issue, distinct users", result=result, floor=floor, conns=sizes.conns, min_ratio=0.35
        )
        row.problems += self.unexpected(result, {201})
        if result["requests"] >= len(users) * 0.95:
            row.notes.append("ran out of pre-created users before the duration ended")
        self.add(row)
        seed.queue_reset()

    def s4_one_seat_rush(self) -> None:
        seed, n = self.seed, self.sizes.rush_one_seat
        seed.queue_reset()
        seed.active_limit_set(n + 10)
        users = seed.users_create("one_", n)
        seed.tokens_issue(users)
        seed.active_limit_set(None)
        assert all(u["status"] == "ACTIVE" for u in users)
        seat = {"concert_id": self.concert_id, "date": self.map_date.isoformat(), "seat_number": 50}
        reqs = [
            {
                "method": "POST",
                "path": "/api/v1/reservations",
                "headers": {"X-Queue-Token": u["token"], "Content-Type": "application/json"},
                "body": json.dumps(seat),
            }
            for u in users
        ]
        profiler = None
        if self.args.profile:
            profiler = Profiler(self.gunicorn.proc.pid, RESULTS / "profile-4-one-seat.raw")
            profiler.start(6)
        result = self.run_py("4-one-seat", {"mode": "burst", "requests": reqs, "duration": 120}, timeout=180)
        if profiler is not None:
            self.profiles["4-one-seat"] = profiler.stop() or ""
        result["tool"], result["conns"] = "py", n
        won = result["statuses"].get("201", 0)
        lost = result["codes"].get("409 SEAT_UNAVAILABLE", 0)
        in_db = seed.reservations_on_seat(concert_id=self.concert_id, date=self.map_date, number=50)
        problems = []
        if won != 1 or lost != n - 1:
            problems.append(
                f"expected exactly 1 x 201 and {n - 1} x 409 SEAT_UNAVAILABLE,"
                f" got {result['statuses']} {result['codes']}"
            )
        if in_db.get("HELD", 0) != 1:
            problems.append(f"the seat has {in_db} reservations in the database, expected exactly one HELD")
        row = Row(
            id="4",
            name=f"one-seat rush, {n} concurrent holds",
            tool="py",
            conns=n,
            result=result,
            target="1 x 201, rest 409, 0 x 5xx, p99 < 500 ms",
            verdict="PASS" if not problems and result["p99_ms"] < 500 and won == 1 else "FAIL",
            measured=f"{won} x 201, {lost} x 409, p99 {result['p99_ms']:.0f} ms",
            problems=problems,
        )
        self.add(row)
        # The same burst on the floor view: how long 500 requests at once take here when the
        # app does nothing at all.
        floor = self.run_py(
            "4-floor-burst", {"mode": "burst", "requests": [{"method": "GET", "path": "/health/live"}] * n}, timeout=180
        )
        floor["tool"], floor["conns"] = "py", n
        reference = Row(id="4r", name=f"reference: {n} concurrent GET /health/live", tool="py", conns=n, result=floor)
        reference.problems += self.unexpected(floor, {200})
        self.add(reference)
        seed.queue_reset()

    def s5_spread_rush(self) -> None:
        seed, sizes = self.seed, self.sizes
        seed.queue_reset()
        users = seed.users_create("rush_", sizes.rush_users)
        seed.wallets_charge(users, 10_000_000)
        seed.tokens_issue(users)
        assert all(u["status"] == "ACTIVE" for u in users), "rush users must all be admitted"
        seats = [
            [self.concert_id, d.isoformat(), n] for d in self.dates[1 : 1 + sizes.rush_dates] for n in range(1, 51)
        ]
        from django.conf import settings

        floor_before = self.floor("5", conns=sizes.rush_users, tool="py", duration=self.sizes.slice_s * 2)
        spec = {
            "mode": "rush",
            "users": [{k: u[k] for k in ("user_id", "api_key", "token")} for u in users],
            "seats": seats,
            "max_holds": settings.MAX_HOLDS_PER_USER,
            "duration": sizes.rush_duration,
            "max_requests": 200_000,
        }
        profiler = None
        if self.args.profile:
            profiler = Profiler(self.gunicorn.proc.pid, RESULTS / "profile-5-rush.raw")
            profiler.start(min(sizes.rush_duration, 10))
        seed.wait_quiet()
        cpu_before = self.cpu_snapshot()
        out = self.run_py("5-rush", spec, timeout=sizes.rush_duration + 120)
        cpu_after = self.cpu_snapshot()
        floor_after = self.floor("5", conns=sizes.rush_users, tool="py", duration=self.sizes.slice_s * 2)
        floor = merge([floor_before, floor_after])
        if profiler is not None:
            self.profiles["5-rush"] = profiler.stop() or ""
        holds = out["kinds"]["hold"]
        holds["rps"] = holds["requests"] / out["elapsed_s"]
        holds["tool"], holds["conns"] = "py", sizes.rush_users
        # CPU of the whole flow (holds, payments, new tokens) per hold request.
        holds["cpu_app_s"] = self.cpu_delta(cpu_before, cpu_after, "app")
        holds["cpu_db_s"] = self.cpu_delta(cpu_before, cpu_after, "db")
        books = seed.books_check()
        problems = list(books["problems"])
        unexpected = {k: v for k, v in out["outcome"].items() if "unexpected" in k or "not_admitted" in k}
        if unexpected:
            problems.append(f"unexpected answers {unexpected}")
        paid = out["paid_reservation_ids"]
        confirmed = seed.confirmed_count(paid) if paid else 0
        if confirmed != len(paid) or len(set(paid)) != len(paid):
            problems.append(f"{len(paid)} reservations paid per the client, {confirmed} CONFIRMED in the database")
        for kind in ("pay", "token", "poll"):
            k = out["kinds"][kind]
            if count_status(k, lambda s: s >= 500) or transport_errors(k):
                problems.append(f"{kind}: {k['statuses']} errors {k['errors']}")
        ratio = holds["rps"] / floor["rps"]
        pay = out["kinds"]["pay"]
        row = Row(
            id="5",
            name=f"spread rush: {sizes.rush_users} users hold + pay over {sizes.rush_dates} dates",
            tool="py",
            conns=sizes.rush_users,
            result=holds,
            floor=floor,
            target=">= 0.25 x floor holds/s; books balance",
            verdict="PASS" if ratio >= 0.25 and not problems else "FAIL",
            measured=f"{holds['rps']:.0f} holds/s = {ratio:.2f} x floor",
            problems=problems,
            notes=[
                f"outcome {out['outcome']}",
                f"payments: {pay['requests']} (p50 {pay['p50_ms'] or 0:.1f} ms, p99 {pay['p99_ms'] or 0:.1f} ms);"
                f" seats left {out['seats_left_in_pool']}",
                f"books: charges {books['charges']:,} = balances {books['balances']:,}"
                f" + payments {books['payments']:,};"
                f" min balance {books['min_balance']:,}; {books['confirmed_reservations']} seats sold, none twice",
            ],
        )
        self.add(row)
        self.rows.append(
            Row(
                id="5p",
                name="  (spread rush: its payments)",
                tool="py",
                conns=sizes.rush_users,
                result={**pay, "rps": pay["requests"] / out["elapsed_s"], "tool": "py", "conns": sizes.rush_users},
            )
        )
        seed.queue_reset()

    def s6_queue_scale(self) -> None:
        seed, sizes = self.seed, self.sizes
        seed.queue_reset()
        seed.line_seed(prefix="line_active_", first=1, count=seed_limit(), status="ACTIVE")
        seed.line_seed(prefix="line_", first=1, count=sizes.line_small, status="WAITING")
        seed.analyze("accounts_user", "queue_queueentry")
        measurements = {}
        for label, size in (("small", sizes.line_small), ("big", sizes.line_big)):
            if label == "big":
                t0 = time.monotonic()
                seed.line_seed(
                    prefix="line_", first=sizes.line_small + 1, count=size - sizes.line_small, status="WAITING"
                )
                seed.analyze("accounts_user", "queue_queueentry")
                self.log(
                    f"6: seeded {size - sizes.line_small:,} more WAITING entries (and users) with SQL"
                    f" in {time.monotonic() - t0:.1f}s"
                )
            counts = seed.line_counts()
            tokens = seed.line_sample_tokens(status="WAITING", count=min(sizes.line_sample, size))
            reqs = [{"method": "GET", "path": "/api/v1/queue/status", "headers": {"X-Queue-Token": t}} for t in tokens]
            result, floor = self.paired(f"6-poll-{label}", reqs, conns=sizes.line_conns, profile=label == "big")
            measurements[label] = (result, floor, counts)
            row = Row(
                id=f"6{'a' if label == 'small' else 'b'}",
                name=f"queue poll with {counts.get('WAITING', 0):,} WAITING in line",
                tool=result["tool"],
                conns=sizes.line_conns,
                result=result,
                floor=floor,
            )
            row.problems += self.unexpected(result, {200})
            if counts.get("WAITING", 0) != size:
                row.problems.append(f"line has {counts} entries, expected {size} WAITING")
            if label == "small":
                self.add(row)
        (small, small_floor, _), (big, big_floor, _) = measurements["small"], measurements["big"]
        raw = big["p50_ms"] / small["p50_ms"]
        normalized = (big["p50_ms"] / big_floor["p50_ms"]) / (small["p50_ms"] / small_floor["p50_ms"])
        row.target = "p50 (floor-normalized) <= 1.2 x the 100-line p50"
        row.verdict = "PASS" if normalized <= 1.2 else "FAIL"
        row.measured = f"p50 {normalized:.2f} x the small line's (raw {raw:.2f} x)"
        self.add(row)

    def s7_sweeper(self) -> None:
        seed, sizes = self.seed, self.sizes
        from apps.reservations.services import holds_sweep

        seed.queue_reset()
        users = seed.users_create("sweep_", max(8, sizes.sweep_conns))
        seed.tokens_issue(users)
        # First the sweeper alone, on its own batch of lapsed holds: the rate without a concurrent load.
        alone = seed.lapsed_holds_seed(
            count=sizes.lapsed_holds, user_id=users[0]["user_id"], first_date=dt.date.today() + dt.timedelta(days=5000)
        )
        seed.wait_quiet()
        t = time.perf_counter()
        swept_alone = holds_sweep()
        alone_s = time.perf_counter() - t
        alone_rate = swept_alone / alone_s if alone_s else 0
        self.log(f"7: sweeper alone: {swept_alone:,} holds in {alone_s:.2f}s = {alone_rate:,.0f} holds/s")
        t0 = time.monotonic()
        sweep = seed.lapsed_holds_seed(
            count=sizes.lapsed_holds, user_id=users[0]["user_id"], first_date=dt.date.today() + dt.timedelta(days=400)
        )
        self.log(
            f"7: seeded {sweep['holds']:,} lapsed holds over {sweep['dates']} dates with SQL"
            f" in {time.monotonic() - t0:.1f}s"
        )
        date = (dt.date.today() + dt.timedelta(days=400 + sweep["dates"] // 2)).isoformat()
        path = f"/api/v1/concerts/{sweep['concert_id']}/dates/{date}/seats"
        reqs = [{"method": "GET", "path": path, "headers": {"X-Queue-Token": u["token"]}} for u in users]
        before, floor = self.paired("7-seatmap-before", reqs, conns=sizes.sweep_conns)
        row = Row(
            id="7a", name="seat map of a swept date, before the sweep", tool=before["tool"], conns=sizes.sweep_conns
        )
        row.result, row.floor = before, floor
        row.problems += self.unexpected(before, {200})
        self.add(row)
        outcome: dict = {}

        def sweeper() -> None:
            time.sleep(1.0)  # the load runs alone for a second first
            from django.db import connection

            t = time.perf_counter()
            outcome["swept"] = holds_sweep()
            outcome["seconds"] = time.perf_counter() - t
            connection.close()

        thread = threading.Thread(target=sweeper)
        self.seed.wait_quiet()
        thread.start()
        tool = self.tool
        if tool == "wrk":
            during = self.load(
                "7-seatmap-during",
                reqs,
                conns=sizes.sweep_conns,
                duration=120,
                stop_when=lambda: not thread.is_alive(),
                quiet=False,
            )
        else:
            during = self.load(
                "7-seatmap-during", reqs, conns=sizes.sweep_conns, duration=max(3, sizes.duration), quiet=False
            )
        thread.join()
        rate = outcome["swept"] / outcome["seconds"] if outcome.get("seconds") else 0
        left = seed.lapsed_holds_left()
        problems = self.unexpected(during, {200})
        if swept_alone != alone["holds"]:
            problems.append(f"the sweeper alone swept {swept_alone} of {alone['holds']}")
        if outcome.get("swept") != sweep["holds"] or left:
            problems.append(f"swept {outcome.get('swept')} of {sweep['holds']}, {left} lapsed holds left")
        responsive = during["p99_ms"] < 50
        row = Row(
            id="7",
            name=f"sweeper: {sweep['holds']:,} lapsed holds; seat map meanwhile",
            tool=during["tool"],
            conns=sizes.sweep_conns,
            result=during,
            target=">= 20,000 holds/s; seat map p99 < 50 ms during the sweep",
            verdict="PASS" if rate >= 20_000 and responsive and not problems else "FAIL",
            measured=f"{rate:,.0f} holds/s ({outcome.get('seconds', 0):.2f} s); seat map p99 {during['p99_ms']:.1f} ms",
            problems=problems,
            notes=[
                "the seat map load ran from 1 s before the sweep until it finished",
                f"the sweeper alone (no HTTP load, same size, just before): {alone_rate:,.0f} holds/s"
                f" ({swept_alone:,} in {alone_s:.2f} s)",
            ],
        )
        row.floor = floor
        self.add(row)

    def s8_memory(self) -> None:
        mem = self.gunicorn.worker_memory()
        peak = max((m["peak_rss_mb"] for m in mem), default=0)
        self.add(
            Row(
                id="8",
                name=f"peak RSS of one worker ({len(mem)} workers)",
                target="< 150 MB",
                verdict="PASS" if 0 < peak < 150 else "FAIL",
                measured=f"{peak:.0f} MB peak (now: "
                + ", ".join(f"{m['rss_mb']:.0f}" for m in mem)
                + " MB RSS; PSS "
                + ", ".join(f"{m['pss_mb']:.0f}" for m in mem if m["pss_mb"] is not None)
                + " MB)",
            )
        )

    def s9_request_costs(self) -> None:
        """Queries and CPU per request, in-process (no HTTP): the noise-free view of each endpoint."""
        from bench import probe

        day = dt.date.today() + dt.timedelta(days=20)
        concert_id = self.seed.concert_seed(title="Bench probe", dates=[day])
        self.costs = probe.request_costs(concert_id=concert_id, date=day.isoformat(), repeat=self.sizes.probe_repeat)
        for row in self.costs:
            if not row["ok"]:
                self.add(Row(id="9", name=f"request cost {row['endpoint']}", problems=[f"statuses {row['statuses']}"]))
        self.log("9: per-request cost measured in-process")

    # --- the end ------------------------------------------------------------------------------

    def finish(self) -> int:
        elapsed = time.monotonic() - self.started
        self.machine["elapsed_s"] = round(elapsed, 1)
        text = render_text(self.rows, self.machine, self.costs)
        md = render_markdown(self.rows, self.machine, self.costs)
        (RESULTS / "latest.md").write_text(md)
        (RESULTS / "latest.json").write_text(
            json.dumps(
                {"machine": self.machine, "rows": [r.__dict__ for r in self.rows], "request_costs": self.costs},
                indent=1,
                default=str,
            )
        )
        for name, summary in self.profiles.items():
            print(f"\n=== profile {name} (bench/results/profile-{name}.raw) ===\n{summary}")
        print(text)
        if self.args.update_doc:
            if self.args.smoke or self.args.only or self.args.profile:
                print("BENCHMARKS.md not updated: only a full, unprofiled run of every scenario goes there")
            else:
                update_doc(server.ROOT / "BENCHMARKS.md", md)
                print("BENCHMARKS.md updated")
        problems = [(r.id, p) for r in self.rows for p in r.problems]
        if problems:
            print("\nCORRECTNESS FAILURES:")
            for rid, p in problems:
                print(f"  {rid}: {p}")
            return 1
        if self.args.strict and any(r.verdict == "FAIL" for r in self.rows):
            return 2
        return 0


def seed_limit() -> int:
    from django.conf import settings

    return settings.QUEUE_ACTIVE_LIMIT


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="bench/run", description=__doc__.split("\n\n")[0])
    parser.add_argument("--smoke", action="store_true", help="every scenario at tiny sizes (CI); speed never fails it")
    parser.add_argument("--tool", choices=["auto", "wrk", "py"], default="auto", help="load tool for closed-loop runs")
    parser.add_argument("--only", nargs="+", metavar="N", help="only these scenarios (1-8)")
    parser.add_argument("--profile", action="store_true", help="record py-spy profiles of the workers during the runs")
    parser.add_argument("--update-doc", action="store_true", help="write the table into BENCHMARKS.md")
    parser.add_argument("--strict", action="store_true", help="exit 2 when a speed target is missed")
    parser.add_argument("--workers", type=int, help="GUNICORN_WORKERS for the server under test")
    parser.add_argument("--threads", type=int, help="GUNICORN_THREADS for the server under test")
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
