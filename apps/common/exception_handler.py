"""Turns every error into RFC 9457 problem details (`application/problem+json`).

Domain errors carry their own status and code; DRF's own exceptions are mapped to the
contract's codes here, so views never build error bodies by hand.
"""

import logging

from django.db import InterfaceError, OperationalError
from django.http import Http404, JsonResponse
from django.utils.translation import gettext_lazy as _
from rest_framework import exceptions
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

from apps.common import metrics
from apps.common.errors import ApplicationError, ServiceUnavailable
from apps.common.logs import current_request_id
from apps.common.redis import UNAVAILABLE as STORE_UNAVAILABLE

logger = logging.getLogger(__name__)

PROBLEM_CONTENT_TYPE = "application/problem+json"

# DRF exception class -> (code, title). Checked in order, so subclasses come first. The titles
# and every detail follow the request's language (LocaleMiddleware; DRF translates its own).
DRF_CODES: list[tuple[type[Exception], str, str]] = [
    (exceptions.ValidationError, "VALIDATION_ERROR", _("Invalid request")),
    (exceptions.ParseError, "VALIDATION_ERROR", _("Malformed request body")),
    (exceptions.AuthenticationFailed, "AUTHENTICATION_FAILED", _("Authentication failed")),
    (exceptions.NotAuthenticated, "AUTHENTICATION_FAILED", _("Authentication failed")),
    (exceptions.PermissionDenied, "FORBIDDEN", _("Forbidden")),
    (exceptions.NotFound, "NOT_FOUND", _("Not found")),
    (exceptions.MethodNotAllowed, "METHOD_NOT_ALLOWED", _("Method not allowed")),
    (exceptions.NotAcceptable, "NOT_ACCEPTABLE", _("Not acceptable")),
    (exceptions.UnsupportedMediaType, "UNSUPPORTED_MEDIA_TYPE", _("Unsupported media type")),
    (exceptions.Throttled, "THROTTLED", _("Too many requests")),
]


def problem_body(*, status: int, code: str, title: str, detail: str, errors=None) -> dict:
    body = {
        "type": f"https://concert-booking.example/problems/{code.lower().replace('_', '-')}",
        "title": str(title),  # lazy translations become text in the active language here
        "status": status,
        "detail": str(detail),
        "code": code,
    }
    if errors:
        body["errors"] = errors
    request_id = current_request_id()
    if request_id:
        # RFC 9457's `instance`: this occurrence, the request id our log lines carry.
        body["instance"] = f"urn:request:{request_id}"
    return body


def problem_response(*, status: int, code: str, title: str, detail: str, errors=None, headers=None):
    return Response(
        problem_body(status=status, code=code, title=title, detail=detail, errors=errors),
        status=status,
        headers=headers,
        content_type=PROBLEM_CONTENT_TYPE,
    )


def problem_json_response(*, status: int, code: str, title: str, detail: str) -> JsonResponse:
    """The same body for plain Django views (404/500 handlers, health)."""
    return JsonResponse(
        problem_body(status=status, code=code, title=title, detail=detail),
        status=status,
        content_type=PROBLEM_CONTENT_TYPE,
    )


def flatten_validation_errors(detail, prefix: str = "") -> list[dict]:
    """DRF's nested error dict/list -> [{"field": "a.b", "message": "..."}]."""
    if isinstance(detail, dict):
        items = []
        for key, value in detail.items():
            field = key if key != "non_field_errors" else ""
            items += flatten_validation_errors(value, f"{prefix}.{field}" if prefix and field else prefix or field)
        return items
    if isinstance(detail, list):
        items = []
        for index, value in enumerate(detail):
            if isinstance(value, (dict, list)):
                items += flatten_validation_errors(value, f"{prefix}[{index}]" if prefix else str(index))
            else:
                items.append({"field": prefix or None, "message": str(value)})
        return items
    return [{"field": prefix or None, "message": str(detail)}]


def problem_exception_handler(exc, context):
    if isinstance(exc, ApplicationError):
        headers = {"WWW-Authenticate": exc.www_authenticate} if exc.www_authenticate else {}
        if isinstance(exc, ServiceUnavailable):
            headers["Retry-After"] = "1"
            metrics.unavailable_count(exc)
        return problem_response(
            status=exc.status, code=exc.code, title=exc.title, detail=exc.detail, errors=exc.errors, headers=headers
        )
    if isinstance(exc, (OperationalError, InterfaceError, *STORE_UNAVAILABLE)):
        # Database or Redis down, connection lost or lock timeout: retryable, never an HTML 500.
        logger.warning("backing store unavailable: %s", exc)
        metrics.unavailable_count(exc)
        return _service_unavailable()

    response = drf_exception_handler(exc, context)
    if response is None:
        return None  # a real bug: Django's handler500 renders it as problem details
    if isinstance(exc, Http404):
        exc = exceptions.NotFound()
    code, title = "ERROR", _("Error")
    for exc_class, mapped_code, mapped_title in DRF_CODES:
        if isinstance(exc, exc_class):
            code, title = mapped_code, mapped_title
            break
    errors = None
    if isinstance(exc, exceptions.ValidationError):
        errors = flatten_validation_errors(exc.detail)
        detail = "; ".join(
            f"{item['field']}: {item['message']}" if item["field"] else item["message"] for item in errors
        )
    else:
        detail = str(exc.detail) if hasattr(exc, "detail") else str(exc)
    body = problem_body(status=response.status_code, code=code, title=title, detail=detail, errors=errors)
    headers = {name: response[name] for name in ("WWW-Authenticate", "Retry-After") if response.has_header(name)}
    return Response(body, status=response.status_code, headers=headers, content_type=PROBLEM_CONTENT_TYPE)


def _service_unavailable():
    error = ServiceUnavailable()
    return problem_response(
        status=error.status, code=error.code, title=error.title, detail=error.detail, headers={"Retry-After": "1"}
    )
