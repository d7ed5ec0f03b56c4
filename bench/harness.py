"""What every scenario runs in: the bench's own database and Redis, the servers (the project, the
floor app, the extra project servers of the token-issue rows), load runs and their interleaved
floors, the rows, and the end (the tables, BENCHMARKS.md, the exit status).

The scenarios themselves live in bench/scenarios/, one module each; their targets in
bench/targets.py.
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as dt
import json
import os
import platform
import subprocess
import sys
import time
import traceback
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from bench import server, wrk
from bench.floor_app.urls import PATH as FLOOR_PATH
from bench.profile import Profiler
from bench.report import render_markdown, render_text, update_doc
from bench.rows import Row, count_status, merge, merge_concurrent, transport_errors
from bench.sizes import FULL, SMOKE

RESULTS = server.ROOT / "bench" / "results"
FLOOR_REQUEST = {"method": "GET", "path": FLOOR_PATH}
# Through the middleware, the URLconf, DRF and the problem-details handler, changing nothing.
WARM_UP = [
    {"method": "GET", "path": "/health/live"},
    {"method": "GET", "path": "/health"},
    {"method": "GET", "path": "/api/v1/queue/status"},
    {"method": "POST", "path": "/api/v1/queue/tokens", "headers": {"Content-Type": "application/json"}, "body": "{}"},
]


@dataclasses.dataclass
class Part:
    """One server's share of a load run: its requests and its connections."""

    server: server.Gunicorn
    requests: list[dict]
    conns: int


