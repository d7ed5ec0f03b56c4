"""Several web servers and qcluster processes on one PostgreSQL and one Redis, on this machine:
the deployment API.md's "Several processes and hosts" describes, small enough to run by hand,
drill and benchmark.

    scripts/cluster [--web 3] [--qcluster 2] [--base-port 8100] [--workers 2]

DATABASE_URL (default postgres://postgres@127.0.0.1:5432/cb_cluster, created if missing) and
REDIS_URL (default redis://127.0.0.1:6379/13) name the shared stores. Every process runs with
production settings (DEBUG off, one SECRET_KEY for all, ALLOWED_HOSTS); any other setting
(QUEUE_ACTIVE_LIMIT, THROTTLING, ...) comes from the environment. One Ctrl-C stops everything.

From Python (the drills, the bench):

    with Cluster(web=3, qcluster=2, database_url=..., redis_url=..., settings={"QUEUE_ACTIVE_LIMIT": "20"}) as cluster:
        cluster.ports, cluster.urls
        cluster.kill_web(1)  # SIGKILL one server's master and workers
"""

from __future__ import annotations

import argparse
import os
import secrets
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from urllib.parse import urlparse

from bench import server as bench_server
from bench.server import PYTHON, free_port

DEFAULT_DATABASE_URL = "postgres://postgres@127.0.0.1:5432/cb_cluster"
DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/13"
# django-q2 finishes the task it runs before it stops; after this long it is killed.
QCLUSTER_STOP_SECONDS = 30
WEB_STOP_SECONDS = 30  # gunicorn's graceful_timeout is 20 s
QCLUSTER_ARGV = [PYTHON, "manage.py", "qcluster"]
REBUILD_LINE = "from apps.queue.services import queue_line_rebuild; queue_line_rebuild()"


class Process:
    """One child in a session of its own: the terminal's Ctrl-C never reaches it, so it gets
    exactly the signals sent here (django-q2's stop hangs if a second signal arrives meanwhile),
    and its process group (gunicorn's master and workers, qcluster's children) can be killed whole."""

    def __init__(self, name: str, argv: list[str], env: dict, log_path: Path, cwd: Path):
        self.name, self.argv, self.env, self.log_path, self.cwd = name, argv, env, log_path, cwd
        self.proc: subprocess.Popen | None = None

    def start(self) -> None:
        with open(self.log_path, "ab") as log:
            self.proc = subprocess.Popen(
                self.argv, cwd=self.cwd, env=self.env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
            )

    @property
    def pid(self) -> int | None:
        return self.proc.pid if self.proc else None

    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def terminate(self) -> None:
        """One SIGTERM to the leader: gunicorn's graceful stop, qcluster's orderly one."""
        if self.running():
            self.proc.send_signal(signal.SIGTERM)

    def wait_stopped(self, deadline: float) -> None:
        """Wait for the leader until the deadline, then kill whatever is left of the group."""
        if self.proc is None:
            return
        try:
            self.proc.wait(timeout=max(deadline - time.monotonic(), 0.1))
        except subprocess.TimeoutExpired:
            print(f"cluster: {self.name} did not stop in time; killing it", file=sys.stderr)
        self.kill_group()

    def kill_group(self) -> None:
        if self.proc is None:
            return
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass  # the group is gone already
        self.proc.wait()


class WebServer(Process):
    """gunicorn with the project's gunicorn.conf.py on 127.0.0.1:port."""

    def __init__(self, name: str, port: int, env: dict, log_path: Path, cwd: Path):
        env = {**env, "GUNICORN_BIND": f"127.0.0.1:{port}"}
        super().__init__(name, [str(Path(PYTHON).parent / "gunicorn"), "-c", "gunicorn.conf.py"], env, log_path, cwd)
        self.port = port
        self.workers = int(env["GUNICORN_WORKERS"])

    def ready(self) -> bool:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/health", timeout=2) as response:
                return response.status == 200 and len(self.worker_pids()) >= self.workers
        except OSError:
            return False

    def worker_pids(self) -> list[int]:
        """The master's children, read from /proc."""
        pids = []
        for entry in Path("/proc").iterdir():
            try:
                if entry.name.isdigit() and int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1]) == self.pid:
                    pids.append(int(entry.name))
            except (OSError, ValueError):
                continue
        return pids


