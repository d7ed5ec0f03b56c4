"""A thin WSGI layer in front of Django for the few requests a ticket rush multiplies.

Each route here (the queue poll, the dates list, the seat map: from Redis alone; the token
issue: the same service as its view) answers with the same body, status and headers as its
API view (the view is the documented, tested source of truth, and this layer's tests compare
the two);
anything it cannot answer plainly goes on to Django untouched. Skipping Django's request
machinery and middleware for these is what lets one server answer the crowd's polls at several
times the rate (BENCHMARKS.md, PERF-NOTES.md).
"""

import contextlib
import dataclasses
import functools
import re
import time
from collections.abc import Callable

from django.conf import settings
from django.core import signals
from django.http.request import split_domain_port, validate_host

from apps.common import metrics
from apps.common.logs import edge_access_logger, edge_request_sampled, log_request, request_id_from, request_id_var
from apps.queue import edge as queue_edge
from apps.reservations import edge as reservations_edge
from concert_booking.metrics import SaleCollector

# The headers the full middleware stack puts on an API answer.
_HEADERS = [
    ("Content-Type", "application/json"),
    ("X-Frame-Options", "DENY"),
    ("X-Content-Type-Options", "nosniff"),
    ("Referrer-Policy", "same-origin"),
    ("Cross-Origin-Opener-Policy", "same-origin"),
]
_STATUS_LINES = {200: "200 OK", 201: "201 Created"}


def _ok(answer):
    """A route that only ever answers 200: its body, or None."""

    def status_and_body(environ, **groups):
        body = answer(environ, **groups)
        return None if body is None else (200, body)

    return status_and_body


@dataclasses.dataclass(frozen=True)
class Route:
    method: str
    path: re.Pattern
    answer: Callable  # (environ, **the path's groups) -> (status, body), or None for Django
    allow: str  # the methods the API view allows, as its Allow header says
    name: str  # in metrics and logs: the URL pattern of the API view, as Django's requests name it
    uses_database: bool = False


ROUTES = [
    Route("GET", re.compile(queue_edge.PATH), _ok(queue_edge.poll_body), "GET, HEAD, OPTIONS", "/api/v1/queue/status"),
    Route(
        "POST",
        re.compile(queue_edge.ISSUE_PATH),
        queue_edge.issue_answer,
        "POST, OPTIONS",
        "/api/v1/queue/tokens",
        uses_database=True,
    ),
    Route(
        "GET",
        re.compile(reservations_edge.DATES_PATH),
        _ok(reservations_edge.dates_body),
        "GET, HEAD, OPTIONS",
        "/api/v1/concerts/<str:concert_id>/dates",
    ),
    Route(
        "GET",
        re.compile(reservations_edge.SEATS_PATH),
        _ok(reservations_edge.seats_body),
        "GET, HEAD, OPTIONS",
        "/api/v1/concerts/<str:concert_id>/dates/<str:date>/seats",
    ),
]


def _host_allowed(environ: dict) -> bool:
    """Django's own check, so a request with a forged Host goes on to Django's 400."""
    host = environ.get("HTTP_HOST") or environ.get("SERVER_NAME", "")
    domain, _port = split_domain_port(host)
    return bool(domain) and validate_host(domain, settings.ALLOWED_HOSTS)


def _route(environ: dict) -> tuple[Route, dict] | None:
    method, path = environ.get("REQUEST_METHOD"), environ.get("PATH_INFO", "")
    for route in ROUTES:
        match = route.path.fullmatch(path) if route.method == method else None
        if match:
            return route, match.groupdict()
    return None


class EdgeApplication:
    def __init__(self, django_application):
        self.django_application = django_application

    def __call__(self, environ, start_response):
        if environ.get("PATH_INFO") == metrics.PATH:
            return self._metrics(environ, start_response)
        found = _route(environ)
        if found is None or not _host_allowed(environ):
            return self.django_application(environ, start_response)
        started = time.perf_counter()
        # One id for the request, whoever answers it: Django's middleware takes it from the header.
        request_id = environ["HTTP_X_REQUEST_ID"] = request_id_from(environ.get("HTTP_X_REQUEST_ID"))
        context = request_id_var.set(request_id)
        try:
            answer = self._answer(environ, *found)
        finally:
            request_id_var.reset(context)
        if answer is None:
            return self.django_application(environ, start_response)
        route, (status, body) = found[0], answer
        headers = [
            *_HEADERS,
            ("Allow", route.allow),
            ("Content-Length", str(len(body))),
            ("X-Request-ID", request_id),
        ]
        start_response(_STATUS_LINES[status], headers)
        _observe(route.method, route.name, status, started, request_id)
        return [body]

    def _answer(self, environ: dict, route: Route, groups: dict) -> tuple[int, bytes] | None:
        if not route.uses_database:
            return route.answer(environ, **groups)
        with _django_request(self, environ):
            return route.answer(environ, **groups)

    def _metrics(self, environ, start_response):
        """GET /metrics for a scraper the settings let in; anyone else gets Django's 404, as for
        a path that does not exist. The Host header is not checked: a scraper names the server by
        its address, which ALLOWED_HOSTS has no reason to list."""
        method = environ.get("REQUEST_METHOD")
        if method not in ("GET", "HEAD") or not metrics.metrics_access_allowed(environ):
            return self.django_application(environ, start_response)
        started = time.perf_counter()
        request_id = request_id_from(environ.get("HTTP_X_REQUEST_ID"))
        answered = []

        def start_with_id(status, headers, exc_info=None):
            answered.append(int(status.split()[0]))
            return start_response(status, [*headers, ("X-Request-ID", request_id)], exc_info)

        context = request_id_var.set(request_id)
        try:
            with _django_request(self, environ):
                body = _metrics_app()(environ, start_with_id)
        finally:
            request_id_var.reset(context)
        _observe(method, metrics.PATH, answered[0], started, request_id)
        return body


@contextlib.contextmanager
def _django_request(edge: EdgeApplication, environ: dict):
    """Django's request signals around work that uses the database: they manage its connection
    (CONN_MAX_AGE, a connection broken meanwhile) as they do around each request Django answers."""
    signals.request_started.send(sender=edge.__class__, environ=environ)
    try:
        yield
    finally:
        signals.request_finished.send(sender=edge.__class__)


@functools.cache
def _metrics_app():
    return metrics.metrics_wsgi_app(SaleCollector())


def _observe(method: str, route: str, status: int, started: float, request_id: str) -> None:
    """The edge's answer in the metrics, and in the log if sampled (LOG_EDGE_SAMPLE)."""
    seconds = time.perf_counter() - started
    metrics.request_observe(layer="edge", method=method, route=route, status=status, seconds=seconds)
    if edge_request_sampled():
        log_request(
            logger=edge_access_logger,
            request_id=request_id,
            layer="edge",
            method=method,
            route=route,
            status=status,
            seconds=seconds,
        )
