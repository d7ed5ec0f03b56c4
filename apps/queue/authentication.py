import dataclasses

from rest_framework.authentication import BaseAuthentication
from rest_framework.permissions import BasePermission

from apps.queue.errors import QueueTokenError, QueueTokenInvalid, QueueTokenMissing
from apps.queue.models import QueueEntry
from apps.queue.services import queue_entry_check_admitted
from apps.queue.tokens import entry_for_token, entry_id_for_token

HEADER = "X-Queue-Token"


@dataclasses.dataclass(frozen=True)
class QueueTokenClaim:
    """A token whose signature checked out: enough to poll, which needs no database."""

    entry_id: int
    token: str


def _header_token(request) -> str:
    token = request.headers.get(HEADER)
    if not token:
        raise QueueTokenMissing()
    return token


class QueueTokenAuthentication(BaseAuthentication):
    """`X-Queue-Token: <token>` for booking. Sets request.user to the token's user and
    request.auth to its QueueEntry, whatever its status: HasActiveQueueToken decides."""

    def authenticate(self, request):
        entry = entry_for_token(_header_token(request))
        if not entry.user.is_active:  # a deactivated account's token stops working, as its API keys do
            raise QueueTokenInvalid()
        return entry.user, entry

    def authenticate_header(self, request):
        return QueueTokenError.www_authenticate


class QueueTokenClaimAuthentication(QueueTokenAuthentication):
    """`X-Queue-Token` for polls: the signature only, no database (request.auth is a
    QueueTokenClaim, request.user None). The line knows whether the entry is still live."""

    def authenticate(self, request):
        token = _header_token(request)
        return None, QueueTokenClaim(entry_id=entry_id_for_token(token), token=token)


class HasActiveQueueToken(BasePermission):
    """Admitted and not yet ended: needed for the booking endpoints."""

    def has_permission(self, request, view):
        if not isinstance(request.auth, QueueEntry):
            # Authenticated another way (an API key on a view that also takes one): booking
            # still needs a queue token.
            raise QueueTokenMissing()
        queue_entry_check_admitted(entry=request.auth)
        return True
