from django.utils.translation import gettext_lazy as _

from apps.common.errors import ApplicationError


class QueueTokenError(ApplicationError):
    """A 401 about the X-Queue-Token header."""

    status = 401
    www_authenticate = 'X-Queue-Token realm="booking"'


class QueueTokenMissing(QueueTokenError):
    code, title = "QUEUE_TOKEN_MISSING", _("Queue token missing")
    default_detail = _("Send your waiting-queue token in the X-Queue-Token header.")


class QueueTokenInvalid(QueueTokenError):
    code, title = "QUEUE_TOKEN_INVALID", _("Queue token invalid")
    default_detail = _("This queue token is not known.")


class QueueTokenExpired(QueueTokenError):
    code, title = "QUEUE_TOKEN_EXPIRED", _("Queue token expired")
    default_detail = _("This queue token has ended. Take a new one.")


class QueueTokenNotActive(ApplicationError):
    status, code, title = 403, "QUEUE_TOKEN_NOT_ACTIVE", _("Still waiting")
    default_detail = _("Your queue token has not been admitted yet. Keep polling /api/v1/queue/status.")
