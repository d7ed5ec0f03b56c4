"""django-q2 scheduled tasks (created by migration 0002). Each is idempotent."""

from apps.queue.services import queue_admit, queue_drop_abandoned


def queue_maintain() -> dict:
    """Drop abandoned WAITING entries, expire lapsed ACTIVE ones, admit the next in line."""
    dropped = queue_drop_abandoned()
    admitted = queue_admit()
    return {"dropped": dropped, "admitted": admitted}
