"""The bench's own database and gunicorn: created, started, measured and stopped here."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from urllib.parse import urlparse

ROOT = Path(__file__).resolve().parent.parent
# The application under test: this checkout, or an exported revision (bench/run --app-rev).
APP_DIR = ROOT
PYTHON = sys.executable
DEFAULT_DATABASE_URL = "postgres://postgres@127.0.0.1:5432/cb_bench"
DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/14"


def bench_env(database_url: str, redis_url: str) -> dict[str, str]:
    """Production settings for the server under test and for the seeding process alike."""
    env = dict(os.environ)
    env.update(
        {
            "DATABASE_URL": database_url,
            "REDIS_URL": redis_url,
            "DJANGO_SETTINGS_MODULE": "concert_booking.settings",
            "DEBUG": "0",
            "SECRET_KEY": "bench-secret-key-not-for-production-0123456789abcdef",
            "ALLOWED_HOSTS": "127.0.0.1,localhost",
            "THROTTLING": "off",
            # Seeded ACTIVE tokens must outlive the whole run (the default is 10 minutes).
            "QUEUE_ACTIVE_TTL_SECONDS": "86400",
            # Nor may seeded WAITING entries drop out of the line for not polling (default 2 min).
            "QUEUE_ABANDON_SECONDS": "86400",
            # Nor the seat map's seeded holds (default 5 min): the sweeper scenario sweeps only
            # the lapsed holds it seeds itself.
            "HOLD_SECONDS": "86400",
        }
    )
    return env


def database_reset(database_url: str) -> None:
    """DROP and CREATE the bench database. Refuses any name without 'bench' in it."""
    import psycopg

    url = urlparse(database_url)
    name = url.path.lstrip("/")
    if "bench" not in name or not name.replace("_", "").isalnum():
        raise SystemExit(f"refusing to drop database {name!r}: the bench only drops a database named *bench*")
    admin = url._replace(path="/postgres").geturl()
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')


def _redis(redis_url: str):
    import redis

    return redis.Redis.from_url(redis_url, socket_connect_timeout=5, decode_responses=True)


REDIS_MARK = "bench:run"


def redis_reset(redis_url: str) -> str:
    """FLUSHDB the bench's own Redis database (refusing database 0, everyone's default), and
    leave a mark in it: gone at the end means that something else flushed the database during
    the run (another bench, tests pointed at the same database). Returns the mark."""
    db = urlparse(redis_url).path.lstrip("/")
    if not db.isdigit() or int(db) == 0:
        raise SystemExit(
            f"refusing to flush Redis database {db or '0'!r}: give the bench a numbered database of its own"
        )
    mark = f"{os.getpid()}-{time.time()}"
    with _redis(redis_url) as client:
        client.flushdb()
        client.set(REDIS_MARK, mark)
    return mark


def redis_mark_present(redis_url: str, mark: str) -> bool:
    with _redis(redis_url) as client:
        return client.get(REDIS_MARK) == mark


def redis_version(redis_url: str) -> str:
    with _redis(redis_url) as client:
        return client.info("server")["redis_version"]


def manage(env: dict, *args: str) -> str:
    out = subprocess.run([PYTHON, "manage.py", *args], cwd=APP_DIR, env=env, check=True, capture_output=True, text=True)
    return out.stdout


def app_export(rev: str, dest_root: Path) -> Path:
    """A clean copy of the application at `rev` (git archive), to benchmark committed code
    while the working tree is being edited."""
    sha = subprocess.run(
        ["git", "rev-parse", "--short", rev], cwd=ROOT, check=True, capture_output=True, text=True
    ).stdout.strip()
    dest = dest_root / f"app-{sha}"
    if not (dest / "manage.py").exists():
        dest.mkdir(parents=True, exist_ok=True)
        archive = subprocess.Popen(["git", "archive", sha], cwd=ROOT, stdout=subprocess.PIPE)
        subprocess.run(["tar", "-x", "-C", str(dest)], stdin=archive.stdout, check=True)
        if archive.wait() != 0:
            raise SystemExit(f"git archive {rev} failed")
    return dest


def app_describe() -> str:
    """Which code is under test: a commit, and whether the app's files differ from it."""
    try:
        sha = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], cwd=APP_DIR, check=True, capture_output=True, text=True
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--", "apps", "concert_booking", "gunicorn.conf.py"],
            cwd=APP_DIR,
            check=True,
            capture_output=True,
            text=True,
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return f"export {APP_DIR.name}"
    if APP_DIR != ROOT:
        return f"export {APP_DIR.name}"
    return f"{sha}" + (f" + uncommitted changes in {len(dirty.splitlines())} app files" if dirty else " (clean)")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Gunicorn:
    """One gunicorn master on a free loopback port, with the project's gunicorn.conf.py: the
    project itself, or (`app`) another WSGI application such as the floor app."""

    def __init__(
        self, env: dict, log_path: Path, *, app: str | None = None, cwd: Path | None = None, ready_path: str = "/health"
    ):
        self.env = dict(env)
        self.port = free_port()
        self.env["GUNICORN_BIND"] = f"127.0.0.1:{self.port}"
        self.log_path = log_path
        self.app, self.cwd, self.ready_path = app, cwd, ready_path
        self.proc: subprocess.Popen | None = None

    def start(self, timeout: float = 60) -> None:
        self.launch()
        self.wait_ready(timeout)

    def launch(self) -> None:
        self.log = open(self.log_path, "w")
        self.proc = subprocess.Popen(
            [str(Path(PYTHON).parent / "gunicorn"), "-c", str(APP_DIR / "gunicorn.conf.py")]
            + ([self.app] if self.app else []),
            cwd=self.cwd or APP_DIR,
            env=self.env,
            stdout=self.log,
            stderr=subprocess.STDOUT,
        )

    def wait_ready(self, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"gunicorn exited with {self.proc.returncode}; see {self.log_path}")
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{self.port}{self.ready_path}", timeout=2) as resp:
                    if resp.status == 200 and len(self.worker_pids()) >= self.expected_workers():
                        return
            except OSError:
                pass
            time.sleep(0.2)
        raise RuntimeError(f"gunicorn did not come up in {timeout}s; see {self.log_path}")

    def expected_workers(self) -> int:
        return int(self.env.get("GUNICORN_WORKERS") or (os.cpu_count() or 1) * 2 + 1)

    def worker_pids(self) -> list[int]:
        """The master's children, read from /proc."""
        pids = []
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit():
                continue
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            ppid = int(stat.rsplit(")", 1)[1].split()[1])
            if self.proc is not None and ppid == self.proc.pid:
                pids.append(int(entry.name))
        return sorted(pids)

    def worker_memory(self) -> list[dict]:
        """Per worker: peak RSS (VmHWM), current RSS and PSS, in MB."""
        rows = []
        for pid in self.worker_pids():
            try:
                status = (Path("/proc") / str(pid) / "status").read_text()
                fields = {ln.split(":")[0]: ln.split(":")[1].strip() for ln in status.splitlines() if ":" in ln}
                pss = None
                rollup = Path("/proc") / str(pid) / "smaps_rollup"
                if rollup.exists():
                    for ln in rollup.read_text().splitlines():
                        if ln.startswith("Pss:"):
                            pss = int(ln.split()[1]) / 1024
                rows.append(
                    {
                        "pid": pid,
                        "peak_rss_mb": int(fields["VmHWM"].split()[0]) / 1024,
                        "rss_mb": int(fields["VmRSS"].split()[0]) / 1024,
                        "pss_mb": pss,
                    }
                )
            except (OSError, KeyError, ValueError):
                continue
        return rows

    def stop(self) -> None:
        if self.proc is None:
            return
        if self.proc.poll() is not None:
            self.log.close()
            return
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.log.close()


def floor_server(env: dict, log_path: Path) -> Gunicorn:
    """The floor app (bench/floor_app) under the same gunicorn settings as the project; it is
    part of the bench, so it runs from this checkout even when the app under test is an export."""
    from bench.floor_app.urls import PATH

    return Gunicorn(
        {**env, "DJANGO_SETTINGS_MODULE": "bench.floor_app.settings"},
        log_path,
        app="bench.floor_app.wsgi:application",
        cwd=ROOT,
        ready_path=PATH,
    )