def proc_cpu_seconds(pid: int) -> float:
    try:
        fields = (Path("/proc") / str(pid) / "stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def cpu_delta(before: dict, after: dict, side: str) -> float:
    return sum(max(0.0, t - before[side].get(pid, 0.0)) for pid, t in after[side].items())


class Bench:
    def __init__(self, args):
        self.args = args
        self.sizes = SMOKE if args.smoke else FULL
        self.tool = "wrk" if args.tool == "wrk" or (args.tool == "auto" and wrk.available()) else "py"
        self.rows: list[Row] = []
        self.started = time.monotonic()
        self.profiles: dict[str, str] = {}
        self.floors: dict = {}
        self.costs: list[dict] = []  # the in-process table (scenario 9)
        self.active_tokens: list[str] = []  # scenario 1's ACTIVE tokens, reused by scenario 2
        self.extra_servers: list[server.Gunicorn] = []

    # --- plumbing ---------------------------------------------------------------------------

    def log(self, message: str) -> None:
        print(f"[{time.monotonic() - self.started:7.1f}s] {message}", file=sys.stderr, flush=True)

    def selected(self, number: str) -> bool:
        return not self.args.only or number in self.args.only

    def part(self, requests: list[dict], conns: int) -> list[Part]:
        """The common case: the whole run against the project's server."""
        return [Part(self.app, requests, conns)]

    def queue_reset(self) -> None:
        """Everyone leaves the line, once requests still in flight have finished."""
        self.watch.wait_quiet()
        self.seed.queue_reset()

    def run_py(self, name: str, spec: dict, timeout: float, target: server.Gunicorn | None = None) -> dict:
        """The bench's asyncio driver in a process of its own, against `target` (the project)."""
        spec = {"host": "127.0.0.1", "port": (target or self.app).port, **spec}
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

    def cpu_snapshot(self, servers: list[server.Gunicorn]) -> dict:
        """CPU seconds used so far by each worker of these servers and each PostgreSQL backend
        of the bench database."""
        return {
            "app": {pid: proc_cpu_seconds(pid) for s in servers for pid in s.worker_pids()},
            "db": {pid: proc_cpu_seconds(pid) for pid in self.watch.backend_pids()},
        }

    @contextlib.contextmanager
    def profiling(self, name: str, duration: float, target: server.Gunicorn | None = None, enabled: bool = True):
        """py-spy on the workers of `target` (the project) meanwhile, with --profile."""
        if not (enabled and self.args.profile):
            yield
            return
        profiler = Profiler((target or self.app).proc.pid, RESULTS / f"profile-{name}.raw")
        profiler.start(duration)
        try:
            yield
        finally:
            self.profiles[name] = profiler.stop() or ""

    def load(
        self,
        name: str,
        parts: list[Part],
        *,
        duration: float | None = None,
        max_requests: int = 10**9,
        distinct: bool = False,
        tool: str | None = None,
        stop_when=None,
        profile: bool = False,
        quiet: bool = True,
    ) -> dict:
        """One closed-loop run, each part against its server at the same time; `distinct` sends
        each request of a part's list at most once (then `remaining` lists, per part, those
        not sent). Waits for the server to finish earlier work first, and counts the CPU time
        the workers and the PostgreSQL backends spent during the run."""
        tool = tool or self.tool
        duration = duration or self.sizes.duration
        if quiet:
            self.watch.wait_quiet()
        servers = list({id(p.server): p.server for p in parts}.values())
        with self.profiling(name, duration, parts[0].server, enabled=profile):
            cpu_before = self.cpu_snapshot(servers)
            if len(parts) == 1:
                results = [self._run_part(name, parts[0], tool, duration, max_requests, distinct, stop_when)]
            else:
                if stop_when is not None:
                    raise ValueError("stop_when takes one part")
                with ThreadPoolExecutor(len(parts)) as pool:
                    futures = [
                        pool.submit(self._run_part, f"{name}-{i}", p, tool, duration, max_requests, distinct, None)
                        for i, p in enumerate(parts)
                    ]
                    results = [f.result() for f in futures]
            cpu_after = self.cpu_snapshot(servers)
        result = merge_concurrent(results)
        result["cpu_app_s"] = cpu_delta(cpu_before, cpu_after, "app")
        result["cpu_db_s"] = cpu_delta(cpu_before, cpu_after, "db")
        result["tool"] = tool if len(parts) == 1 else f"{tool} x{len(parts)}"
        result["conns"] = sum(p.conns for p in parts)
        if distinct:
            result["remaining"] = [r.pop("remaining") for r in results]
        return result

    def _run_part(
        self, name: str, part: Part, tool: str, duration: float, max_requests: int, distinct: bool, stop_when
    ) -> dict:
        if distinct:
            max_requests = min(max_requests, len(part.requests))
        if tool == "wrk":
            result = wrk.run(
                host="127.0.0.1",
                port=part.server.port,
                requests=part.requests,
                connections=part.conns,
                duration=duration,
                max_requests=max_requests,
                workdir=RESULTS,
                name=name,
                distinct=distinct,
                stop_when=stop_when,
            )
            if distinct:
                result["remaining"] = [part.requests[i] for i in result["remaining"]]
        else:
            if stop_when is not None:
                raise ValueError("stop_when needs wrk")
            spec = {
                "mode": "closed",
                "connections": part.conns,
                "duration": duration,
                "max_requests": max_requests,
                "requests": part.requests,
            }
            result = self.run_py(name, spec, timeout=duration + 120, target=part.server)
            if distinct:
                # Each request is sent once, in order; those that failed in transit were sent too.
                result["remaining"] = part.requests[result["requests"] + transport_errors(result) :]
        result["tool"], result["conns"] = tool, part.conns
        return result

    def paired(
        self, name: str, parts: list[Part], *, tool: str | None = None, distinct: bool = False, profile: bool = False
    ) -> tuple[dict, dict]:
        """The scenario and the floor in alternating slices (floor, run, floor, run, ...), so a
        change in the machine's background load hits both alike. The floor runs with all the
        parts' connections together. Returns (run, floor), merged."""
        conns = sum(p.conns for p in parts)
        runs, floors = [], []
        for i in range(self.sizes.slices):
            floors.append(self.floor(name, conns=conns, tool=tool, duration=self.sizes.slice_s))
            live = [p for p in parts if p.requests]
            if not live:
                break
            run = self.load(
                name,
                live,
                tool=tool,
                duration=self.sizes.slice_s,
                distinct=distinct,
                profile=profile and i == self.sizes.slices // 2,
            )
            runs.append(run)
            if distinct:
                # Requests in flight when a slice ended were sent but not counted: never resend them.
                left = iter(run.pop("remaining"))
                parts = [Part(p.server, next(left), p.conns) if p.requests else p for p in parts]
        return merge(runs), merge(floors)

    def floor(self, name: str, *, conns: int, tool: str | None = None, duration: float | None = None) -> dict:
        """The floor app with the same tool and connections. The smoke run measures each
        (tool, conns) floor once and reuses it: its ratios mean nothing."""
        key = (tool or self.tool, conns)
        if self.args.smoke and key in self.floors:
            return self.floors[key]
        self.floors[key] = self.load(
            f"floor-{name}", [Part(self.floor_app, [FLOOR_REQUEST], conns)], tool=tool, duration=duration
        )
        return self.floors[key]

    def add(self, row: Row) -> Row:
        """A row of the table; any 5xx or transport error in its result is a correctness problem."""
        result = row.result or {}
        if result:
            fives = count_status(result, lambda s: s >= 500)
            if fives:
                row.problems.append(f"{fives} responses were 5xx")
            errors = transport_errors(result)
            if errors:
                row.problems.append(f"{errors} transport errors {result.get('errors')}")
        self.rows.append(row)
        self.log(
            f"{row.id} {row.name}: {row.measured or ''} [{row.verdict or '-'}]"
            + (f" PROBLEMS {row.problems}" if row.problems else "")
        )
        return row

    # --- the run ----------------------------------------------------------------------------

    def run(self) -> int:
        RESULTS.mkdir(parents=True, exist_ok=True)
        if self.args.app_rev:
            server.APP_DIR = server.app_export(self.args.app_rev, RESULTS)
            sys.path.insert(0, str(server.APP_DIR))
            self.log(f"benchmarking {self.args.app_rev} exported to {server.APP_DIR}")
        self.env = env = self.server_env()
        self.log(
            f"database {self.args.database_url}: drop, create, migrate, collectstatic;"
            f" Redis {self.args.redis_url}: flush"
        )
        static = subprocess.Popen(
            [sys.executable, "manage.py", "collectstatic", "--noinput", "-v0"], cwd=server.APP_DIR, env=env
        )
        server.database_reset(self.args.database_url)
        redis_mark = server.redis_reset(self.args.redis_url)
        server.manage(env, "migrate", "--noinput", "-v0")
        if static.wait() != 0:
            raise SystemExit("collectstatic failed")
        os.environ.update(env)
        import django

        django.setup()
        from bench import checks, seed
        from bench.pgwatch import PgWatch
        from bench.scenarios import SCENARIOS

        self.seed, self.checks = seed, checks
        self.watch = PgWatch(self.args.database_url)
        self.machine = self.machine_describe()
        # Everything boots while the shared concert is seeded.
        self.app = server.Gunicorn(env, RESULTS / "server.log")
        self.floor_app = server.floor_server(env, RESULTS / "floor.log")
        if self.selected("3"):
            self.extra_servers = [
                server.Gunicorn(env, RESULTS / f"server-{n}.log") for n in range(2, self.sizes.issue_servers + 1)
            ]
        servers = [self.app, self.floor_app, *self.extra_servers]
        for s in servers:
            s.launch()
        try:
            self.concert = seed.rush_concert_seed(dates=1 + self.sizes.rush_dates)
            self.log(
                f"concert {self.concert.id}: {len(self.concert.dates)} dates x 50 seats;"
                f" seat map {self.concert.map_date}: {self.concert.dress}"
            )
            for s in servers:  # all booted before anything is measured
                s.wait_ready()
            self.warm_up(servers)
            self.log(
                f"gunicorn on 127.0.0.1:{self.app.port}, workers {self.app.worker_pids()}; floor app on"
                f" 127.0.0.1:{self.floor_app.port}, workers {self.floor_app.worker_pids()}; tool {self.tool}"
            )
            for number, scenario in SCENARIOS:
                if not self.selected(number):
                    continue
                try:
                    scenario(self)
                except Exception as exc:  # a scenario that crashes is a correctness failure
                    traceback.print_exc()
                    self.add(Row(id=number, name=scenario.__module__, problems=[f"crashed: {exc!r}"]))
            if not server.redis_mark_present(self.args.redis_url, redis_mark):
                self.add(
                    Row(
                        id="-",
                        name=f"the bench's Redis database ({self.args.redis_url})",
                        problems=["flushed by another process during the run: give the bench one of its own"],
                    )
                )
        finally:
            self.machine["loadavg_end"] = Path("/proc/loadavg").read_text().split()[:3]
            for s in servers:
                s.stop()
            self.watch.close()
        return self.finish()

    def warm_up(self, servers: list[server.Gunicorn]) -> None:
        """A second of requests to every server, not measured: each worker's first requests
        import the views and open its connections, which would otherwise land in whichever
        row came first (and in the extra servers' rows of scenario 3 only)."""
        parts = [Part(s, [FLOOR_REQUEST] if s is self.floor_app else WARM_UP, self.sizes.conns) for s in servers]
        result = self.load("warm-up", parts, duration=1)
        self.log(f"warm-up: {result['requests']:,} requests to {len(servers)} servers, statuses {result['statuses']}")

    def server_env(self) -> dict:
        env = server.bench_env(self.args.database_url, self.args.redis_url)
        if self.args.workers:
            env["GUNICORN_WORKERS"] = str(self.args.workers)
        if self.args.threads:
            env["GUNICORN_THREADS"] = str(self.args.threads)
        for item in self.args.server_env or []:
            name, _, value = item.partition("=")
            env[name] = value
        return env

    def machine_describe(self) -> dict:
        from bench import checks

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
            "postgresql": checks.pg_version(),
            "redis": server.redis_version(self.args.redis_url),
            "python": platform.python_version(),
            "gunicorn": f"{workers} workers x {threads} threads ({'gthread' if int(threads) > 1 else 'sync'})",
            "tool": self.tool,
            "mode": "smoke" if self.args.smoke else "full",
            "loadavg_start": Path("/proc/loadavg").read_text().split()[:3],
            "server_env": self.args.server_env or [],
            "code": server.app_describe(),
        }

    # --- the end ------------------------------------------------------------------------------

    def finish(self) -> int:
        self.machine["elapsed_s"] = round(time.monotonic() - self.started, 1)
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
