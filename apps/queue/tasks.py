"""django-q2 scheduled tasks (created by migration 0002). Each is idempotent."""

from apps.common.redis import store_is_shared
from apps.queue.services import queue_maintain as _queue_maintain


def queue_maintain() -> dict:
    """Drop abandoned WAITING entries, admit the next in line, and record both in PostgreSQL."""
    if not store_is_shared():
        # The demo's embedded store lives in the web process: this process would keep a line
        # of its own. Polls admit there, and the web process records admissions itself.
        return {"skipped": "no REDIS_URL: the line lives in the web process"}
    return _queue_maintain()
