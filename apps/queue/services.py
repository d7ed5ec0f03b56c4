"""The waiting room. Every admission happens under a lock on the single QueueState row, so
the ACTIVE count can never pass the limit, however many processes issue and poll at once."""

import datetime as dt

from django.conf import settings
from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from apps.accounts.models import User
from apps.queue.errors import QueueTokenExpired
from apps.queue.models import QueueEntry, QueueState
from apps.queue.selectors import (
    QUEUE_STATE_PK,
    abandon_cutoff,
    active_count,
    entry_effective_status,
    entry_is_abandoned,
    live_entry_get,
    queue_state_and_active_count,
    queue_state_get,
    waiting_head_ticket,
)
from apps.queue.tokens import new_nonce

Status = QueueEntry.Status
# How stale `last_seen_at` may get before a poll writes it again: one write per this many
# seconds per waiting user instead of one per poll.
LAST_SEEN_WRITE_SECONDS = 10
RATE_SMOOTHING = 0.2  # weight of the newest sample in the moving average


def _commit_without_waiting_for_disk() -> None:
    """Every new ticket takes the one state lock until commit, so the commit's disk flush sets
    the pace of the whole line. A queue entry lost to a database crash costs its holder one
    more request for a token, so these transactions skip waiting for the flush (PostgreSQL's
    synchronous_commit, for this transaction only; money and seats keep the default). Only in
    a transaction of its own: inside a caller's, the setting would cover the caller's writes."""
    if connection.vendor == "postgresql" and not connection.savepoint_ids:
        with connection.cursor() as cursor:
            cursor.execute("SET LOCAL synchronous_commit TO OFF")


def _state_locked() -> QueueState:
    state, _ = QueueState.objects.select_for_update().get_or_create(pk=QUEUE_STATE_PK)
    return state


def _expire_lapsed(*, now: dt.datetime) -> None:
    QueueEntry.objects.filter(status=Status.ACTIVE, expires_at__lte=now).update(status=Status.EXPIRED, ended_at=now)


def _admit(*, state: QueueState, now: dt.datetime) -> int:
    """Fill free slots from the head of the line, skipping (and ending) abandoned entries.
    The caller holds the state lock. Returns how many were admitted."""
    _expire_lapsed(now=now)
    admitted, picked = 0, []
    free = 0 if state.paused else state.effective_active_limit - active_count(now=now)
    while free > 0:
        head = list(QueueEntry.objects.filter(status=Status.WAITING).order_by("ticket")[:free])
        if not head:
            break
        dropped = [entry.pk for entry in head if entry_is_abandoned(entry=entry, now=now)]
        chosen = [entry for entry in head if entry.pk not in dropped]
        # Ending a token takes no state lock, so an entry read above may have ended since: the
        # status condition keeps it ended, and its slot goes to the next in line instead.
        still_waiting = QueueEntry.objects.filter(status=Status.WAITING)
        still_waiting.filter(pk__in=dropped).update(status=Status.EXPIRED, ended_at=now)
        admitted_now = still_waiting.filter(pk__in=[entry.pk for entry in chosen]).update(
            status=Status.ACTIVE,
            admitted_at=now,
            expires_at=now + dt.timedelta(seconds=settings.QUEUE_ACTIVE_TTL_SECONDS),
        )
        picked += chosen
        admitted += admitted_now
        free -= admitted_now
    if admitted:
        first_created_at = min(entry.created_at for entry in picked)
        _record_admission_rate(state=state, admitted=admitted, first_created_at=first_created_at, now=now)
    # Tickets ahead of the head have all left the line, whichever way they left (admitted,
    # abandoned, ended by staff), so the head's position is 1.
    head_ticket = waiting_head_ticket()
    served_up_to = state.last_ticket if head_ticket is None else head_ticket - 1
    state.now_serving = max(state.now_serving, served_up_to)
    state.save(update_fields=["now_serving", "seconds_per_admission", "last_admission_at"])
    return admitted


def _record_admission_rate(
    *, state: QueueState, admitted: int, first_created_at: dt.datetime, now: dt.datetime
) -> None:
    """A sample counts only when the admitted people were already waiting at the previous
    admission: then the gap measures how fast the line moves, not how long it stood empty."""
    previous = state.last_admission_at
    if previous is not None and now <= previous:
        # This caller read the clock before it waited for the lock behind a later admission:
        # there is no gap to measure, and a negative one would make every estimate 1 second.
        return
    state.last_admission_at = now
    if previous is None or first_created_at > previous:
        return
    sample = (now - previous).total_seconds() / admitted
    if state.seconds_per_admission is None:
        state.seconds_per_admission = sample
    else:
        state.seconds_per_admission = RATE_SMOOTHING * sample + (1 - RATE_SMOOTHING) * state.seconds_per_admission


@transaction.atomic
def queue_admit(*, now: dt.datetime | None = None) -> int:
    """Expire lapsed tokens and admit the next in line into free slots."""
    _commit_without_waiting_for_disk()
    return _admit(state=_state_locked(), now=now or timezone.now())


def _keep_alive(*, entry: QueueEntry, now: dt.datetime) -> None:
    """Note that a WAITING entry's holder is still there. Written seldom enough to spare the
    database, often enough that someone who keeps polling never looks abandoned, however
    short QUEUE_ABANDON_SECONDS is set."""
    write_every = min(LAST_SEEN_WRITE_SECONDS, settings.QUEUE_ABANDON_SECONDS / 4)
    if entry.status == Status.WAITING and entry.last_seen_at <= now - dt.timedelta(seconds=write_every):
        QueueEntry.objects.filter(pk=entry.pk, status=Status.WAITING).update(last_seen_at=now)
        entry.last_seen_at = now


