"""The queue poll and the token issue, answered in front of Django (see concert_booking/edge.py).

A crowd in the waiting room polls far more often than it does anything else, and a WAITING
poll needs neither the database nor Django's middleware: the token's signature, one Redis round
trip (the throttle count and the line's poll script, pipelined) and the body. Whatever is not
a plain WAITING or ACTIVE answer (a bad token, a throttled client, an ended token, a line that
must be reloaded) goes on to the API view, which answers it with the same code.

A token issue runs the queue's service for an API key (for a new user one PostgreSQL statement
finds the key's user and joins, then one Redis script); in front of Django it skips the request machinery,
middleware and DRF, which cost as much as the work itself. Anything but an answer the view
would give as 200 or 201 (no or a malformed key, a throttled client, an error) goes on to the
view."""

import io
import json

from django.conf import settings
from django.core.handlers.wsgi import WSGIRequest
from django.db import DatabaseError
from django.utils import timezone
from redis.exceptions import NoScriptError

from apps.accounts.authentication import ApiKeyAuthentication
from apps.common.errors import ApplicationError
from apps.common.redis import UNAVAILABLE as STORE_UNAVAILABLE
from apps.common.redis import get_redis
from apps.common.throttles import ClientIpThrottle, rate_limit_hit, rate_limit_queue, rate_limit_verdict
from apps.queue import line
from apps.queue.body import queue_token_body
from apps.queue.errors import QueueTokenInvalid
from apps.queue.services import queue_token_issue_for_api_key
from apps.queue.tokens import entry_id_for_token, token_for

PATH = "/api/v1/queue/status"
ISSUE_PATH = "/api/v1/queue/tokens"
ANSWERED = {"WAITING", "ACTIVE"}
THROTTLE_SCOPE = "queue_poll"
ISSUE_THROTTLE_SCOPE = "queue_issue"  # the API view's throttle scope
MAX_BODY_BYTES = 1024


def entry_id_from_header(environ: dict) -> int | None:
    """The entry id of the request's X-Queue-Token, from its signature; None for no token or
    a forged one (the API view answers those)."""
    token = environ.get("HTTP_X_QUEUE_TOKEN")
    if not token:
        return None
    try:
        return entry_id_for_token(token)
    except QueueTokenInvalid:
        return None


def poll_body(environ: dict) -> bytes | None:
    """The 200 body of a WAITING or ACTIVE token's poll, or None for the API view to answer."""
    entry_id = entry_id_from_header(environ)
    if entry_id is None:
        return None
    pipe = get_redis().pipeline(transaction=False)
    if settings.THROTTLING:
        rate_limit_queue(pipe=pipe, scope=THROTTLE_SCOPE, ident=str(entry_id))
    line.poll_queue(pipe=pipe, entry_id=entry_id, now=timezone.now())
    try:
        results = pipe.execute()
    except (*STORE_UNAVAILABLE, NoScriptError):
        return None  # the view answers 503, or loads the script again
    if settings.THROTTLING and not rate_limit_verdict(scope=THROTTLE_SCOPE, results=results[:3])[0]:
        return None  # the view counts it once more (it is over the limit either way) and answers 429
    place = line.place_from_reply(results[-1])
    if place.status not in ANSWERED:
        return None
    return _json(queue_token_body(token=environ["HTTP_X_QUEUE_TOKEN"], place=place))


def issue_answer(environ: dict) -> tuple[int, bytes] | None:
    """(201 or 200, body) of POST /queue/tokens for a valid API key, or None for the API view."""
    key = _api_key(environ.get("HTTP_AUTHORIZATION", ""))
    if key is None or not _small_body_read(environ):
        return None
    try:
        if settings.THROTTLING:
            client = ClientIpThrottle().get_ident(WSGIRequest(environ))  # the client, as the view counts it
            if not rate_limit_hit(scope=ISSUE_THROTTLE_SCOPE, ident=client)[0]:
                return None  # the view counts it once more (over the limit either way) and answers 429
        issued = queue_token_issue_for_api_key(api_key=key)
        if issued is None:
            return None  # the view answers 401
        entry, place, created = issued
    except (ApplicationError, DatabaseError, *STORE_UNAVAILABLE):
        return None  # the view answers it, with the same service: a second try, or the error
    return (201 if created else 200), _json(queue_token_body(token=token_for(entry), place=place))


def _small_body_read(environ: dict) -> bool:
    """The view ignores the body (the contract's `{}`), but a connection kept alive must not be
    left with it unread. Anything larger than a small JSON object is the view's to handle."""
    try:
        length = int(environ.get("CONTENT_LENGTH") or 0)
    except ValueError:
        return False
    if not 0 <= length <= MAX_BODY_BYTES:
        return False
    # Read off the connection, and kept for Django should the request go on to it.
    environ["wsgi.input"] = io.BytesIO(environ["wsgi.input"].read(length))
    return True


def _api_key(header: str) -> str | None:
    """The key of `Authorization: Token <key>`, read as DRF's TokenAuthentication reads it."""
    parts = header.split()
    if len(parts) != 2 or parts[0].lower() != ApiKeyAuthentication.keyword.lower():
        return None
    return parts[1]


def _json(body: dict) -> bytes:
    return json.dumps(body, separators=(",", ":")).encode()
