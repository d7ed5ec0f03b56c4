"""Queue tokens: `<entry id>.<nonce>` signed with SECRET_KEY.

Only the nonce is stored, so a database dump cannot be turned into a token, while the same
token can be handed back on re-issue. The signature alone proves that we issued a token, which
is all a poll needs (`entry_id_for_token`: an HMAC, no database); booking also looks the entry
and its user up (`entry_for_token`).
"""

import secrets

from django.core import signing
from django.utils.crypto import constant_time_compare

from apps.accounts.models import User
from apps.common.sql import column_names, fetch_one, instance_from_row
from apps.queue.errors import QueueTokenInvalid
from apps.queue.models import QueueEntry

_signer = signing.Signer(salt="apps.queue.token")
MAX_TOKEN_LENGTH = 200
_ENTRY_FIELDS = column_names(QueueEntry)
_USER_FIELDS = column_names(User)
# Every booking request and poll runs this lookup. It is the SQL select_related("user") would
# send, written out once: the ORM building that query each time cost ten times the query.
_ENTRY_WITH_USER = "SELECT {}, {} FROM {} e JOIN {} u ON u.id = e.user_id WHERE e.id = %s".format(
    ", ".join(f"e.{name}" for name in _ENTRY_FIELDS),
    ", ".join(f"u.{name}" for name in _USER_FIELDS),
    QueueEntry._meta.db_table,
    User._meta.db_table,
)


def new_nonce() -> str:
    return secrets.token_urlsafe(16)  # 128 random bits


def token_for(entry: QueueEntry) -> str:
    return _signer.sign(f"{entry.pk}.{entry.nonce}")


def _claims(token: str) -> tuple[int, str]:
    """(entry id, nonce) from a token we signed; QUEUE_TOKEN_INVALID otherwise."""
    if len(token) > MAX_TOKEN_LENGTH:
        raise QueueTokenInvalid()
    try:
        entry_id, _, nonce = _signer.unsign(token).partition(".")
        return int(entry_id), nonce
    except (signing.BadSignature, ValueError) as exc:
        raise QueueTokenInvalid() from exc


def entry_id_for_token(token: str) -> int:
    """The entry id a token names, from its signature alone; QUEUE_TOKEN_INVALID if forged."""
    return _claims(token)[0]


def entry_for_token(token: str) -> QueueEntry:
    """The entry this token names, in any status, with its user; QUEUE_TOKEN_INVALID if it names none."""
    entry_pk, nonce = _claims(token)
    entry = _entry_with_user(entry_pk)
    if entry is None or not constant_time_compare(nonce, entry.nonce):
        raise QueueTokenInvalid()
    return entry


def _entry_with_user(entry_pk: int) -> QueueEntry | None:
    row = fetch_one(_ENTRY_WITH_USER, [entry_pk])
    if row is None:
        return None
    entry = instance_from_row(QueueEntry, _ENTRY_FIELDS, row[: len(_ENTRY_FIELDS)])
    entry.user = instance_from_row(User, _USER_FIELDS, row[len(_ENTRY_FIELDS) :])
    return entry
