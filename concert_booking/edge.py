"""A thin WSGI layer in front of Django for the few requests a ticket rush multiplies.

Each route here (the queue poll, the dates list, the seat map) answers from Redis alone, with
the same body, status and codes as its API view (the view is the documented, tested source of
truth, and this layer's tests compare the two);
anything it cannot answer plainly goes on to Django untouched. Skipping Django's request
machinery and middleware for these is what lets one server answer the crowd's polls at several
times the rate (BENCHMARKS.md, PERF-NOTES.md).
"""

import re

from django.conf import settings
from django.http.request import split_domain_port, validate_host

from apps.queue import edge as queue_edge
from apps.reservations import edge as reservations_edge

# The headers the full middleware stack puts on an API answer.
_HEADERS = [
    ("Content-Type", "application/json"),
    ("Allow", "GET, HEAD, OPTIONS"),
    ("X-Frame-Options", "DENY"),
    ("X-Content-Type-Options", "nosniff"),
    ("Referrer-Policy", "same-origin"),
    ("Cross-Origin-Opener-Policy", "same-origin"),
]
# GET path -> a function of (environ, **the path's groups) giving the 200 body, or None.
ROUTES = [
    (re.compile(queue_edge.PATH), queue_edge.poll_body),
    (re.compile(reservations_edge.DATES_PATH), reservations_edge.dates_body),
    (re.compile(reservations_edge.SEATS_PATH), reservations_edge.seats_body),
]


def _host_allowed(environ: dict) -> bool:
    """Django's own check, so a request with a forged Host goes on to Django's 400."""
    host = environ.get("HTTP_HOST") or environ.get("SERVER_NAME", "")
    domain, _port = split_domain_port(host)
    return bool(domain) and validate_host(domain, settings.ALLOWED_HOSTS)


class EdgeApplication:
    def __init__(self, django_application):
        self.django_application = django_application

    def __call__(self, environ, start_response):
        body = self._answer(environ) if environ.get("REQUEST_METHOD") == "GET" else None
        if body is None:
            return self.django_application(environ, start_response)
        start_response("200 OK", [*_HEADERS, ("Content-Length", str(len(body)))])
        return [body]

    @staticmethod
    def _answer(environ) -> bytes | None:
        path = environ.get("PATH_INFO", "")
        for pattern, answer in ROUTES:
            match = pattern.fullmatch(path)
            if match:
                return answer(environ, **match.groupdict()) if _host_allowed(environ) else None
        return None