class Cluster:
    """`web` gunicorn servers (each on its own port, `workers` sync workers each) and `qcluster`
    django-q2 clusters, sharing one PostgreSQL database and one Redis.

    start() creates the database if it is missing, migrates, collects the static files, and
    rebuilds the waiting line in Redis from PostgreSQL (a Redis database last used with another
    PostgreSQL database would otherwise serve that one's line); then it starts every process and
    returns once each server answers /health with all its workers up. stop() stops them all:
    one SIGTERM each, a wait, then SIGKILL for whatever is left."""

    def __init__(
        self,
        *,
        web: int = 3,
        qcluster: int = 2,
        database_url: str | None = None,
        redis_url: str | None = None,
        base_port: int | None = None,
        workers: int = 2,
        settings: dict[str, str] | None = None,
        log_dir: Path | None = None,
    ):
        if web < 1 or qcluster < 0 or workers < 1:
            raise ValueError("a cluster needs a web server with a worker; qcluster may be 0")
        self.database_url = database_url or os.environ.get("DATABASE_URL") or DEFAULT_DATABASE_URL
        self.redis_url = redis_url or os.environ.get("REDIS_URL") or DEFAULT_REDIS_URL
        self.env = {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "concert_booking.settings",
            "DATABASE_URL": self.database_url,
            "REDIS_URL": self.redis_url,
            "DEBUG": "0",
            # Every process must share it: it signs the queue tokens that any server checks.
            "SECRET_KEY": os.environ.get("SECRET_KEY") or secrets.token_urlsafe(50),
            "ALLOWED_HOSTS": os.environ.get("ALLOWED_HOSTS") or "127.0.0.1,localhost",
            "GUNICORN_WORKERS": str(workers),
            **(settings or {}),
        }
        # The application: this checkout, or an export of a commit (bench/run --app-rev, the drills).
        self.app_dir = bench_server.APP_DIR
        self.ports = [base_port + index for index in range(web)] if base_port else [free_port() for _ in range(web)]
        self.log_dir = log_dir or Path(tempfile.mkdtemp(prefix="cluster-"))
        self.log_dir.mkdir(parents=True, exist_ok=True)
        self.web = [
            WebServer(f"web {n}", port, self.env, self.log_dir / f"web-{n}.log", self.app_dir)
            for n, port in enumerate(self.ports, 1)
        ]
        self.qclusters = [
            Process(f"qcluster {n}", QCLUSTER_ARGV, self.env, self.log_dir / f"qcluster-{n}.log", self.app_dir)
            for n in range(1, qcluster + 1)
        ]

    @property
    def urls(self) -> list[str]:
        return [f"http://127.0.0.1:{port}" for port in self.ports]

    @property
    def processes(self) -> list[Process]:
        return [*self.web, *self.qclusters]

    def manage(self, *args: str) -> str:
        """`manage.py <args>` with the cluster's settings; its stdout."""
        try:
            return bench_server.manage(self.env, *args)
        except subprocess.CalledProcessError as error:
            raise RuntimeError(f"manage.py {' '.join(args)} failed:\n{error.stderr[-3000:]}") from None

    def prepare(self) -> None:
        """The shared stores, ready for the processes: reachable, migrated, the line rebuilt."""
        _redis_ping(self.redis_url)
        _database_create(self.database_url)
        self.manage("migrate", "--noinput")
        self.manage("collectstatic", "--noinput")
        self.manage("shell", "--no-imports", "-c", REBUILD_LINE)

    def start(self, timeout: float = 90) -> None:
        for port in self.ports:
            _check_port_free(port)
        self.prepare()
        for process in self.processes:
            process.start()
        deadline = time.monotonic() + timeout
        waiting = list(self.web)
        while waiting:
            for server in list(waiting):
                if not server.running():
                    raise RuntimeError(f"{server.name} exited with {server.proc.returncode}; see {server.log_path}")
                if server.ready():
                    waiting.remove(server)
            if time.monotonic() > deadline:
                raise RuntimeError(f"{', '.join(s.name for s in waiting)} not up in {timeout:.0f}s; see {self.log_dir}")
            time.sleep(0.2)

    def stop(self) -> None:
        """Web servers first (no new work reaches the stores), then the qclusters."""
        for group, seconds in ((self.web, WEB_STOP_SECONDS), (self.qclusters, QCLUSTER_STOP_SECONDS)):
            for process in group:
                process.terminate()
            deadline = time.monotonic() + seconds
            for process in group:
                process.wait_stopped(deadline)

    def kill_web(self, index: int) -> None:
        """SIGKILL server `index` (0-based): its master and its workers at once, as a host
        that dies would; its port then refuses connections."""
        self.web[index].kill_group()

    def __enter__(self) -> Cluster:
        try:
            self.start()
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(self, *exc_info) -> None:
        self.stop()


