"""The waiting line's hot state, in the shared store (Redis).

PostgreSQL keeps the durable record of each entry (who, the ticket, issued, admitted, ended);
this module keeps the line itself, so that a poll never waits on PostgreSQL and joining takes
no row lock. Every change is one Lua script, so each runs atomically on Redis, whichever
process or host sends it. Keys:

    queue:waiting   zset  entry id -> ticket (the entry id: PostgreSQL's sequence hands it out)
    queue:seen      zset  entry id -> when its holder last polled, WAITING only
    queue:active    zset  entry id -> when its ACTIVE slot ends
    queue:ended     zset  entry id -> when it left the line here (abandoned, ended), until the
                          scheduled sync has written that to PostgreSQL
    queue:controls  hash  paused ("1"/"0"), limit (empty: the QUEUE_ACTIVE_LIMIT setting);
                          PostgreSQL's QueueState row is their durable copy
    queue:stats     hash  per_admission (moving average), last_admission_at, waiting_since
                          (when the line last became non-empty), admitted_total
    queue:ready     str   set once the line was loaded from PostgreSQL

Without `queue:ready` (Redis restarted empty, or flushed) every script answers NOT_READY and
the caller rebuilds the line from PostgreSQL first (see `apps.queue.services`).

Times are integer microseconds since the epoch: exact in Lua's doubles (up to 2**53), so an
expiry read back is the very datetime that was written.
"""

import dataclasses
import datetime as dt
import functools

from django.conf import settings

from apps.common.redis import get_redis

WAITING = "queue:waiting"
SEEN = "queue:seen"
ACTIVE = "queue:active"
ENDED = "queue:ended"
CONTROLS = "queue:controls"
STATS = "queue:stats"
READY = "queue:ready"
REBUILDING = "queue:rebuilding"
KEYS = [WAITING, SEEN, ACTIVE, ENDED, CONTROLS, STATS, READY]
RATE_SMOOTHING = 0.2  # weight of the newest sample in the moving average
# Abandoned entries one admission may skip at the head of the line; the scheduled task drops
# the rest, so a poll's work stays bounded whatever the line holds.
SKIP_BUDGET = 1000

