"""Queue tokens: `<entry id>.<nonce>` signed with SECRET_KEY.

Only the nonce is stored, so a database dump cannot be turned into a token, while the same
token can be handed back on re-issue. Checking one costs an HMAC, one primary-key lookup and
a constant-time compare.
"""

import datetime as dt
import secrets

from django.core import signing
from django.db import connection
from django.utils import timezone
from django.utils.crypto import constant_time_compare

from apps.accounts.models import User
from apps.queue.errors import QueueTokenInvalid
from apps.queue.models import QueueEntry

_signer = signing.Signer(salt="apps.queue.token")
MAX_TOKEN_LENGTH = 200
_ENTRY_FIELDS = [field.attname for field in QueueEntry._meta.concrete_fields]
_USER_FIELDS = [field.attname for field in User._meta.concrete_fields]
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


def entry_for_token(token: str) -> QueueEntry:
    """The entry this token names, in any status; QUEUE_TOKEN_INVALID if it names none."""
    if len(token) > MAX_TOKEN_LENGTH:
        raise QueueTokenInvalid()
    try:
        entry_id, _, nonce = _signer.unsign(token).partition(".")
        entry_pk = int(entry_id)
    except (signing.BadSignature, ValueError) as exc:
        raise QueueTokenInvalid() from exc
    entry = _entry_with_user(entry_pk)
    if entry is None or not constant_time_compare(nonce, entry.nonce):
        raise QueueTokenInvalid()
    return entry


def _entry_with_user(entry_pk: int) -> QueueEntry | None:
    with connection.cursor() as cursor:
        cursor.execute(_ENTRY_WITH_USER, [entry_pk])
        row = cursor.fetchone()
    if row is None:
        return None
    # Django's converters are skipped on this path; the one that matters is SQLite's, which
    # returns naive datetimes (stored in UTC) where PostgreSQL returns aware ones.
    values = [
        timezone.make_aware(value, dt.UTC) if isinstance(value, dt.datetime) and timezone.is_naive(value) else value
        for value in row
    ]
    entry = QueueEntry.from_db(connection.alias, _ENTRY_FIELDS, values[: len(_ENTRY_FIELDS)])
    entry.user = User.from_db(connection.alias, _USER_FIELDS, values[len(_ENTRY_FIELDS) :])
    return entry
