"""Production gunicorn settings, tunable by environment. Used by the Docker image and bench/."""

import os
import shutil
import tempfile
from pathlib import Path

from gunicorn.glogging import Logger

bind = os.environ.get("GUNICORN_BIND", "0.0.0.0:8000")
# Sync workers: the app is database-bound with short requests; more processes than cores keep
# the CPU busy while some wait on PostgreSQL.
workers = int(os.environ.get("GUNICORN_WORKERS", (os.cpu_count() or 1) * 2 + 1))
threads = int(os.environ.get("GUNICORN_THREADS", 1))
worker_class = "gthread" if threads > 1 else "sync"
timeout = int(os.environ.get("GUNICORN_TIMEOUT", 30))
graceful_timeout = 20
keepalive = 5
max_requests = int(os.environ.get("GUNICORN_MAX_REQUESTS", 0))
max_requests_jitter = max_requests // 10
# The application logs one line per request itself (apps/common/logs.py), with the request id.
accesslog = os.environ.get("GUNICORN_ACCESSLOG", None)
errorlog = "-"
wsgi_app = "concert_booking.wsgi:application"

# --- Metrics (apps/common/metrics.py, docs/deploy.md "Metrics") ---
# prometheus-client's multiprocess mode: every worker writes its counts to files in this
# directory, and a scrape, answered by any worker, adds them all up. One directory per master:
# a fresh one of its own unless PROMETHEUS_MULTIPROC_DIR names one (then no other master may
# share it). Set here, before any worker imports prometheus-client, which reads it at import.
MULTIPROC_DIR = "PROMETHEUS_MULTIPROC_DIR"
_made_multiproc_dir = not os.environ.get(MULTIPROC_DIR)
if _made_multiproc_dir:
    os.environ[MULTIPROC_DIR] = tempfile.mkdtemp(prefix="concert-booking-metrics-")


def on_starting(server):
    """The counts start at zero with the master: files an earlier master left in the directory
    (a restart that reuses it) would otherwise be added in."""
    directory = Path(os.environ[MULTIPROC_DIR])
    directory.mkdir(parents=True, exist_ok=True)
    for stale in directory.glob("*.db"):
        stale.unlink()


def child_exit(server, worker):
    """A worker that exited (recycled, killed, timed out) keeps its counts in the sums; its live
    gauges, if any metric had one, leave with it."""
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(worker.pid)


def on_exit(server):
    if _made_multiproc_dir:
        shutil.rmtree(os.environ[MULTIPROC_DIR], ignore_errors=True)


# --- gunicorn's own log lines (boot, worker exits, timeouts) in the application's format ---
class JsonLinesLogger(Logger):
    def setup(self, cfg):
        super().setup(cfg)
        from apps.common.logs import JsonFormatter

        for handler in (*self.error_log.handlers, *self.access_log.handlers):
            handler.setFormatter(JsonFormatter())


if os.environ.get("LOG_FORMAT", "json").strip().lower() == "json":
    logger_class = JsonLinesLogger
