"""Redis as secondary storage in front of the SQL store (``SESSIONAUTH_REDIS_URL``).

The database stays the source of truth; Redis holds copies of session
records so the request hook needs one Redis round trip and no SQL:

Keys live under ``<prefix><namespace>:``, where the namespace is the app's
deployment id (:mod:`.deployment`: stored once per database and tables, or
``SESSIONAUTH_DEPLOYMENT_ID``): two apps on one Redis database (different
databases, same prefix) never see each other's entries, user indexes,
tombstones or rate-limit counters, and every process of one app shares them,
whatever its database URL spelling or ``SECRET_KEY`` (rotation).

* ``<prefix>s:<id>``: the session record (JSON), with a TTL of the time left
  until it expires, or a *tombstone* ``"-"`` for a session that was deleted;
* ``<prefix>u:<user_id>``: the set of the user's cached session ids, used to
  forget all of a user's entries (user deleted or deactivated).

Every write goes to the database first (write-through). The one race that
could let an entry outlive its row: a reader misses the cache and reads the
row, a revoke deletes the row, then the reader stores its (stale) copy. Two
rules close it: entries are only ever *populated* with ``SET NX`` (never over
an existing key), and a delete writes tombstones, with plain ``SET``, for the
ids it is about to delete *before* deleting them. A reader that stores its
copy before the tombstone is overwritten by it; one that comes after finds
the key taken. Refreshing an entry (extend/touch) goes through a script that
never replaces a tombstone. Tombstones live ``TOMBSTONE_TTL`` seconds, far
longer than any read-then-populate takes.

When Redis cannot be reached, reads follow ``SESSIONAUTH_REDIS_FALLBACK``:
``"database"`` (default) reads the database instead, ``"fail"`` answers 503.
Deleting sessions always needs Redis: a revoke that could not write its
tombstones is refused (503, nothing deleted), because a Redis that comes back
holding the old entry would otherwise keep a revoked session alive. Never
does an outage let a request through that the database would reject.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import typing as t

import redis

from ..core.errors import StorageUnavailable
from ..core.records import SessionRecord
from ..core.records import record_from_json
from ..core.records import record_to_json
from .redis_scripts import REFRESH
from .redis_scripts import UNCACHE
from .sql import Guard
from .sql import SQLStore
from .throttle import Count
from .throttle import SQLCounters

if t.TYPE_CHECKING:
    from sqlalchemy.engine import Connection

    from .deployment import Deployment
    from .local_cache import LocalCache

log = logging.getLogger("flask_sessionauth")

TOMBSTONE = b"-"
#: Seconds a deleted session's id stays blocked from being cached again.
TOMBSTONE_TTL = 3600


class Prefix:
    """``<SESSIONAUTH_REDIS_PREFIX><namespace>:``; the namespace (from the
    deployment id) is asked for on first use, once per process."""

    __slots__ = ("base", "deployment", "_value")

    def __init__(self, base: str, deployment: Deployment | None = None) -> None:
        self.base = base
        self.deployment = deployment
        self._value: str | None = base if deployment is None else None

    def __call__(self) -> str:
        value = self._value
        if value is None:
            assert self.deployment is not None
            value = self._value = f"{self.base}{self.deployment.value()[:20]}:"
        return value

    def known(self) -> str | None:
        """The prefix if the deployment id is stored, without ever writing it
        (``None``: nothing was ever cached under it)."""
        if self._value is None and self.deployment is not None and self.deployment.stored() is not None:
            return self()
        return self._value


def encode(record: SessionRecord) -> str:
    return json.dumps(record_to_json(record), separators=(",", ":"))


def decode(raw: bytes) -> SessionRecord:
    return record_from_json(json.loads(raw))


def connect(url: str) -> redis.Redis[bytes]:
    """A client with short timeouts: an unreachable Redis must turn into a
    fallback or a 503 within a second, not hang the request."""
    return redis.Redis.from_url(url, socket_timeout=1, socket_connect_timeout=1)


class RedisStore(SQLStore):
    """The SQL store with Redis in front (write-through, like Django's
    ``cached_db``): it overrides the hot path, creation and :meth:`forget`;
    listings and management reads go to the database, the source of truth."""

    local: LocalCache | None = None  # the process-local copy (SESSIONAUTH_REDIS_LOCAL_CACHE), if on

    def __init__(
        self, *args: t.Any, client: redis.Redis[bytes], prefix: str | Prefix, fallback: str, pool_size: int = 5
    ) -> None:
        super().__init__(*args, pool_size=pool_size)
        if fallback not in ("database", "fail"):
            raise ValueError("SESSIONAUTH_REDIS_FALLBACK must be 'database' or 'fail'")
        self.client = client
        self._prefix = prefix if isinstance(prefix, Prefix) else Prefix(prefix)
        self.fallback = fallback
        self._refresh = client.register_script(REFRESH)
        self._uncache = client.register_script(UNCACHE)

    @property
    def prefix(self) -> str:
        return self._prefix()

    def key(self, session_id: str) -> str:
        return f"{self._prefix()}s:{session_id}"

    def user_key(self, user_id: t.Any) -> str:
        return f"{self._prefix()}u:{user_id}"

    # -- hot path ---------------------------------------------------------

    def load(self, session_id: str) -> SessionRecord | None:
        try:
            key = self.key(session_id)
            raw = self.client.get(key) if self.local is None else self.local.get(key, self._prefix())
        except redis.RedisError as exc:
            if self.fallback == "fail":
                raise StorageUnavailable() from exc
            log.warning("Redis unreachable, reading sessions from the database: %s", exc)
            return super().load(session_id)
        if raw is not None:
            return None if raw == TOMBSTONE else decode(raw)
        record = super().load(session_id)
        if record is not None:
            self._populate(record)
        return record

    def _populate(self, record: SessionRecord) -> None:
        ttl = _ttl_ms(record)
        if ttl <= 0:
            return
        try:
            pipe = self.client.pipeline(transaction=False)
            pipe.set(self.key(record.id), encode(record), px=ttl, nx=True)
            user_key = self.user_key(record.user_id)
            pipe.sadd(user_key, record.id)
            pipe.pexpire(user_key, ttl, gt=True)
            pipe.pexpire(user_key, ttl, nx=True)
            pipe.execute()
        except redis.RedisError as exc:
            log.warning("Redis unreachable, session not cached: %s", exc)

    def extend(self, record: SessionRecord) -> bool:
        if not super().extend(record):
            self._drop(record)
            return False
        self._refresh_entry(record)
        return True

    def touch(self, record: SessionRecord) -> bool:
        if not super().touch(record):
            self._drop(record)
            return False
        self._refresh_entry(record)
        return True

    def _drop(self, record: SessionRecord) -> None:
        """The row is gone (revoked meanwhile, or deleted behind the cache's
        back): so is the copy, tombstoned so no late populate brings it back.
        Best effort: the next write due rejects the session again."""
        try:
            pipe = self.client.pipeline(transaction=False)
            pipe.set(self.key(record.id), TOMBSTONE, ex=TOMBSTONE_TTL)
            pipe.srem(self.user_key(record.user_id), record.id)
            pipe.execute()
        except redis.RedisError as exc:
            log.warning("Redis unreachable, copy of an ended session not dropped: %s", exc)

    def _refresh_entry(self, record: SessionRecord) -> None:
        """Store the written values; a missed refresh only leaves an older,
        shorter-lived copy (it expires at the old ``expires_at``)."""
        ttl = _ttl_ms(record)
        try:
            if ttl > 0:
                self._refresh(keys=[self.key(record.id)], args=[encode(record), ttl])
        except redis.RedisError as exc:
            log.warning("Redis unreachable, cached session not refreshed: %s", exc)

    # -- writes that end sessions: tombstones first --------------------------

    def forget(self, ids: list[str]) -> None:
        """Block ``ids`` from being cached again; raises if Redis is unreachable
        so the caller's transaction rolls back and nothing is deleted."""
        try:
            pipe = self.client.pipeline(transaction=False)
            for session_id in ids:
                pipe.set(self.key(session_id), TOMBSTONE, ex=TOMBSTONE_TTL)
            pipe.execute()
        except redis.RedisError as exc:
            raise StorageUnavailable() from exc

    def _indexed(self, user_id: t.Any) -> list[str]:
        try:
            return [m.decode() for m in self.client.smembers(self.user_key(user_id))]
        except redis.RedisError as exc:
            raise StorageUnavailable() from exc

    def delete(self, user_id: t.Any, session_ids: t.Iterable[str] | None = None, keep: str | None = None) -> list[str]:
        self._prefix()  # the namespace before the transaction (its first use may write the id)
        if session_ids is None:
            # Ending all of a user's sessions also retires every copy the user
            # index knows, including rows someone deleted with plain SQL.
            stale = [session_id for session_id in self._indexed(user_id) if session_id != keep]
            if stale:
                self.forget(stale)
        ids = super().delete(user_id, session_ids, keep)
        if ids:
            self._unindex(user_id, ids)
        return ids

    def _unindex(self, user_id: t.Any, ids: list[str]) -> None:
        try:
            self.client.srem(self.user_key(user_id), *ids)
        except redis.RedisError as exc:
            log.warning("Redis unreachable, user index not updated: %s", exc)

    def replace(self, old_id: str, values: dict[str, t.Any]) -> bool:
        self._prefix()
        return super().replace(old_id, values)

    def create(self, values: dict[str, t.Any], max_sessions: int | None, guard: Guard | None = None) -> list[str]:
        self._prefix()  # the namespace before the transaction (its first use may write the id)
        evicted = super().create(values, max_sessions, guard)
        if evicted:
            self._unindex(values["user_id"], evicted)
        # Write-through: the new session is cached before its first request.
        self._populate(SessionRecord(**{name: values[name] for name in SessionRecord._fields if name in values}))
        return evicted

    def rename(self, user_id: t.Any, session_id: str, name: str | None, now: dt.datetime) -> bool:
        """Rename the row, then drop a live copy (never a tombstone): the next read has the name."""
        if not super().rename(user_id, session_id, name, now):
            return False
        try:
            self._uncache(keys=[self.key(session_id)])
        except redis.RedisError as exc:
            log.warning("Redis unreachable, renamed session's copy not dropped: %s", exc)
        return True

    def end_user_sessions(self, connection: Connection, user_id: t.Any) -> None:
        """A deleted or deactivated user: every copy goes, those only the user
        index knows included, before the rows (inside the same flush). With no
        deployment id stored yet nothing was ever cached: the rows go alone
        (a flush must not write the id on a second connection)."""
        if self._prefix.known() is None:
            connection.execute(self.table.delete().where(self.table.c.user_id == user_id))
            return
        indexed = self._indexed(user_id)
        if indexed:
            self.forget(indexed)
        super().end_user_sessions(connection, user_id)
        try:
            self.client.delete(self.user_key(user_id))
        except redis.RedisError as exc:
            log.warning("Redis unreachable, user index not removed: %s", exc)


