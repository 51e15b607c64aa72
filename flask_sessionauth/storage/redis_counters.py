"""Rate-limit counters in Redis (:class:`RedisCounters`), next to the
session copies of :mod:`.redis` and under the same namespace."""

from __future__ import annotations

import logging
import typing as t

import redis
from redis.cluster import RedisCluster

from ..core.errors import StorageUnavailable
from .redis import Prefix
from .redis_clients import describe
from .throttle import Count
from .throttle import SQLCounters

if t.TYPE_CHECKING:
    from .redis_clients import Client

log = logging.getLogger("flask_sessionauth")

# One counter: a new window starts with the key (SET NX EX); INCR keeps its TTL.
_COUNT = """
redis.call('SET', KEYS[1], 0, 'EX', ARGV[1], 'NX')
local count = redis.call('INCR', KEYS[1])
return {count, redis.call('TTL', KEYS[1])}
"""


class RedisCounters:
    """Counters in Redis: ``SET NX EX`` + ``INCR`` atomically, in one
    ``MULTI`` round trip for all keys on one server, a one-key script per key
    on a cluster (nothing may span hash slots); the key's TTL is the
    window. When Redis is unreachable the database counters take over
    (``SESSIONAUTH_REDIS_FALLBACK = "database"``) or the check fails closed."""

    def __init__(self, client: Client, prefix: str | Prefix, fallback: SQLCounters | None, window: int) -> None:
        self.client = client
        self._prefix = prefix if isinstance(prefix, Prefix) else Prefix(prefix)
        self.fallback = fallback
        self.window = window
        self._count_one = client.register_script(_COUNT)

    @property
    def prefix(self) -> str:
        return f"{self._prefix()}throttle:"

    def _unreachable(self, exc: Exception) -> SQLCounters:
        if self.fallback is None:
            raise StorageUnavailable() from exc
        log.warning("Redis unreachable, counting failures in the database: %s", describe(exc))
        return self.fallback

    def increment(self, names: list[str], now: float) -> list[Count]:
        try:
            if isinstance(self.client, RedisCluster):
                replies = []
                for name in names:
                    replies += [None, *self._count_one(keys=[self.prefix + name], args=[self.window])]
            else:
                replies = self._count(names)
        except (redis.RedisError, OSError) as exc:
            return self._unreachable(exc).increment(names, now)
        return [
            (int(replies[i + 1]), float(replies[i + 2] if replies[i + 2] > 0 else self.window))
            for i in range(0, len(replies), 3)
        ]

    def _count(self, names: list[str]) -> list[t.Any]:
        pipe = self.client.pipeline(transaction=True)
        for name in names:
            key = self.prefix + name
            # A new window starts with the key (SET NX EX); INCR keeps its TTL.
            pipe.set(key, 0, ex=self.window, nx=True)
            pipe.incr(key)
            pipe.ttl(key)
        return list(pipe.execute())

    def peek(self, names: list[str], now: float) -> list[Count]:
        try:
            pipe = self.client.pipeline(transaction=False)
            for name in names:
                pipe.get(self.prefix + name)
                pipe.ttl(self.prefix + name)
            replies = pipe.execute()
        except (redis.RedisError, OSError) as exc:
            return self._unreachable(exc).peek(names, now)
        return [
            (int(replies[i] or 0), float(replies[i + 1]) if replies[i + 1] > 0 else 0.0)
            for i in range(0, len(replies), 2)
        ]

    def clear(self, names: list[str]) -> None:
        try:
            self.client.delete(*[self.prefix + name for name in names])
        except (redis.RedisError, OSError) as exc:
            self._unreachable(exc).clear(names)

    def cleanup(self, now: float) -> int:
        """Redis expires finished windows itself; the fallback table may hold some."""
        return self.fallback.cleanup(now) if self.fallback is not None else 0
