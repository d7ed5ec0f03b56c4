"""The shared store: Redis at REDIS_URL, or an embedded one for the demo.

Every process of a deployment talks to the same Redis: the waiting room's hot state and the
throttle counters live there (see docs/architecture.md). Without REDIS_URL (`scripts/demo` on
SQLite, one web process) the store is fakeredis inside this process: the same commands and Lua
scripts, no server to install, but shared with nobody, so `check --deploy` refuses it.
"""

import functools

import redis
from django.conf import settings

# The store is down, restarting, loading its data, full (maxmemory) or a read-only replica: a
# retryable 503, like a lost database.
UNAVAILABLE = (
    redis.exceptions.ConnectionError,
    redis.exceptions.TimeoutError,
    redis.exceptions.OutOfMemoryError,
    redis.exceptions.ReadOnlyError,
)


@functools.cache
def get_redis() -> redis.Redis:
    if settings.REDIS_URL:
        return redis.Redis.from_url(
            settings.REDIS_URL,
            # A Redis that stops answering must fail a request quickly (a 503), not hang a worker.
            socket_connect_timeout=settings.REDIS_TIMEOUT_SECONDS,
            socket_timeout=settings.REDIS_TIMEOUT_SECONDS,
            health_check_interval=30,
        )
    import fakeredis  # only the demo needs it

    return fakeredis.FakeRedis(server=fakeredis.FakeServer())


def store_is_shared() -> bool:
    """False for the embedded store: then other processes (qcluster) cannot see this one's state."""
    return bool(settings.REDIS_URL)