def _ttl_ms(record: SessionRecord) -> int:
    return int((record.expires_at - dt.datetime.now(dt.timezone.utc)).total_seconds() * 1000)


class RedisCounters:
    """Counters in Redis: ``SET NX EX`` + ``INCR`` in one round trip; the key's
    TTL is the window. When Redis is unreachable the database counters take
    over (``SESSIONAUTH_REDIS_FALLBACK = "database"``) or the check fails closed."""

    def __init__(
        self, client: redis.Redis[bytes], prefix: str | Prefix, fallback: SQLCounters | None, window: int
    ) -> None:
        self.client = client
        self._prefix = prefix if isinstance(prefix, Prefix) else Prefix(prefix)
        self.fallback = fallback
        self.window = window

    @property
    def prefix(self) -> str:
        return f"{self._prefix()}throttle:"

    def _unreachable(self, exc: Exception) -> SQLCounters:
        if self.fallback is None:
            raise StorageUnavailable() from exc
        log.warning("Redis unreachable, counting failures in the database: %s", exc)
        return self.fallback

    def increment(self, names: list[str], now: float) -> list[Count]:
        try:
            pipe = self.client.pipeline(transaction=True)
            for name in names:
                key = self.prefix + name
                # A new window starts with the key (SET NX EX); INCR keeps its TTL.
                pipe.set(key, 0, ex=self.window, nx=True)
                pipe.incr(key)
                pipe.ttl(key)
            replies = pipe.execute()
        except (redis.RedisError, OSError) as exc:
            return self._unreachable(exc).increment(names, now)
        return [
            (int(replies[i + 1]), float(replies[i + 2] if replies[i + 2] > 0 else self.window))
            for i in range(0, len(replies), 3)
        ]

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