# Shared by every script: KEYS as above; ARGV[1..4] = now, active TTL, abandon time (all in
# microseconds), default limit.
_PRELUDE = """
local waiting, seen, active, ended = KEYS[1], KEYS[2], KEYS[3], KEYS[4]
local controls, stats, ready = KEYS[5], KEYS[6], KEYS[7]
local now, ttl = tonumber(ARGV[1]), tonumber(ARGV[2])
local abandon, default_limit = tonumber(ARGV[3]), tonumber(ARGV[4])

local function record_rate(admitted)
  -- A gap between admissions measures how fast the line moves only if people were already
  -- waiting at the previous one; otherwise it measures how long the line stood empty.
  local previous = tonumber(redis.call('HGET', stats, 'last_admission_at'))
  local since = tonumber(redis.call('HGET', stats, 'waiting_since'))
  redis.call('HINCRBY', stats, 'admitted_total', admitted)
  if previous and now > previous and since and since <= previous then
    local sample = (now - previous) / admitted
    local average = tonumber(redis.call('HGET', stats, 'per_admission'))
    if average then sample = $SMOOTHING * sample + (1 - $SMOOTHING) * average end
    redis.call('HSET', stats, 'per_admission', string.format('%d', math.floor(sample + 0.5)))
  end
  -- A caller whose clock reading is older than the last admission measures no gap.
  if not previous or now > previous then redis.call('HSET', stats, 'last_admission_at', ARGV[1]) end
  if redis.call('ZCARD', waiting) == 0 then redis.call('HDEL', stats, 'waiting_since') end
end

local function enqueue(id)
  if redis.call('ZCARD', waiting) == 0 then redis.call('HSET', stats, 'waiting_since', ARGV[1]) end
  redis.call('ZADD', waiting, 'NX', id, id)
  redis.call('ZADD', seen, 'NX', now, id)
end

local function end_entry(id)
  redis.call('ZREM', waiting, id)
  redis.call('ZREM', seen, id)
  redis.call('ZREM', active, id)
  redis.call('ZADD', ended, now, id)
end

-- Free slots go to the head of the line; entries nobody polls any more are skipped and end.
local function admit()
  -- Lapsed slots end for good: PostgreSQL may not have recorded the admission yet, and without
  -- this mark a later poll would find the entry nowhere and put it back in line.
  for _, id in ipairs(redis.call('ZRANGEBYSCORE', active, '-inf', now)) do end_entry(id) end
  if redis.call('HGET', controls, 'paused') == '1' then return 0 end
  local limit = tonumber(redis.call('HGET', controls, 'limit')) or default_limit
  local free = limit - redis.call('ZCARD', active)
  local admitted, budget, cutoff = 0, $SKIP_BUDGET, now - abandon
  while free > 0 and budget > 0 do
    local head = redis.call('ZRANGE', waiting, 0, 0)
    if #head == 0 then break end
    local id = head[1]
    local last = tonumber(redis.call('ZSCORE', seen, id))
    if last and last > cutoff then
      redis.call('ZREM', waiting, id)
      redis.call('ZREM', seen, id)
      redis.call('ZADD', active, now + ttl, id)
      free, admitted = free - 1, admitted + 1
    else
      end_entry(id)
      budget = budget - 1
    end
  end
  if admitted > 0 then record_rate(admitted) end
  return admitted
end

local function status_of(id)
  local expires = redis.call('ZSCORE', active, id)
  if expires then
    if tonumber(expires) > now then return {'ACTIVE', expires} end
    return {'EXPIRED'}
  end
  if redis.call('ZSCORE', ended, id) then return {'EXPIRED'} end
  local last = redis.call('ZSCORE', seen, id)
  if not last then return {'UNKNOWN'} end
  if tonumber(last) <= now - abandon then
    end_entry(id)
    return {'EXPIRED'}
  end
  return {'WAITING'}
end

-- {status, expires_at, position, paused, per_admission, limit}
local function reply(id, state)
  local paused = redis.call('HGET', controls, 'paused') == '1' and 1 or 0
  if state[1] ~= 'WAITING' then return {state[1], state[2] or '', 0, paused, '', ''} end
  return {
    'WAITING', '', redis.call('ZRANK', waiting, id) + 1, paused,
    redis.call('HGET', stats, 'per_admission') or '', redis.call('HGET', controls, 'limit') or '',
  }
end
""".replace("$SMOOTHING", str(RATE_SMOOTHING)).replace("$SKIP_BUDGET", str(SKIP_BUDGET))

_NOT_READY = "if redis.call('EXISTS', ready) == 0 then return {'NOT_READY'} end\n"

# ARGV[5] = entry id. A poll keeps a WAITING entry's place and admits into any free slot.
_POLL = (
    _PRELUDE
    + _NOT_READY
    + """
local id = ARGV[5]
local state = status_of(id)
if state[1] == 'WAITING' then
  redis.call('ZADD', seen, now, id)
  admit()
  state = status_of(id)
end
return reply(id, state)
"""
)

# ARGV[5] = entry id. Where it stands, without polling: no admission, its place not kept alive.
_STATUS = _PRELUDE + _NOT_READY + "return reply(ARGV[5], status_of(ARGV[5]))\n"

# ARGV[5] = entry id, just inserted in PostgreSQL. Idempotent: joining twice changes nothing.
_JOIN = (
    _PRELUDE
    + _NOT_READY
    + """
local id = ARGV[5]
if status_of(id)[1] == 'UNKNOWN' then enqueue(id) end
admit()
return reply(id, status_of(id))
"""
)

# ARGV[5..] = entry ids ended in PostgreSQL (paid, ended by staff); their slots go on at once.
_END = (
    _PRELUDE
    + """
for i = 5, #ARGV do end_entry(ARGV[i]) end
if redis.call('EXISTS', ready) == 1 then admit() end
return 0
"""
)

