"""Prometheus metrics (prometheus-client): what each web process counts, the gate in front of
`/metrics`, and the exposition.

Under gunicorn every worker is a process of its own, so the counts live in prometheus-client's
multiprocess mode: each worker writes its values to files in PROMETHEUS_MULTIPROC_DIR (set up,
cleared at the master's start and kept tidy when a worker exits by gunicorn.conf.py), and a
scrape, answered by whichever worker, adds up every worker's files, those of workers that have
since exited included. Without that variable (runserver, tests) the counts are the process's own.

The sale's own numbers (people waiting, holds, payments, ...) are not counted here: they are
read from Redis and PostgreSQL at scrape time (concert_booking/metrics.py), so they are the same
whichever server is scraped and need no instrumentation of the services. docs/deploy.md
describes every metric.
"""

import functools
import hmac
import ipaddress
import os

from django.conf import settings
from django.db import InterfaceError, OperationalError
from prometheus_client import REGISTRY, CollectorRegistry, Counter, Histogram, make_wsgi_app
from prometheus_client.multiprocess import MultiProcessCollector

from apps.common.errors import ServiceUnavailable
from apps.common.redis import UNAVAILABLE as STORE_UNAVAILABLE

PATH = "/metrics"
MULTIPROC_DIR_VARIABLE = "PROMETHEUS_MULTIPROC_DIR"

REQUESTS = Counter(
    "concert_http_requests",
    "HTTP requests answered, by layer (edge: in front of Django; django), method, route and status.",
    ["layer", "method", "route", "status"],
)
REQUEST_SECONDS = Histogram(
    "concert_http_request_duration_seconds",
    "Time from a request's arrival in the application to its answer, by layer, method and route.",
    ["layer", "method", "route"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0),
)
THROTTLED = Counter("concert_throttled_requests", "Requests refused with 429 THROTTLED, by throttle scope.", ["scope"])
UNAVAILABLE = Counter(
    "concert_unavailable_responses",
    "Requests answered 503 SERVICE_UNAVAILABLE, by cause: lock_timeout (a row lock waited past "
    "DB_LOCK_TIMEOUT_MS), database, redis, busy (the application's own retry-later answers).",
    ["cause"],
)

# Anything else a client sends as a method is counted as "other": a label value per made-up
# method would grow the series without bound.
_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
UNMATCHED_ROUTE = "unmatched"  # no URL pattern matched: never the raw path, whose ids are unbounded
_LOCK_NOT_AVAILABLE = "55P03"  # PostgreSQL's SQLSTATE when lock_timeout ends a wait


@functools.cache
def _request_series(layer: str, method: str, route: str, status: int):
    """The two series of one kind of request, looked up once per process (labels() takes a
    lock and builds a key on every call)."""
    return REQUESTS.labels(layer, method, route, str(status)), REQUEST_SECONDS.labels(layer, method, route)


def request_observe(*, layer: str, method: str, route: str, status: int, seconds: float) -> None:
    count, duration = _request_series(layer, method if method in _METHODS else "other", route, status)
    count.inc()
    duration.observe(seconds)


def throttled_count(*, scope: str) -> None:
    THROTTLED.labels(scope).inc()


def unavailable_count(exc: BaseException) -> None:
    """One 503 answered because of `exc`."""
    UNAVAILABLE.labels(_unavailable_cause(exc)).inc()


def _unavailable_cause(exc: BaseException) -> str:
    if isinstance(exc, OperationalError) and getattr(exc.__cause__, "sqlstate", None) == _LOCK_NOT_AVAILABLE:
        return "lock_timeout"
    if isinstance(exc, (OperationalError, InterfaceError)):
        return "database"
    if isinstance(exc, STORE_UNAVAILABLE):
        return "redis"
    if isinstance(exc, ServiceUnavailable):
        return "busy"
    return "other"


# --- who may read /metrics ---


def metrics_enabled() -> bool:
    return bool(settings.METRICS_TOKEN or settings.METRICS_ALLOWED_NETWORKS)


def metrics_access_allowed(environ: dict) -> bool:
    """Off (False for everyone) unless METRICS_TOKEN or METRICS_ALLOWED_NETWORKS is set; with
    both set, a scrape needs both. The network is the connection's peer (REMOTE_ADDR), never a
    forwarded header: a scraper talks to the web server directly, not through the proxy."""
    if not metrics_enabled():
        return False
    if settings.METRICS_TOKEN and not _bearer_matches(environ.get("HTTP_AUTHORIZATION", ""), settings.METRICS_TOKEN):
        return False
    if settings.METRICS_ALLOWED_NETWORKS and not _peer_in(
        environ.get("REMOTE_ADDR", ""), tuple(settings.METRICS_ALLOWED_NETWORKS)
    ):
        return False
    return True


def _bearer_matches(header: str, token: str) -> bool:
    scheme, _, given = header.partition(" ")
    return scheme.lower() == "bearer" and hmac.compare_digest(given.strip().encode(), token.encode())


def _peer_in(address: str, networks: tuple[str, ...]) -> bool:
    try:
        peer = ipaddress.ip_address(address)
    except ValueError:
        return False  # a Unix socket has no address
    if isinstance(peer, ipaddress.IPv6Address) and peer.ipv4_mapped:
        peer = peer.ipv4_mapped
    return any(peer in network for network in parse_networks(networks))


@functools.cache
def parse_networks(networks: tuple[str, ...]) -> tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]:
    """`10.0.0.0/8`, `127.0.0.1`, `fd00::/8`, ... (host bits allowed); ValueError for anything else."""
    return tuple(ipaddress.ip_network(network, strict=False) for network in networks)


# --- the exposition ---


def metrics_wsgi_app(*collectors):
    """A WSGI application answering the text exposition: every process's counts (each worker's
    files in multiprocess mode, this process's own otherwise) and `collectors`, which are read
    on each scrape."""
    registry = CollectorRegistry()
    if os.environ.get(MULTIPROC_DIR_VARIABLE):
        MultiProcessCollector(registry)
    else:
        registry.register(REGISTRY)
    for collector in collectors:
        registry.register(collector)
    return make_wsgi_app(registry)
