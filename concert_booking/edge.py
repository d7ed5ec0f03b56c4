"""A thin WSGI layer in front of Django for the few requests a ticket rush multiplies.

Each route here (the queue poll, the dates list, the seat map: from Redis alone; the token
issue: the same service as its view) answers with the same body, status and headers as its
API view (the view is the documented, tested source of truth, and this layer's tests compare
the two);
anything it cannot answer plainly goes on to Django untouched. Skipping Django's request
machinery and middleware for these is what lets one server answer the crowd's polls at several
times the rate (BENCHMARKS.md, PERF-NOTES.md).
"""

import dataclasses
import re
from collections.abc import Callable

from django.conf import settings
from django.core import signals
from django.http.request import split_domain_port, validate_host

from apps.queue import edge as queue_edge
from apps.reservations import edge as reservations_edge

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
    uses_database: bool = False


ROUTES = [
    Route("GET", re.compile(queue_edge.PATH), _ok(queue_edge.poll_body), "GET, HEAD, OPTIONS"),
    Route("POST", re.compile(queue_edge.ISSUE_PATH), queue_edge.issue_answer, "POST, OPTIONS", uses_database=True),
    Route("GET", re.compile(reservations_edge.DATES_PATH), _ok(reservations_edge.dates_body), "GET, HEAD, OPTIONS"),
    Route("GET", re.compile(reservations_edge.SEATS_PATH), _ok(reservations_edge.seats_body), "GET, HEAD, OPTIONS"),
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
        found = _route(environ)
        answer = self._answer(environ, *found) if found and _host_allowed(environ) else None
        if answer is None:
            return self.django_application(environ, start_response)
        status, body = answer
        headers = [*_HEADERS, ("Allow", found[0].allow), ("Content-Length", str(len(body)))]
        start_response(_STATUS_LINES[status], headers)
        return [body]

    def _answer(self, environ: dict, route: Route, groups: dict) -> tuple[int, bytes] | None:
        if not route.uses_database:
            return route.answer(environ, **groups)
        # Django's request signals manage the database connection (CONN_MAX_AGE, a connection
        # broken meanwhile) around each request; a route that uses it sends them as Django would.
        signals.request_started.send(sender=self.__class__, environ=environ)
        try:
            return route.answer(environ, **groups)
        finally:
            signals.request_finished.send(sender=self.__class__)
