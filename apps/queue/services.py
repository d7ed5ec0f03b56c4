"""The waiting room. Which store is the truth for what (docs/architecture.md has the long form):

- Redis (`apps.queue.line`) holds the line: who waits in which order, who holds one of the
  ACTIVE slots and until when, who polled when, the admission rate. Admission is one Lua script,
  so the ACTIVE count never passes the limit, however many processes issue and poll at once.
- PostgreSQL holds each entry for good: issued (the id is the ticket), admitted, ended, and the
  one-live-entry-per-user constraint. An entry is marked ACTIVE there before its holder can book
  (`queue_entry_check_admitted`), and payments end it there in their own transaction.

A WAITING poll touches Redis only. If Redis loses the line (restart, flush), the next request
that finds it missing rebuilds it from PostgreSQL: WAITING entries queue again in ticket order,
ACTIVE ones keep their slots. Admissions the line made but PostgreSQL has not recorded yet go
back to the head of the line, to be admitted again first; nobody holds two slots.
"""

import datetime as dt
import logging
import time

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone
from django.utils.translation import gettext

from apps.accounts.models import ApiKey, User
from apps.accounts.selectors import user_for_api_key
from apps.accounts.services import api_key_digest
from apps.common.errors import ServiceUnavailable
from apps.common.locking import lock_rows
from apps.common.sql import fetch_one
from apps.queue import line
from apps.queue.errors import QueueTokenExpired, QueueTokenInvalid, QueueTokenNotActive
from apps.queue.line import Place
from apps.queue.models import LIVE_SQL, QUEUE_STATE_PK, QueueEntry, QueueState, Status
from apps.queue.selectors import (
    entry_get,
    live_entries_in_order,
    live_entry_get,
    queue_state_get,
)
from apps.queue.tokens import new_nonce

logger = logging.getLogger(__name__)
REBUILD_LOCK_SECONDS = 60  # lapses by itself if the rebuilding process dies
REBUILD_WAIT_SECONDS = 10
SYNC_BATCH = 10_000
# Joining is one statement: the partial unique index keeps one live entry per user, and a
# second live entry is simply not inserted (no row lock on anything shared). Its commit waits
# for the disk like any other: the id is on the line in Redis and in the token at once, and a
# commit lost to a database crash could hand the same id out again (the sequence's advance is
# in the same WAL). (WHERE true: SQLite's parser needs it between INSERT ... SELECT and ON
# CONFLICT.)
_INSERT_ENTRY = f"""
    INSERT INTO {QueueEntry._meta.db_table} (user_id, nonce, status, created_at)
    SELECT %s, %s, '{Status.WAITING}', %s WHERE true
    ON CONFLICT (user_id) WHERE {LIVE_SQL} DO NOTHING
    RETURNING id, user_id"""
# The same for the holder of an API key, found in the same statement: a new user's whole
# PostgreSQL work for a token (the edge's way). No row when the key names no active user, or
# the user has a live entry already.
_INSERT_ENTRY_FOR_KEY = f"""
    INSERT INTO {QueueEntry._meta.db_table} (user_id, nonce, status, created_at)
    SELECT u.id, %s, '{Status.WAITING}', %s
      FROM {ApiKey._meta.db_table} k JOIN {User._meta.db_table} u ON u.id = k.user_id
     WHERE k.digest = %s AND u.is_active
    ON CONFLICT (user_id) WHERE {LIVE_SQL} DO NOTHING
    RETURNING id, user_id"""


# --- the line, loaded from PostgreSQL when Redis lacks it ---


def queue_line_rebuild(*, now: dt.datetime | None = None) -> None:
    """Wipe the line in Redis and load it from PostgreSQL (bench seeding, drills, admin)."""
    line.wipe()
    _load_line(now=now or timezone.now())


def _load_line(*, now: dt.datetime) -> None:
    state = queue_state_get()
    waiting_ids, active = [], {}
    for entry_id, status, expires_at in live_entries_in_order():
        if status == Status.WAITING:
            waiting_ids.append(entry_id)
        elif expires_at > now:
            active[entry_id] = expires_at
    line.load(waiting_ids=waiting_ids, active=active, controls=(state.active_limit, state.paused), now=now)
    line.mark_ready(now=now)
    logger.warning("queue: line loaded from PostgreSQL: %d waiting, %d active", len(waiting_ids), len(active))


def _ensure_line_loaded(*, now: dt.datetime) -> None:
    """One process loads the line; the others wait for it (a 503 if that takes too long)."""
    deadline = time.monotonic() + REBUILD_WAIT_SECONDS
    while not line.is_ready():
        if line.rebuild_lock(seconds=REBUILD_LOCK_SECONDS):
            try:
                if not line.is_ready():
                    _load_line(now=now)
            finally:
                line.rebuild_unlock()
            return
        if time.monotonic() > deadline:
            raise ServiceUnavailable(gettext("The waiting line is being restored. Retry shortly."))
        time.sleep(0.05)


