"""Log lines: JSON (python-json-logger) or text, each with the request id of the request it
belongs to, and one access line per request.

The request id is taken from the client's `X-Request-ID` when it is a sane token, otherwise
made here; it goes back in the `X-Request-ID` response header and in problem bodies
(`instance`, see apps.common.exception_handler), so a client's report finds our log lines.

What a line never holds: request headers (API keys, queue tokens, session and CSRF cookies
travel there), bodies (passwords), or the raw path and query string. The access line names
the route (the URL pattern), never the path with its ids.
"""

import contextvars
import logging
import os
import random
import re

from django.conf import settings
from pythonjsonlogger.core import RESERVED_ATTRS
from pythonjsonlogger.json import JsonFormatter as _JsonFormatter

REQUEST_ID_HEADER = "X-Request-ID"
# Letters, digits and `-_.:@`, at most 128: a UUID, a trace id, a load balancer's id. Anything
# else (spaces, quotes, newlines that would forge a log line) is replaced by an id of our own.
_SANE_REQUEST_ID = re.compile(r"[A-Za-z0-9._:@-]{1,128}")

request_id_var: contextvars.ContextVar[str | None] = contextvars.ContextVar("request_id", default=None)

access_logger = logging.getLogger("concert_booking.access")
edge_access_logger = logging.getLogger("concert_booking.access.edge")


def request_id_from(header: str | None) -> str:
    """The client's id if it is sane, else a new one (32 hex digits)."""
    if header and _SANE_REQUEST_ID.fullmatch(header):
        return header
    return os.urandom(16).hex()


def current_request_id() -> str | None:
    return request_id_var.get()


class RequestContextFilter(logging.Filter):
    """Stamps every record with the id of the request being handled (None outside one). On the
    handler, so that records propagated from any logger get it."""

    def filter(self, record: logging.LogRecord) -> bool:
        if not hasattr(record, "request_id"):
            record.request_id = request_id_var.get()
        return True


class JsonFormatter(_JsonFormatter):
    """One JSON object per line: time, level, logger, message, request_id, and the record's extras.

    Django's `django.request` and `django.server` records carry the request object as an extra;
    it is left out (its repr has the query string, and the request id and route say which request
    it was)."""

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("rename_fields", {"levelname": "level", "name": "logger"})
        kwargs.setdefault("timestamp", "time")
        kwargs.setdefault("reserved_attrs", [*RESERVED_ATTRS, "taskName", "request", "server_time"])
        super().__init__(["levelname", "name", "message"], *args, **kwargs)

    def process_log_record(self, log_data: dict) -> dict:
        return {"time": log_data.pop("time"), **log_data}  # first, for people reading the lines


def log_request(
    *,
    logger: logging.Logger,
    request_id: str,
    layer: str,
    method: str,
    route: str,
    status: int,
    seconds: float,
    user_id: int | None = None,
) -> None:
    """The access line of one request: INFO on `logger`."""
    logger.info(
        "%s %s %s",
        method,
        route,
        status,
        extra={
            "request_id": request_id,
            "layer": layer,
            "method": method,
            "route": route,
            "status": status,
            "duration_ms": round(seconds * 1000, 3),
            "user_id": user_id,
        },
    )


def edge_request_sampled() -> bool:
    """Whether to log this answer of the edge: a fraction LOG_EDGE_SAMPLE of them (0 by default;
    a JSON line costs about as much as 4% of a poll, see docs/deploy.md)."""
    sample = settings.LOG_EDGE_SAMPLE
    return sample > 0 and (sample >= 1 or random.random() < sample)
