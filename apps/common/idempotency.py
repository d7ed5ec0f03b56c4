"""`Idempotency-Key` on the actions that move money: a retry returns the first successful response
and has no second effect.

An action opts in with one decorator and stays an ordinary action:

    @idempotent(scope="payment", input_serializer=InputSerializer)
    def create(self, request): ...

The key is 1 to 255 visible ASCII characters; anything else is 400 VALIDATION_ERROR. A request is
the same as a stored one when it names the same resource (the path's arguments) and its body means
the same: the input serializer's validated data. So other spacing, key order or fields the action
ignores do not matter, and a field that stands for a set (a payment's `reservation_ids`) compares
as a set when it validates to one order. The same key with another request is 422
IDEMPOTENCY_KEY_REUSED, an invalid body included.

The record is inserted before the effect, inside the same transaction. A concurrent request with
the same key blocks on the unique index until the first commits, then replays its response; if the
first fails, its record is rolled back with it and the key stays free. Actions raise their errors
(they never return a 4xx response), so only successes are stored.

Permissions run before the action, so a retry is judged on the credentials it carries now. Where a
retry must be answered after its own effect ended the credential (a payment ends its queue token),
the viewset grants it with `IsIdempotentReplay | <its permission>`.
"""

import dataclasses
import functools
import hashlib
import json
import re
from collections.abc import Callable

from django.core.serializers.json import DjangoJSONEncoder
from django.db import IntegrityError, transaction
from django.utils.translation import gettext as _
from rest_framework import serializers
from rest_framework.permissions import BasePermission
from rest_framework.response import Response

from apps.common.errors import IdempotencyKeyReused, ValidationFailed
from apps.common.models import IdempotencyRecord

HEADER = "Idempotency-Key"
MAX_KEY_LENGTH = 255
# Visible ASCII: RFC 5234's VCHAR (%x21-7E), so no spaces or control characters.
KEY_PATTERN = f"^[!-~]{{1,{MAX_KEY_LENGTH}}}$"
_KEY = re.compile(f"[!-~]{{1,{MAX_KEY_LENGTH}}}")


def _header_key(request) -> str | None:
    """The header's key if it is well formed, else None (absent or malformed)."""
    key = request.headers.get(HEADER)
    return key if key is not None and _KEY.fullmatch(key) else None


def idempotency_key_from(request) -> str | None:
    """The request's key; None without the header; VALIDATION_ERROR if it is malformed."""
    key = _header_key(request)
    if key is None and request.headers.get(HEADER) is not None:
        message = _("1 to %(max)s visible ASCII characters (no spaces).") % {"max": MAX_KEY_LENGTH}
        raise ValidationFailed(
            _("%(header)s must be 1 to %(max)s visible ASCII characters (no spaces).")
            % {"header": HEADER, "max": MAX_KEY_LENGTH},
            errors=[{"field": HEADER, "message": message}],
        )
    return key


def idempotent_response_find(*, user, scope: str, key: str, fingerprint: str) -> tuple[int, dict] | None:
    """The stored (status, body) for this key, None if there is none; IDEMPOTENCY_KEY_REUSED if
    the key was used for another request."""
    record = IdempotencyRecord.objects.filter(user=user, scope=scope, key=key).first()
    if record is None:
        return None
    if record.request_fingerprint != fingerprint:
        raise IdempotencyKeyReused()
    return record.response_status, json.loads(record.response_body)


def idempotent_call(
    *, user, scope: str, key: str, fingerprint: str, action: Callable[[], tuple[int, dict]]
) -> tuple[int, dict]:
    """Run `action` (returning status and body) at most once per (user, scope, key)."""
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


@dataclasses.dataclass(frozen=True)
class Idempotency:
    """How one action's requests are told apart: its scope and what its body means."""

    scope: str
    input_serializer: type[serializers.Serializer]

    def fingerprint(self, request, view) -> str:
        meaning = {"path": view.kwargs, "body": self._body_meaning(request.body)}
        canonical = json.dumps(meaning, sort_keys=True, separators=(",", ":"), cls=DjangoJSONEncoder)
        return hashlib.sha256(canonical.encode()).hexdigest()

    def _body_meaning(self, raw: bytes) -> dict:
        # Read from the raw bytes, not request.data: a body DRF fails to parse reads as empty
        # afterwards, and the action must still see the parse error.
        try:
            serializer = self.input_serializer(data=json.loads(raw or b"null"))
            if serializer.is_valid():
                return {"valid": serializer.validated_data}
        except (ValueError, RecursionError):  # not JSON, or nested too deeply to read
            pass
        # Never stored (it fails), so it only needs to differ from every valid body.
        return {"invalid": hashlib.sha256(raw).hexdigest()}

    def response_find(self, request, view) -> tuple[int, dict] | None:
        key = _header_key(request)
        if key is None:
            return None
        return idempotent_response_find(
            user=request.user, scope=self.scope, key=key, fingerprint=self.fingerprint(request, view)
        )


def idempotent(*, scope: str, input_serializer: type[serializers.Serializer]):
    """Make a viewset action honour `Idempotency-Key` (see the module's docstring)."""
    spec = Idempotency(scope=scope, input_serializer=input_serializer)

    def decorate(handler):
        @functools.wraps(handler)
        def action(view, request, *args, **kwargs):
            key = idempotency_key_from(request)
            if key is None:
                return handler(view, request, *args, **kwargs)

            def first_response() -> tuple[int, dict]:
                response = handler(view, request, *args, **kwargs)
                return response.status_code, response.data

            status, body = idempotent_call(
                user=request.user,
                scope=scope,
                key=key,
                fingerprint=spec.fingerprint(request, view),
                action=first_response,
            )
            return Response(body, status=status)

        action.idempotency = spec
        return action

    return decorate


class IsIdempotentReplay(BasePermission):
    """Grants a retry whose first response is stored (same user, key and request), whatever the
    credential says now: the retry changes nothing, it is answered as the first was. Anything
    else is left to the permission it is OR-ed with, which decides as for any request."""

    def has_permission(self, request, view):
        spec: Idempotency | None = getattr(getattr(view, view.action or "", None), "idempotency", None)
        if spec is None:  # another action of the viewset (OPTIONS' metadata, say)
            return False
        try:
            return spec.response_find(request, view) is not None
        except IdempotencyKeyReused:
            return False  # the other permission judges it first; the action answers 422 after