# ARGV[5] = entry id, ARGV[6] = its stored status, ARGV[7] = its expiry (ACTIVE). Puts back a
# live PostgreSQL entry that the line lacks (Redis lost it); never one the line has ended.
_RESTORE = (
    _PRELUDE
    + _NOT_READY
    + """
local id, status, expires = ARGV[5], ARGV[6], tonumber(ARGV[7])
if redis.call('ZSCORE', ended, id) == false then
  if status == 'ACTIVE' then
    if expires > now and redis.call('ZSCORE', waiting, id) == false then
      redis.call('ZADD', active, 'NX', expires, id)
    end
  elseif redis.call('ZSCORE', active, id) == false then
    enqueue(id)
  end
end
return reply(id, status_of(id))
"""
)

# The scheduled task: drop every abandoned entry (not only those at the head), then admit.
_MAINTAIN = (
    _PRELUDE
    + _NOT_READY
    + """
local stale = redis.call('ZRANGEBYSCORE', seen, '-inf', now - abandon, 'LIMIT', 0, tonumber(ARGV[5]))
for _, id in ipairs(stale) do end_entry(id) end
return {#stale, admit()}
"""
)


@dataclasses.dataclass(frozen=True)
class Place:
    """Where an entry stands, as the line sees it. `status` is WAITING, ACTIVE, EXPIRED, or
    UNKNOWN (the line has no such entry: ask PostgreSQL) or NOT_READY (load the line first)."""

    status: str
    expires_at: dt.datetime | None = None
    position: int = 0
    paused: bool = False
    seconds_per_admission: float | None = None
    active_limit: int | None = None


EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
MICROSECOND = dt.timedelta(microseconds=1)


def _micros(moment: dt.datetime) -> int:
    return (moment - EPOCH) // MICROSECOND


def _moment(micros) -> dt.datetime:
    return EPOCH + int(float(micros)) * MICROSECOND


@functools.cache
def _script(source: str):
    return get_redis().register_script(source)


def _args(now: dt.datetime, *extra) -> list:
    return [
        _micros(now),
        settings.QUEUE_ACTIVE_TTL_SECONDS * 1_000_000,
        settings.QUEUE_ABANDON_SECONDS * 1_000_000,
        settings.QUEUE_ACTIVE_LIMIT,
        *extra,
    ]


def _text(value) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def place_from_reply(reply: list) -> Place:
    status = _text(reply[0])
    if len(reply) == 1:
        return Place(status=status)
    expires, position, paused, rate, limit = (_text(value) for value in reply[1:])
    return Place(
        status=status,
        expires_at=_moment(expires) if expires else None,
        position=int(position),
        paused=paused == "1",
        seconds_per_admission=int(rate) / 1_000_000 if rate else None,
        active_limit=int(limit) if limit else None,
    )


def poll_queue(*, pipe, entry_id: int, now: dt.datetime) -> None:
    """Queue the poll script on a pipeline that shares its round trip with other commands. By
    its hash alone: redis-py would check that the script is loaded first, in a round trip of
    its own. If Redis lost its scripts (a restart), that pipeline fails with NoScriptError, and
    the next `poll()` loads the script again."""
    pipe.evalsha(_script(_POLL).sha, len(KEYS), *KEYS, *_args(now, entry_id))


def slot_queue(*, pipe, entry_id: int) -> None:
    """Queue the read of an entry's ACTIVE slot on a pipeline; `slot_from_reply` reads the result."""
    pipe.zscore(ACTIVE, entry_id)


def slot_from_reply(score) -> dt.datetime | None:
    """When the entry's slot ends, or None if it holds none."""
    return None if score is None else _moment(score)


def _run(source: str, now: dt.datetime, *extra):
    """One script on the store, in a round trip of its own (loaded first if Redis lacks it)."""
    return _script(source)(keys=KEYS, args=_args(now, *extra), client=get_redis())


def poll(*, entry_id: int, now: dt.datetime) -> Place:
    return place_from_reply(_run(_POLL, now, entry_id))


def status(*, entry_id: int, now: dt.datetime) -> Place:
    return place_from_reply(_run(_STATUS, now, entry_id))


