import time

from django.core.signals import request_finished
from django.db import InterfaceError, OperationalError
from django.dispatch import receiver
from django.utils.functional import LazyObject, empty

from apps.common import metrics
from apps.common.errors import ServiceUnavailable
from apps.common.exception_handler import problem_json_response
from apps.common.logs import REQUEST_ID_HEADER, access_logger, log_request, request_id_from, request_id_var
from apps.common.redis import UNAVAILABLE as STORE_UNAVAILABLE


class RequestLogMiddleware:
    """The outermost middleware: every request Django answers gets a request id (the log lines
    it causes carry it, and so do the `X-Request-ID` header and problem bodies), one access log
    line, and its count and duration in the metrics. The edge does the same for the requests it
    answers (concert_booking/edge.py)."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        started = time.perf_counter()
        request_id = request_id_from(request.headers.get(REQUEST_ID_HEADER))
        # Kept until the response is closed (request_finished, below), not reset here: Django
        # logs a 4xx or 5xx (django.request) after the middleware has returned.
        request_id_var.set(request_id)
        response = self.get_response(request)
        response[REQUEST_ID_HEADER] = request_id
        seconds = time.perf_counter() - started
        match = request.resolver_match
        route = "/" + match.route if match is not None else metrics.UNMATCHED_ROUTE
        metrics.request_observe(
            layer="django", method=request.method, route=route, status=response.status_code, seconds=seconds
        )
        log_request(
            logger=access_logger,
            request_id=request_id,
            layer="django",
            method=request.method,
            route=route,
            status=response.status_code,
            seconds=seconds,
            user_id=_known_user_id(request),
        )
        return response


@receiver(request_finished, dispatch_uid="apps.common.middleware.request_id_done")
def _request_id_done(**kwargs):
    request_id_var.set(None)


def _known_user_id(request) -> int | None:
    """The user the request was made as, if the view already knows it: an API key's user (DRF
    sets request.user), the web pages' signed-in visitor (request.web_user), the admin's staff
    user. Never looked up just for the log: a session not read by the view stays unread."""
    user = getattr(request, "web_user", None) or request.__dict__.get("user")
    if isinstance(user, LazyObject):
        user = None if user._wrapped is empty else user._wrapped
    return getattr(user, "pk", None)


class DatabaseUnavailableMiddleware:
    """Outside DRF views (admin, web pages) a lost database or Redis is a 503 problem, not a 500."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        return self.get_response(request)

    def process_exception(self, request, exception):
        return unavailable_response(exception) if is_unavailable(exception) else None


def is_unavailable(error: BaseException | None) -> bool:
    """The database or Redis is down, gone, busy or refusing writes: retryable."""
    return isinstance(error, (OperationalError, InterfaceError, *STORE_UNAVAILABLE))


def unavailable_response(error: BaseException):
    """The 503 problem with Retry-After, counted in the metrics by its cause."""
    metrics.unavailable_count(error)
    unavailable = ServiceUnavailable()
    response = problem_json_response(
        status=unavailable.status, code=unavailable.code, title=unavailable.title, detail=unavailable.detail
    )
    response["Retry-After"] = "1"
    return response
