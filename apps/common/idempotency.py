"""`Idempotency-Key` support: a retry returns the first successful response and has no second effect.

The record is inserted before the effect, inside the same transaction. A concurrent request with
the same key blocks on the unique index until the first commits, then replays its response; if the
first fails, its record is rolled back with it and the key stays free.
"""

import hashlib
import json
from collections.abc import Callable

from django.core.serializers.json import DjangoJSONEncoder
from django.db import IntegrityError, transaction

from apps.common.errors import IdempotencyKeyReused, ValidationFailed
from apps.common.models import IdempotencyRecord

HEADER = "Idempotency-Key"
MAX_KEY_LENGTH = 255


def idempotency_key_from(request) -> str | None:
    key = request.headers.get(HEADER)
    if key is None:
        return None
    if not key or len(key) > MAX_KEY_LENGTH:
        raise ValidationFailed(
            f"{HEADER} must be 1 to {MAX_KEY_LENGTH} characters.",
            errors=[{"field": HEADER, "message": f"1 to {MAX_KEY_LENGTH} characters."}],
        )
    return key


def request_fingerprint(request) -> str:
    """A hash of the body's meaning: the same JSON with other spacing or key order matches."""
    try:
        canonical = json.dumps(json.loads(request.body or b"null"), sort_keys=True, separators=(",", ":"))
        raw = canonical.encode()
    except (ValueError, RecursionError):  # not JSON (or absurdly deep): compare the bytes
        raw = request.body
    return hashlib.sha256(raw).hexdigest()


def idempotent_response_find(*, user, scope: str, key: str, fingerprint: str) -> tuple[int, dict] | None:
    record = IdempotencyRecord.objects.filter(user=user, scope=scope, key=key).first()
    if record is None:
        return None
    if record.request_fingerprint != fingerprint:
        raise IdempotencyKeyReused()
    return record.response_status, json.loads(record.response_body)


def idempotent_call(
    *, user, scope: str, key: str | None, fingerprint: str, action: Callable[[], tuple[int, dict]]
) -> tuple[int, dict]:
    """Run `action` (returning status and body) at most once per (user, scope, key)."""
    if key is None:
        return action()
    stored = idempotent_response_find(user=user, scope=scope, key=key, fingerprint=fingerprint)
    if stored is not None:
        return stored
    try:
        with transaction.atomic():
            record = IdempotencyRecord.objects.create(
                user=user, scope=scope, key=key, request_fingerprint=fingerprint, response_status=0, response_body=""
            )
            status, body = action()
            record.response_status, record.response_body = status, json.dumps(body, cls=DjangoJSONEncoder)
            record.save(update_fields=["response_status", "response_body"])
            return status, body
    except IntegrityError:
        # A concurrent request with this key committed first: answer as it did.
        stored = idempotent_response_find(user=user, scope=scope, key=key, fingerprint=fingerprint)
        if stored is None:
            raise
        return stored
