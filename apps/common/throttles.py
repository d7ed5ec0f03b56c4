"""Rate limits, exact and shared by every process: the counters live in the shared store.

Each scope's rate comes from settings.THROTTLE_RATES ("30/min", DRF's format) at request time;
THROTTLING=off disables them all. A hit is one round trip of three commands on the key
`throttle:{scope}:{ident}`: INCR, EXPIRE <period> NX, PTTL. Redis counts atomically, so racing
requests get distinct counts and exactly `limit` of them pass (DRF's SimpleRateThrottle reads a
history list from the cache and writes it back, and lets more through). The window starts at an
identity's first hit and lasts one period; refused hits do not stretch it, and the EXPIRE of the
next hit repairs a counter whose own EXPIRE was lost. EXPIRE ... NX needs Redis 7.

DRF views use the throttle classes: a subclass names its `scope` and says whose requests count
together in `identity(request)`.

Outside DRF, a caller that already sends a pipeline to Redis queues the hit on it and reads the
verdict from the hit's three results (here the first three, as the hit was queued first):

    pipe = get_redis().pipeline(transaction=False)
    rate_limit_queue(pipe=pipe, scope="queue_poll", ident=token_id)
    ...  # the caller's own commands
    results = pipe.execute()
    allowed, retry_after = rate_limit_verdict(scope="queue_poll", results=results[:3])
    # not allowed: answer 429 THROTTLED with `Retry-After: retry_after` (seconds)

`rate_limit_hit(scope=..., ident=...)` does the same in a round trip of its own.
"""

from collections.abc import Sequence

from django.conf import settings
from redis.client import Pipeline
from rest_framework.throttling import BaseThrottle

from apps.common.metrics import throttled_count
from apps.common.redis import get_redis

PERIOD_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def parse_rate(rate: str) -> tuple[int, int]:
    """DRF's rate format: "30/min" -> (30 requests, 60 seconds)."""
    limit, period = rate.split("/")
    return int(limit), PERIOD_SECONDS[period[0]]


def rate_limit_queue(*, pipe: Pipeline, scope: str, ident: str) -> None:
    """Queue one hit on `pipe`: three commands, whose three results rate_limit_verdict reads."""
    _, period = parse_rate(settings.THROTTLE_RATES[scope])
    key = f"throttle:{scope}:{ident}"
    pipe.incr(key)
    pipe.expire(key, period, nx=True)
    pipe.pttl(key)


def rate_limit_verdict(*, scope: str, results: Sequence) -> tuple[bool, int]:
    """(allowed, retry_after): retry_after is 0 when allowed, else the whole seconds after which
    the window has ended."""
    count, _, ttl_ms = results
    limit, _ = parse_rate(settings.THROTTLE_RATES[scope])
    if not settings.THROTTLING or count <= limit:
        return True, 0
    # Strictly past the window's last millisecond (a counter lives while its TTL is 0), and at
    # least 1, as the TTL is -2 when the window ended mid-hit (and DRF sends no Retry-After for 0).
    return False, max(1, ttl_ms // 1000 + 1)


def rate_limit_hit(*, scope: str, ident: str) -> tuple[bool, int]:
    pipe = get_redis().pipeline(transaction=False)
    rate_limit_queue(pipe=pipe, scope=scope, ident=ident)
    return rate_limit_verdict(scope=scope, results=pipe.execute())


class SettingsRateThrottle(BaseThrottle):
    scope: str

    def allow_request(self, request, view) -> bool:
        if not settings.THROTTLING:
            return True
        allowed, self.retry_after = rate_limit_hit(scope=self.scope, ident=self.identity(request))
        if not allowed:
            # Counted here, where the request is refused: the edge hands a refused poll or token
            # issue on to the view, which refuses it once more.
            throttled_count(scope=self.scope)
        return allowed

    def wait(self) -> int:
        return self.retry_after

    def identity(self, request) -> str:
        raise NotImplementedError


class ClientIpThrottle(SettingsRateThrottle):
    def identity(self, request) -> str:
        return self.get_ident(request)


class UserThrottle(SettingsRateThrottle):
    def identity(self, request) -> str:
        return str(request.user.pk)
