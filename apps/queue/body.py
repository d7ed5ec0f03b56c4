"""The queue-token body, shared by the API view and the thin poll path (apps/queue/edge.py).

Polls are the most frequent request of all, so the body is built directly; the serializer in
apis.py documents it in the schema."""

import datetime as dt

from django.utils import timezone

from apps.queue.line import Place
from apps.queue.selectors import estimated_wait_seconds, poll_after_seconds


def _timestamp(moment: dt.datetime) -> str:
    """As DRF's DateTimeField writes it (the current zone, "Z" for UTC), at a fraction of its cost."""
    text = timezone.localtime(moment).isoformat()
    return text[:-6] + "Z" if text.endswith("+00:00") else text


def queue_token_body(*, token: str, place: Place) -> dict:
    return {
        "token": token,
        "status": place.status,
        "position": place.position,
        "estimated_wait_seconds": estimated_wait_seconds(place),
        "expires_at": _timestamp(place.expires_at) if place.expires_at else None,
        "paused": place.paused,
        "poll_after_seconds": poll_after_seconds(place),
    }