def _check_port_free(port: int) -> None:
    with socket.socket() as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            raise SystemExit(f"port {port} is taken: choose another --base-port") from None


def _redis_ping(redis_url: str) -> None:
    import redis

    try:
        with redis.Redis.from_url(redis_url, socket_connect_timeout=2, retry=None) as client:
            client.ping()
    except redis.exceptions.RedisError as error:
        raise SystemExit(f"no Redis at {redis_url} ({error}): start redis-server or set REDIS_URL") from None


def _database_create(database_url: str) -> None:
    """CREATE DATABASE if it does not exist (never drops anything)."""
    import psycopg

    url = urlparse(database_url)
    name = url.path.lstrip("/")
    try:
        with psycopg.connect(url._replace(path="/postgres").geturl(), autocommit=True, connect_timeout=5) as conn:
            if conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone() is None:
                conn.execute(f'CREATE DATABASE "{name}"')
    except psycopg.OperationalError as error:
        raise SystemExit(f"no PostgreSQL at {database_url} ({error}): start it or set DATABASE_URL") from None


def main() -> int:
    parser = argparse.ArgumentParser(description="Several web servers and qclusters on one PostgreSQL and one Redis.")
    parser.add_argument("--web", type=int, default=3, help="gunicorn servers, each on its own port (default 3)")
    parser.add_argument("--qcluster", type=int, default=2, help="manage.py qcluster processes (default 2)")
    parser.add_argument("--base-port", type=int, help="first server's port; the others follow (default: free ports)")
    parser.add_argument("--workers", type=int, default=2, help="gunicorn workers per server (default 2)")
    parser.add_argument("--log-dir", type=Path, help="one log file per process (default: a new directory in /tmp)")
    args = parser.parse_args()

    cluster = Cluster(
        web=args.web, qcluster=args.qcluster, base_port=args.base_port, workers=args.workers, log_dir=args.log_dir
    )

    def interrupt(signum, frame):
        raise KeyboardInterrupt

    # Set even for SIGINT: a shell without job control starts background commands with it ignored.
    for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(signum, interrupt)
    sys.stdout.reconfigure(line_buffering=True)
    reported: set[str] = set()
    try:
        print(f"==> database {cluster.database_url}, Redis {cluster.redis_url}; migrating")
        cluster.start()
        for server, url in zip(cluster.web, cluster.urls, strict=True):
            print(f"==> {server.name}: {url}/api/v1/  (pid {server.pid})")
        for process in cluster.qclusters:
            print(f"==> {process.name}: pid {process.pid}")
        print(f"==> logs in {cluster.log_dir}; Ctrl-C stops everything")
        while True:
            time.sleep(1)
            for process in cluster.processes:
                if process.name not in reported and not process.running():
                    reported.add(process.name)
                    print(f"==> {process.name} exited with {process.proc.returncode} (see {process.log_path})")
    except KeyboardInterrupt:
        pass
    finally:
        # A second Ctrl-C, or the terminal closing, must not cut the stop short.
        for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
            signal.signal(signum, signal.SIG_IGN)
        print("\n==> stopping", flush=True)
        cluster.stop()
        print("==> stopped")
    return 0


if __name__ == "__main__":
    sys.exit(main())
