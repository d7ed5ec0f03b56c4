"""Queue tokens: `<entry id>.<nonce>` signed with SECRET_KEY.

Only the nonce is stored, so a database dump cannot be turned into a token, while the same
token can be handed back on re-issue. Checking one costs an HMAC, one primary-key lookup and
a constant-time compare.
"""

import secrets

from django.core import signing
from django.utils.crypto import constant_time_compare

from apps.queue.errors import QueueTokenInvalid
from apps.queue.models import QueueEntry

_signer = signing.Signer(salt="apps.queue.token")
MAX_TOKEN_LENGTH = 200


def new_nonce() -> str:
    return secrets.token_urlsafe(16)  # 128 random bits


def token_for(entry: QueueEntry) -> str:
    return _signer.sign(f"{entry.pk}.{entry.nonce}")


def entry_for_token(token: str) -> QueueEntry:
    """The entry this token names, in any status; QUEUE_TOKEN_INVALID if it names none."""
    if len(token) > MAX_TOKEN_LENGTH:
        raise QueueTokenInvalid()
    try:
        entry_id, _, nonce = _signer.unsign(token).partition(".")
        entry_pk = int(entry_id)
    except (signing.BadSignature, ValueError) as exc:
        raise QueueTokenInvalid() from exc
    entry = QueueEntry.objects.select_related("user").filter(pk=entry_pk).first()
    if entry is None or not constant_time_compare(nonce, entry.nonce):
        raise QueueTokenInvalid()
    return entry
