import datetime as dt
import math

from django.conf import settings
from django.db import connection

from apps.common.sql import column_names, fetch_one, instance_from_row
from apps.queue.models import QueueEntry, QueueState

QUEUE_STATE_PK = 1
_STATE_FIELDS = column_names(QueueState)
_ENTRY_FIELDS = column_names(QueueEntry)
# Polls and token issues read these on every request: written out once, not built by the ORM.
# The count reads at most the active limit rows, through a partial index, however long the line.
_ACTIVE_COUNT = f"(SELECT count(*) FROM {QueueEntry._meta.db_table} WHERE status = 'ACTIVE' AND expires_at > %s)"
_STATE_ROW = f"{', '.join(_STATE_FIELDS)} FROM {QueueState._meta.db_table} WHERE id = {QUEUE_STATE_PK}"
_LIVE_ENTRY = f"""
    SELECT {", ".join(_ENTRY_FIELDS)} FROM {QueueEntry._meta.db_table}
     WHERE user_id = %s AND status IN ('WAITING', 'ACTIVE')"""


def _state_from(row: tuple | None) -> QueueState:
    """The control row; its defaults if it has not been written yet (a flushed database)."""
    return QueueState(pk=QUEUE_STATE_PK) if row is None else instance_from_row(QueueState, _STATE_FIELDS, row)


def queue_state_get() -> QueueState:
    """The control row, unlocked."""
    return _state_from(fetch_one(f"SELECT {_STATE_ROW}"))


def active_count(*, now: dt.datetime) -> int:
    return fetch_one(f"SELECT {_ACTIVE_COUNT}", [connection.ops.adapt_datetimefield_value(now)])[0]


def queue_state_and_active_count(*, now: dt.datetime) -> tuple[QueueState, int]:
    """The control row (unlocked) and how many tokens are ACTIVE at `now`, in one query."""
    row = fetch_one(f"SELECT {_ACTIVE_COUNT}, {_STATE_ROW}", [connection.ops.adapt_datetimefield_value(now)])
    if row is None:
        return _state_from(None), active_count(now=now)
    return _state_from(row[1:]), row[0]


def live_entry_get(*, user_id: int) -> QueueEntry | None:
    """The user's WAITING or ACTIVE entry, as stored (it may have lapsed): at most one."""
    row = fetch_one(_LIVE_ENTRY, [user_id])
    return None if row is None else instance_from_row(QueueEntry, _ENTRY_FIELDS, row)


def abandon_cutoff(now: dt.datetime) -> dt.datetime:
    """A WAITING entry last seen at or before this has given up its place."""
    return now - dt.timedelta(seconds=settings.QUEUE_ABANDON_SECONDS)


def entry_is_abandoned(*, entry: QueueEntry, now: dt.datetime) -> bool:
    return entry.status == QueueEntry.Status.WAITING and entry.last_seen_at <= abandon_cutoff(now)


def entry_effective_status(*, entry: QueueEntry, now: dt.datetime) -> str:
    """Time decides, not the background job: a lapsed ACTIVE token or an abandoned WAITING
    one is EXPIRED the moment its time is up, whether or not the task has marked it."""
    if entry.status == QueueEntry.Status.ACTIVE and entry.expires_at <= now:
        return QueueEntry.Status.EXPIRED
    if entry_is_abandoned(entry=entry, now=now):
        return QueueEntry.Status.EXPIRED
    return entry.status


def waiting_head_ticket() -> int | None:
    """The ticket at the head of the line: the first row of a partial index, however long the line."""
    return (
        QueueEntry.objects.filter(status=QueueEntry.Status.WAITING)
        .order_by("ticket")
        .values_list("ticket", flat=True)
        .first()
    )


def seconds_per_admission(*, state: QueueState) -> float:
    """Observed recently; before any history, the worst case: every slot held for its full TTL."""
    if state.seconds_per_admission is not None:
        return state.seconds_per_admission
    return settings.QUEUE_ACTIVE_TTL_SECONDS / max(state.effective_active_limit, 1)


def entry_place(*, entry: QueueEntry, state: QueueState | None = None) -> tuple[int, int]:
    """(position, estimated_wait_seconds). Position counts tickets ahead that have not yet
    left the line, so it may overcount people who gave up mid-line; it never undercounts.
    Pass the state a poll already read; it is read here only when the entry waits."""
    if entry.status != QueueEntry.Status.WAITING:
        return 0, 0
    state = state or queue_state_get()
    position = max(entry.ticket - state.now_serving, 1)
    return position, max(1, math.ceil(position * seconds_per_admission(state=state)))