def _on_line(call, *, now: dt.datetime) -> Place:
    place = call()
    if place.status == "NOT_READY":
        _ensure_line_loaded(now=now)
        place = call()
    return place


# --- where an entry stands ---


def queue_place(*, entry_id: int, now: dt.datetime | None = None, poll: bool = True) -> Place:
    """The entry's place, as the line sees it. A poll also keeps a WAITING entry's place and
    admits into a free slot. An entry the line does not know (Redis lost it) is looked up in
    PostgreSQL and put back if it is live. QUEUE_TOKEN_INVALID if no such entry exists."""
    now = now or timezone.now()
    look = line.poll if poll else line.status
    place = _on_line(lambda: look(entry_id=entry_id, now=now), now=now)
    if place.status != "UNKNOWN":
        return place
    entry = entry_get(entry_id=entry_id)
    if entry is None:
        raise QueueTokenInvalid()
    if entry.effective_status(now) == Status.EXPIRED:
        return Place(status=Status.EXPIRED)
    return _on_line(
        lambda: line.restore(entry_id=entry.pk, status=entry.status, expires_at=entry.expires_at, now=now), now=now
    )


def queue_poll(*, entry_id: int, now: dt.datetime | None = None) -> Place:
    """A status poll; QUEUE_TOKEN_EXPIRED for an ended token."""
    place = queue_place(entry_id=entry_id, now=now)
    if place.status == Status.EXPIRED:
        raise QueueTokenExpired()
    return place


def _record_admission(*, entry: QueueEntry, place: Place) -> None:
    """The line admitted this entry: write that to PostgreSQL (once) before its holder books."""
    if place.status != Status.ACTIVE or entry.status == Status.ACTIVE:
        return
    admitted_at = place.expires_at - dt.timedelta(seconds=settings.QUEUE_ACTIVE_TTL_SECONDS)
    QueueEntry.objects.filter(pk=entry.pk, status=Status.WAITING).update(
        status=Status.ACTIVE, admitted_at=admitted_at, expires_at=place.expires_at
    )
    entry.status, entry.admitted_at, entry.expires_at = Status.ACTIVE, admitted_at, place.expires_at


def queue_entry_check_admitted(*, entry: QueueEntry, now: dt.datetime | None = None) -> QueueEntry:
    """May this token book now? The one answer, for the API's permission and the web pages.
    Returns the entry, recorded ACTIVE; QUEUE_TOKEN_EXPIRED or QUEUE_TOKEN_NOT_ACTIVE otherwise."""
    now = now or timezone.now()
    status = entry.effective_status(now)
    if status == Status.EXPIRED:
        raise QueueTokenExpired()
    if status == Status.ACTIVE:
        return entry
    # Stored WAITING: the line may have admitted it since.
    place = queue_place(entry_id=entry.pk, now=now, poll=False)
    if place.status == Status.ACTIVE:
        _record_admission(entry=entry, place=place)
        return entry
    if place.status == Status.EXPIRED:
        raise QueueTokenExpired()
    raise QueueTokenNotActive()


# --- joining ---


def _insert_entry(sql: str, params: list, *, nonce: str, now: dt.datetime) -> QueueEntry | None:
    """Run one of the joining INSERTs; the new entry, or None if it inserted nothing."""
    row = fetch_one(sql, params)
    if row is None:
        return None
    return QueueEntry(pk=row[0], user_id=row[1], nonce=nonce, status=Status.WAITING, created_at=now)


def _join(*, entry: QueueEntry, now: dt.datetime) -> Place:
    """Put a newly inserted entry on the line; an entry admitted at once is recorded so."""
    place = _on_line(lambda: line.join(entry_id=entry.pk, now=now), now=now)
    _record_admission(entry=entry, place=place)
    return place


def queue_token_issue(*, user: User, now: dt.datetime | None = None) -> tuple[QueueEntry, Place, bool]:
    """A new entry at the end of the line, or the user's live one (same place in line).
    Returns (entry, its place, created). A new entry is ACTIVE at once if a slot is free and
    nobody waits."""
    now = now or timezone.now()
    for _ in range(3):
        nonce = new_nonce()
        params = [user.pk, nonce, connection.ops.adapt_datetimefield_value(now)]
        entry = _insert_entry(_INSERT_ENTRY, params, nonce=nonce, now=now)
        if entry is not None:
            return entry, _join(entry=entry, now=now), True
        live = live_entry_get(user_id=user.pk)
        if live is None:
            continue  # it ended between the two statements
        place = queue_place(entry_id=live.pk, now=now)
        if place.status != Status.EXPIRED:
            _record_admission(entry=live, place=place)
            return live, place, False
        # The line dropped it (abandoned) before the scheduled sync wrote that down.
        _end_stored(entry_ids=[live.pk], now=now)
    raise ServiceUnavailable(gettext("Could not issue a queue token. Retry shortly."))


