"""The one base class for domain errors. The exception handler turns each into problem details."""


class ApplicationError(Exception):
    status = 400
    code = "BAD_REQUEST"
    title = "Bad request"
    default_detail = "The request could not be processed."
    # For 401s: the credential scheme to name in the WWW-Authenticate header HTTP requires.
    www_authenticate: str | None = None

    def __init__(self, detail: str | None = None, *, errors: list[dict] | None = None):
        self.detail = detail or self.default_detail
        self.errors = errors
        super().__init__(self.detail)


class ValidationFailed(ApplicationError):
    status, code, title = 400, "VALIDATION_ERROR", "Invalid request"
    default_detail = "The request body is not valid."


class InvalidDate(ApplicationError):
    """A date in a path or body not written as the contract writes dates."""

    status, code, title = 400, "INVALID_DATE", "Invalid date"
    default_detail = "A date must be written YYYY-MM-DD."


class Forbidden(ApplicationError):
    status, code, title = 403, "FORBIDDEN", "Forbidden"
    default_detail = "You may not access this resource."


class IdempotencyKeyReused(ApplicationError):
    status, code, title = 422, "IDEMPOTENCY_KEY_REUSED", "Idempotency key reused"
    default_detail = "This Idempotency-Key was already used with a different request body."


class ServiceUnavailable(ApplicationError):
    status, code, title = 503, "SERVICE_UNAVAILABLE", "Service unavailable"
    default_detail = "The database or the shared store is unavailable or busy. Retry shortly."
