"""The queue poll, answered in front of Django (see concert_booking/edge.py).

A crowd in the waiting room polls far more often than it does anything else, and a WAITING
poll needs neither the database nor Django's middleware: the token's signature, one Redis round
trip (the throttle count and the line's poll script, pipelined) and the body. Whatever is not
a plain WAITING or ACTIVE answer (a bad token, a throttled client, an ended token, a line that
must be reloaded) goes on to the API view, which answers it with the same code."""

import json

from django.conf import settings
from django.utils import timezone
from redis.exceptions import NoScriptError

from apps.common.redis import UNAVAILABLE as STORE_UNAVAILABLE
from apps.common.redis import get_redis
from apps.common.throttles import rate_limit_queue, rate_limit_verdict
from apps.queue import line
from apps.queue.body import queue_token_body
from apps.queue.errors import QueueTokenInvalid
from apps.queue.tokens import entry_id_for_token

PATH = "/api/v1/queue/status"
ANSWERED = {"WAITING", "ACTIVE"}
THROTTLE_SCOPE = "queue_poll"


def poll_body(environ: dict) -> bytes | None:
    """The 200 body of a WAITING or ACTIVE token's poll, or None for the API view to answer."""
    token = environ.get("HTTP_X_QUEUE_TOKEN")
    if not token:
        return None
    try:
        entry_id = entry_id_for_token(token)
    except QueueTokenInvalid:
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
    return json.dumps(queue_token_body(token=token, place=place), separators=(",", ":")).encode()
