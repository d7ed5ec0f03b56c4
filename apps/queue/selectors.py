import datetime as dt
import math
from collections.abc import Iterator

from django.conf import settings
from django.db.models import Count, Q

from apps.common.sql import column_names, fetch_one, instance_from_row
from apps.queue.errors import QueueTokenInvalid
from apps.queue.line import Place
from apps.queue.models import LIVE_SQL, QUEUE_STATE_PK, QueueEntry, QueueState, Status
from apps.queue.tokens import entry_for_token, entry_id_for_token, token_for

_ENTRY_FIELDS = column_names(QueueEntry)
_LIVE_ENTRY = f"""
    SELECT {", ".join(_ENTRY_FIELDS)} FROM {QueueEntry._meta.db_table}
     WHERE user_id = %s AND {LIVE_SQL}"""
# The longest a client is asked to wait between polls: a quarter of the time after which a
# WAITING entry nobody polls drops out, so someone who follows the advice never does.
MAX_POLL_AFTER_SECONDS = 30


def queue_state_get() -> QueueState:
    """The staff's controls; their defaults if the row is missing (a flushed database)."""
    return QueueState.objects.filter(pk=QUEUE_STATE_PK).first() or QueueState(pk=QUEUE_STATE_PK)


def live_entry_get(*, user_id: int) -> QueueEntry | None:
    """The user's WAITING or ACTIVE entry, as stored (it may have lapsed): at most one."""
    row = fetch_one(_LIVE_ENTRY, [user_id])
    return None if row is None else instance_from_row(QueueEntry, _ENTRY_FIELDS, row)


def entry_get(*, entry_id: int) -> QueueEntry | None:
    return QueueEntry.objects.filter(pk=entry_id).first()


def queue_token(*, entry: QueueEntry) -> str:
    """The token a client sends for this entry."""
    return token_for(entry)


def queue_entry_id_for_token(*, token: str) -> int:
    """The entry id a token names, from its signature alone (no database: for polls);
    QUEUE_TOKEN_INVALID if we did not sign it."""
    return entry_id_for_token(token)


def queue_entry_for_token(*, token: str, user_id: int) -> QueueEntry:
    """The entry a token names, in any status, if it is this user's; QUEUE_TOKEN_INVALID otherwise."""
    entry = entry_for_token(token)
    if entry.user_id != user_id:
        raise QueueTokenInvalid()
    return entry


def place_is_admitted(place: Place) -> bool:
    """May the holder of this place book (an ACTIVE slot)?"""
    return place.status == Status.ACTIVE


def live_entries_in_order() -> Iterator[tuple[int, str, dt.datetime | None]]:
    """(id, status, expires_at) of every stored live entry, in ticket order, streamed."""
    return (
        QueueEntry.objects.live().order_by("id").values_list("id", "status", "expires_at").iterator(chunk_size=10_000)
    )


def seconds_per_admission(place: Place) -> float:
    """Observed recently; before any history, the worst case: every slot held for its full TTL."""
    if place.seconds_per_admission is not None:
        return place.seconds_per_admission
    limit = place.active_limit if place.active_limit is not None else settings.QUEUE_ACTIVE_LIMIT
    return settings.QUEUE_ACTIVE_TTL_SECONDS / max(limit, 1)


def estimated_wait_seconds(place: Place) -> int | None:
    """0 when admitted; None while admission is paused (nobody knows); otherwise at least 1
    and never smaller for a later position."""
    if place.status != Status.WAITING:
        return 0
    if place.paused:
        return None
    return max(1, math.ceil(place.position * seconds_per_admission(place)))


def poll_after_seconds(place: Place) -> int:
    """When to poll next. The crowd's polls thin out with the distance from the head: about five
    polls before one's estimated turn, and never longer than a second per ten people ahead, since
    a slot may free at any moment and the estimate is only an estimate (the head polls every
    second). Never more than MAX_POLL_AFTER_SECONDS, nor than a quarter of the abandon time."""
    longest = max(1, min(MAX_POLL_AFTER_SECONDS, settings.QUEUE_ABANDON_SECONDS // 4))
    wait = estimated_wait_seconds(place)
    if place.status != Status.WAITING or wait is None:
        return longest
    return max(1, min(longest, wait // 5, 1 + place.position // 10))


def admissions_per_minute(*, now: dt.datetime, minutes: int = 5) -> list[int]:
    """Admissions PostgreSQL has recorded in each of the last `minutes` minutes before `now`,
    oldest first (for staff: the live sale page). PostgreSQL learns of an admission when its
    holder next books or the scheduled task runs, so the newest minute may still grow. One query;
    admitted_at has no index of its own, so it reads the table: fine for a page, not a hot path."""
    minute = dt.timedelta(minutes=1)
    within = {
        back: Q(admitted_at__gt=now - (back + 1) * minute, admitted_at__lte=now - back * minute)
        for back in range(minutes)
    }
    buckets = {f"m{back}": Count("pk", filter=q) for back, q in within.items()}
    counts = QueueEntry.objects.filter(admitted_at__gt=now - minutes * minute).aggregate(**buckets)
    return [counts[f"m{back}"] for back in reversed(range(minutes))]