def join(*, entry_id: int, now: dt.datetime) -> Place:
    return place_from_reply(_run(_JOIN, now, entry_id))


def end(*, entry_ids: list[int], now: dt.datetime) -> None:
    if entry_ids:
        _run(_END, now, *entry_ids)


def restore(*, entry_id: int, status: str, expires_at: dt.datetime | None, now: dt.datetime) -> Place:
    expires = _micros(expires_at) if expires_at else 0
    return place_from_reply(_run(_RESTORE, now, entry_id, status, expires))


def maintain(*, now: dt.datetime, batch: int = 10_000) -> tuple[int, int] | None:
    """Drop up to `batch` abandoned entries, then admit. (dropped, admitted), or None if the
    line is not loaded."""
    reply = _run(_MAINTAIN, now, batch)
    return None if _text(reply[0]) == "NOT_READY" else (int(reply[0]), int(reply[1]))


def set_controls(*, active_limit: int | None, paused: bool) -> None:
    get_redis().hset(CONTROLS, mapping={"limit": "" if active_limit is None else active_limit, "paused": int(paused)})


def ended_ids(*, limit: int) -> list[int]:
    return [int(member) for member in get_redis().zrange(ENDED, 0, limit - 1)]


def forget_ended(*, entry_ids: list[int]) -> None:
    if entry_ids:
        get_redis().zrem(ENDED, *entry_ids)


def active_slots() -> dict[int, dt.datetime]:
    """Entry id -> when its slot ends, for every ACTIVE entry (at most the active limit)."""
    return {int(member): _moment(score) for member, score in get_redis().zrange(ACTIVE, 0, -1, withscores=True)}


@dataclasses.dataclass(frozen=True)
class Counts:
    waiting: int
    active: int
    ended_unsynced: int
    head: int | None
    admitted_total: int
    seconds_per_admission: float | None


def counts(*, now: dt.datetime) -> Counts:
    pipe = get_redis().pipeline(transaction=False)
    pipe.zcard(WAITING)
    pipe.zcount(ACTIVE, f"({_micros(now)}", "+inf")
    pipe.zcard(ENDED)
    pipe.zrange(WAITING, 0, 0)
    pipe.hmget(STATS, ["admitted_total", "per_admission"])
    waiting, active, ended, head, (admitted, rate) = pipe.execute()
    return Counts(
        waiting=waiting,
        active=active,
        ended_unsynced=ended,
        head=int(head[0]) if head else None,
        admitted_total=int(admitted or 0),
        seconds_per_admission=int(rate) / 1_000_000 if rate else None,
    )


# --- loading the line from PostgreSQL ---


def is_ready() -> bool:
    return bool(get_redis().exists(READY))


def rebuild_lock(*, seconds: int) -> bool:
    """One process rebuilds at a time; the lock lapses by itself if that process dies."""
    return bool(get_redis().set(REBUILDING, "1", nx=True, ex=seconds))


def rebuild_unlock() -> None:
    get_redis().delete(REBUILDING)


def wipe() -> None:
    get_redis().delete(*KEYS)


def load(*, waiting_ids: list[int], active: dict[int, dt.datetime], controls: tuple[int | None, bool], now) -> None:
    """Add entries to the line (never over what it has: ZADD NX) in batches, one round trip each."""
    redis = get_redis()
    set_controls(active_limit=controls[0], paused=controls[1])
    if active:
        redis.zadd(ACTIVE, {str(entry_id): _micros(expires) for entry_id, expires in active.items()}, nx=True)
    if waiting_ids:
        redis.hsetnx(STATS, "waiting_since", _micros(now))
    for start in range(0, len(waiting_ids), 10_000):
        batch = waiting_ids[start : start + 10_000]
        pipe = redis.pipeline(transaction=False)
        pipe.zadd(WAITING, {str(entry_id): entry_id for entry_id in batch}, nx=True)
        pipe.zadd(SEEN, dict.fromkeys(map(str, batch), _micros(now)), nx=True)
        pipe.execute()


def mark_ready(*, now: dt.datetime) -> None:
    get_redis().set(READY, now.isoformat())
