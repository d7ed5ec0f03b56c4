from django.utils import timezone
from rest_framework.authentication import BaseAuthentication
from rest_framework.permissions import BasePermission

from apps.queue.errors import (
    QueueTokenError,
    QueueTokenExpired,
    QueueTokenInvalid,
    QueueTokenMissing,
    QueueTokenNotActive,
)
from apps.queue.models import QueueEntry
from apps.queue.selectors import entry_effective_status
from apps.queue.tokens import entry_for_token

HEADER = "X-Queue-Token"


class QueueTokenAuthentication(BaseAuthentication):
    """`X-Queue-Token: <token>`. Sets request.user to the token's user and request.auth to its
    QueueEntry, whatever its status: the permission classes decide what a status may do."""

    def authenticate(self, request):
        token = request.headers.get(HEADER)
        if not token:
            raise QueueTokenMissing()
        entry = entry_for_token(token)
        if not entry.user.is_active:  # a deactivated account's token stops working, as its API keys do
            raise QueueTokenInvalid()
        return entry.user, entry

    def authenticate_header(self, request):
        return QueueTokenError.www_authenticate


class HasActiveQueueToken(BasePermission):
    """Admitted and not yet ended: needed for the booking endpoints. One PK lookup in all."""

    def has_permission(self, request, view):
        if not isinstance(request.auth, QueueEntry):
            # Authenticated another way (an API key on a view that also takes one): booking
            # still needs a queue token.
            raise QueueTokenMissing()
        status = entry_effective_status(entry=request.auth, now=timezone.now())
        if status == QueueEntry.Status.EXPIRED:
            raise QueueTokenExpired()
        if status == QueueEntry.Status.WAITING:
            raise QueueTokenNotActive()
        return True
