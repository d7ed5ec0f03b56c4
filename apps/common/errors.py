"""The one base class for domain errors. The exception handler turns each into problem details.

`title` and `default_detail` are marked for translation (gettext_lazy) and become text in the
request's language when the answer is written; `code` and `status` never change."""

from django.utils.translation import gettext_lazy as _


class ApplicationError(Exception):
    status = 400
    code = "BAD_REQUEST"
    title = _("Bad request")
    default_detail = _("The request could not be processed.")
    # For 401s: the credential scheme to name in the WWW-Authenticate header HTTP requires.
    www_authenticate: str | None = None

    def __init__(self, detail: str | None = None, *, errors: list[dict] | None = None):
        self.detail = detail or self.default_detail
        self.errors = errors
        super().__init__(self.detail)


class ValidationFailed(ApplicationError):
    status, code, title = 400, "VALIDATION_ERROR", _("Invalid request")
    default_detail = _("The request body is not valid.")


class InvalidDate(ApplicationError):
    """A date in a path or body not written as the contract writes dates."""

    status, code, title = 400, "INVALID_DATE", _("Invalid date")
    default_detail = _("A date must be written YYYY-MM-DD.")


class Forbidden(ApplicationError):
    status, code, title = 403, "FORBIDDEN", _("Forbidden")
    default_detail = _("You may not access this resource.")


class IdempotencyKeyReused(ApplicationError):
    status, code, title = 422, "IDEMPOTENCY_KEY_REUSED", _("Idempotency key reused")
    default_detail = _("This Idempotency-Key was already used with a different request body.")


class ServiceUnavailable(ApplicationError):
    status, code, title = 503, "SERVICE_UNAVAILABLE", _("Service unavailable")
    default_detail = _("The database or the shared store is unavailable or busy. Retry shortly.")