def _slot_may_be_free(*, state: QueueState, active: int) -> bool:
    return not state.paused and active < state.effective_active_limit


def _live_entry(*, user: User, now: dt.datetime) -> QueueEntry | None:
    """The user's live entry, kept alive; a lapsed one is ended (one live entry per user)."""
    live = live_entry_get(user_id=user.pk)
    if live is None:
        return None
    if entry_effective_status(entry=live, now=now) == Status.EXPIRED:
        QueueEntry.objects.filter(pk=live.pk, status=live.status).update(status=Status.EXPIRED, ended_at=now)
        return None
    _keep_alive(entry=live, now=now)
    return live


def _next_ticket() -> int:
    """Take the next ticket number. The row lock this UPDATE takes is the one admission takes,
    and it is held until the caller commits: so take it last."""
    with connection.cursor() as cursor:
        cursor.execute(_NEXT_TICKET)
        row = cursor.fetchone()
    if row is None:  # the state row is made by migrate; a flushed database lacks it
        QueueState.objects.get_or_create(pk=QUEUE_STATE_PK)
        return _next_ticket()
    return row[0]


_NEXT_TICKET = (
    f"UPDATE {QueueState._meta.db_table} SET last_ticket = last_ticket + 1 "
    f"WHERE id = {QUEUE_STATE_PK} RETURNING last_ticket"
)


def queue_token_issue(*, user: User, now: dt.datetime | None = None) -> tuple[QueueEntry, bool]:
    """The user's live entry (same place in line), or a new one at the end of the line.
    Returns (entry, created). A new entry is ACTIVE at once if a slot is free and nobody waits.

    In a rush every ticket queues for the one state row, so the locked part is two statements:
    take the number, insert the entry. Admission, when a slot may be free, runs after commit
    (under the same lock, in order of tickets), so the newcomer is admitted only if nobody
    is ahead."""
    now = now or timezone.now()
    # Asking again is a poll: answered without the lock.
    live = _live_entry(user=user, now=now)
    if live is not None:
        return live, False
    state, active = queue_state_and_active_count(now=now)
    slot_may_be_free = _slot_may_be_free(state=state, active=active)
    try:
        with transaction.atomic():
            _commit_without_waiting_for_disk()
            entry = QueueEntry.objects.create(
                user=user, ticket=_next_ticket(), nonce=new_nonce(), created_at=now, last_seen_at=now
            )
    except IntegrityError:
        # One live entry per user: a concurrent request of this user inserted first.
        live = _live_entry(user=user, now=now)
        if live is None:
            raise
        return live, False
    if slot_may_be_free:
        queue_admit(now=now)
        entry.refresh_from_db()
    return entry, True


def queue_poll(*, entry: QueueEntry, now: dt.datetime | None = None) -> tuple[QueueEntry, QueueState | None]:
    """A status poll: keeps a WAITING entry's place alive and admits into any free slot.
    Returns the entry and, while it waits, the queue state its place is measured against.
    Raises QUEUE_TOKEN_EXPIRED for an ended token."""
    now = now or timezone.now()
    if entry_effective_status(entry=entry, now=now) == Status.EXPIRED:
        raise QueueTokenExpired()
    if entry.status != Status.WAITING:
        return entry, None
    _keep_alive(entry=entry, now=now)
    state, active = queue_state_and_active_count(now=now)
    if _slot_may_be_free(state=state, active=active):
        queue_admit(now=now)
        entry.refresh_from_db()
        state = queue_state_get() if entry.status == Status.WAITING else None
    return entry, state


def queue_entry_lock_active(*, entry_id: int) -> None:
    """Lock the token's row for the rest of the caller's transaction; QUEUE_TOKEN_EXPIRED if it
    is no longer admitted. Two payments sent at once with one token thus run one after the
    other, and the second finds the token ended by the first."""
    entry = QueueEntry.objects.select_for_update().get(pk=entry_id)
    if entry_effective_status(entry=entry, now=timezone.now()) != Status.ACTIVE:
        raise QueueTokenExpired()


def queue_entry_end(*, entry_id: int, now: dt.datetime | None = None) -> None:
    """End a token for good (after a successful payment); its slot goes to the next in line."""
    QueueEntry.objects.filter(pk=entry_id, status__in=[Status.WAITING, Status.ACTIVE]).update(
        status=Status.EXPIRED, ended_at=now or timezone.now()
    )


@transaction.atomic
def queue_drop_abandoned(*, now: dt.datetime | None = None) -> int:
    """End WAITING entries whose holder stopped polling; their place no longer counts."""
    now = now or timezone.now()
    # Admission ends abandoned entries at the head too; two multi-row updates of the same rows
    # in different orders can deadlock, so take turns on the state lock.
    _state_locked()
    return QueueEntry.objects.filter(status=Status.WAITING, last_seen_at__lte=abandon_cutoff(now)).update(
        status=Status.EXPIRED, ended_at=now
    )


def queue_state_update(*, active_limit: int | None, paused: bool) -> QueueState:
    """Staff controls; touches only these two columns so the counters are never overwritten."""
    with transaction.atomic():
        state = _state_locked()
        state.active_limit, state.paused = active_limit, paused
        state.save(update_fields=["active_limit", "paused"])
    if not paused:
        queue_admit()
    return state
