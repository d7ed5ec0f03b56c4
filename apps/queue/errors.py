from apps.common.errors import ApplicationError


class QueueTokenError(ApplicationError):
    """A 401 about the X-Queue-Token header."""

    status = 401
    www_authenticate = 'X-Queue-Token realm="booking"'


class QueueTokenMissing(QueueTokenError):
    code, title = "QUEUE_TOKEN_MISSING", "Queue token missing"
    default_detail = "Send your waiting-queue token in the X-Queue-Token header."


class QueueTokenInvalid(QueueTokenError):
    code, title = "QUEUE_TOKEN_INVALID", "Queue token invalid"
    default_detail = "This queue token is not known."


class QueueTokenExpired(QueueTokenError):
    code, title = "QUEUE_TOKEN_EXPIRED", "Queue token expired"
    default_detail = "This queue token has ended. Take a new one."


class QueueTokenNotActive(ApplicationError):
    status, code, title = 403, "QUEUE_TOKEN_NOT_ACTIVE", "Still waiting"
    default_detail = "Your queue token has not been admitted yet. Keep polling /api/v1/queue/status."