def queue_token_issue_for_api_key(
    *, api_key: str, now: dt.datetime | None = None
) -> tuple[QueueEntry, Place, bool] | None:
    """`queue_token_issue` for whoever holds this API key, a new entry in one statement; None if
    the key names no active user."""
    now = now or timezone.now()
    nonce = new_nonce()
    params = [nonce, connection.ops.adapt_datetimefield_value(now), api_key_digest(api_key)]
    entry = _insert_entry(_INSERT_ENTRY_FOR_KEY, params, nonce=nonce, now=now)
    if entry is not None:
        return entry, _join(entry=entry, now=now), True
    user = user_for_api_key(key=api_key)  # unknown, inactive, or already in line
    return None if user is None else queue_token_issue(user=user, now=now)


# --- ending ---


def _end_stored(*, entry_ids: list[int], now: dt.datetime) -> int:
    return QueueEntry.objects.filter(pk__in=entry_ids).live().update(status=Status.EXPIRED, ended_at=now)


def queue_entry_lock_active(*, entry_id: int) -> None:
    """Lock the token's row for the rest of the caller's transaction; QUEUE_TOKEN_EXPIRED if it
    is no longer admitted. Two payments sent at once with one token thus run one after the
    other, and the second finds the token ended by the first. The first lock of a payment
    (apps.common.locking)."""
    entries = lock_rows(QueueEntry.objects.filter(pk=entry_id))
    if not entries or entries[0].effective_status(timezone.now()) != Status.ACTIVE:
        raise QueueTokenExpired()


def queue_entries_end(*, entry_ids: list[int], now: dt.datetime | None = None) -> int:
    """End tokens for good (a payment, staff); their slots go to the next in line once the
    caller's transaction commits. Returns how many were live."""
    now = now or timezone.now()
    ended = _end_stored(entry_ids=entry_ids, now=now)
    # After commit, so the line never frees a slot that a rolled-back payment still holds. If
    # Redis fails here the slot stays taken until its TTL or the scheduled sync: never over the limit.
    transaction.on_commit(lambda: line.end(entry_ids=entry_ids, now=now), robust=True)
    return ended


def queue_entry_end(*, entry_id: int, now: dt.datetime | None = None) -> None:
    queue_entries_end(entry_ids=[entry_id], now=now)


# --- the scheduled sync ---


def queue_maintain(*, now: dt.datetime | None = None) -> dict:
    """Drop abandoned entries and admit into free slots (the line), then bring PostgreSQL and
    the line into agreement: admissions and drops recorded, lapsed tokens marked, and any live
    entry the line lost put back. Idempotent; safe to run in several processes at once."""
    now = now or timezone.now()
    _ensure_line_loaded(now=now)
    dropped, admitted = line.maintain(now=now) or (0, 0)
    slots = line.active_slots()
    recorded = 0
    for entry_id, expires_at in slots.items():
        admitted_at = expires_at - dt.timedelta(seconds=settings.QUEUE_ACTIVE_TTL_SECONDS)
        recorded += QueueEntry.objects.filter(pk=entry_id, status=Status.WAITING).update(
            status=Status.ACTIVE, admitted_at=admitted_at, expires_at=expires_at
        )
    # Slots whose entry ended in PostgreSQL while Redis missed the news (it was down then), or
    # whose entry is gone (its user was deleted).
    live = set(QueueEntry.objects.filter(pk__in=list(slots)).live().values_list("pk", flat=True))
    line.end(entry_ids=[entry_id for entry_id in slots if entry_id not in live], now=now)
    # Admitted entries the line lost (restored from an older snapshot): their slots come back.
    for entry in QueueEntry.objects.admitted(now).exclude(pk__in=list(slots)):
        line.restore(entry_id=entry.pk, status=entry.status, expires_at=entry.expires_at, now=now)
    ended_ids = line.ended_ids(limit=SYNC_BATCH)
    synced_ends = _end_stored(entry_ids=ended_ids, now=now)
    line.forget_ended(entry_ids=ended_ids)
    lapsed = QueueEntry.objects.lapsed(now).update(status=Status.EXPIRED, ended_at=now)
    return {
        "dropped": dropped,
        "admitted": admitted,
        "admissions_recorded": recorded,
        "ends_recorded": synced_ends,
        "lapsed": lapsed,
    }


# --- staff controls ---


def queue_state_update(*, active_limit: int | None, paused: bool, now: dt.datetime | None = None) -> QueueState:
    """Staff controls: stored in PostgreSQL, then in the line, where they take effect at once."""
    now = now or timezone.now()
    state, _ = QueueState.objects.update_or_create(
        pk=QUEUE_STATE_PK, defaults={"active_limit": active_limit, "paused": paused}
    )
    _ensure_line_loaded(now=now)
    line.set_controls(active_limit=active_limit, paused=paused)
    if not paused:
        line.maintain(now=now)  # resumed or widened: admit into the new slots now
    return state


def queue_line_counts(*, now: dt.datetime | None = None) -> line.Counts:
    """The line as it stands (for staff: admin, queue_control)."""
    now = now or timezone.now()
    _ensure_line_loaded(now=now)
    return line.counts(now=now)
