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

Every command touches one key (pipelines are not transactions, the scripts
take one key): nothing spans hash slots, so a Redis Cluster works as is. On
a Redis with replicas (a cluster, Sentinel) a revoke's tombstones must be on
``SESSIONAUTH_REDIS_WAIT_REPLICAS`` replicas (``WAIT``) before the rows go,
and after any Redis error the store distrusts Redis for
``SESSIONAUTH_REDIS_FAILOVER_WINDOW`` seconds: reads go to the database and
put right the copies of sessions the database no longer has (a promoted
replica that missed a write). The key layout is documented in ``docs/storage.md``.

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
import time
import typing as t

import redis

from ..core.errors import StorageUnavailable
from ..core.records import SessionRecord
from ..core.records import record_from_json
from ..core.records import record_to_json
from .redis_clients import Client
from .redis_clients import connect
from .redis_clients import describe
from .redis_clients import set_replicated
from .redis_scripts import REFRESH
from .redis_scripts import RETIRE
from .redis_scripts import UNCACHE
from .sql import Guard
from .sql import SQLStore

if t.TYPE_CHECKING:
    from sqlalchemy.engine import Connection

    from .deployment import Deployment
    from .local_cache import LocalCache

__all__ = ["TOMBSTONE", "Prefix", "RedisStore", "connect"]

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


class RedisStore(SQLStore):
    """The SQL store with Redis in front (write-through, like Django's
    ``cached_db``): it overrides the hot path, creation and :meth:`forget`;
    listings and management reads go to the database, the source of truth."""

    local: LocalCache | None = None  # the process-local copy (SESSIONAUTH_REDIS_LOCAL_CACHE), if on

    def __init__(
        self,
        *args: t.Any,
        client: Client,
        prefix: str | Prefix,
        fallback: str,
        pool_size: int = 5,
        wait_replicas: int = 0,
        failover_window: float = 0.0,
    ) -> None:
        super().__init__(*args, pool_size=pool_size)
        if fallback not in ("database", "fail"):
            raise ValueError("SESSIONAUTH_REDIS_FALLBACK must be 'database' or 'fail'")
        self.client = client
        self._prefix = prefix if isinstance(prefix, Prefix) else Prefix(prefix)
        self.fallback = fallback
        self._refresh = client.register_script(REFRESH)
        self._uncache = client.register_script(UNCACHE)
        self._retire = client.register_script(RETIRE)
        self.wait_replicas = wait_replicas
        self.failover_window = failover_window
        self._distrust_until = 0.0  # time.monotonic() until which reads revalidate

    def _failed(self, exc: Exception, message: str) -> None:
        """A Redis error: maybe a failover under way."""
        self.distrust()
        log.warning(message, describe(exc))

    def distrust(self) -> None:
        """A promoted replica may lack recent writes: the database decides for a while."""
        self._distrust_until = time.monotonic() + self.failover_window

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
            self._failed(exc, "Redis unreachable, reading sessions from the database: %s")
            if self.fallback == "fail":
                raise StorageUnavailable() from exc
            return super().load(session_id)
        if self._distrust_until and time.monotonic() < self._distrust_until:
            return self._revalidate(session_id, raw)
        if raw is not None:
            return None if raw == TOMBSTONE else decode(raw)
        record = super().load(session_id)
        if record is not None:
            self._populate(record)
        return record

    def _revalidate(self, session_id: str, raw: bytes | None) -> SessionRecord | None:
        """Shortly after a Redis error: the database decides, and a copy of a
        session it no longer has is retired (a replica promoted meanwhile may
        have missed the tombstone)."""
        record = super().load(session_id)
        if record is None and raw is not None and raw != TOMBSTONE:
            try:
                self._retire(keys=[self.key(session_id)], args=[TOMBSTONE_TTL])
            except redis.RedisError as exc:
                self._failed(exc, "Redis unreachable, copy of an ended session not retired: %s")
        elif record is not None and raw is None:
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
            self._failed(exc, "Redis unreachable, session not cached: %s")

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
            self._failed(exc, "Redis unreachable, copy of an ended session not dropped: %s")

    def _refresh_entry(self, record: SessionRecord) -> None:
        """Store the written values; a missed refresh only leaves an older,
        shorter-lived copy (it expires at the old ``expires_at``)."""
        ttl = _ttl_ms(record)
        try:
            if ttl > 0:
                self._refresh(keys=[self.key(record.id)], args=[encode(record), ttl])
        except redis.RedisError as exc:
            self._failed(exc, "Redis unreachable, cached session not refreshed: %s")

    # -- writes that end sessions: tombstones first --------------------------

    def forget(self, ids: list[str]) -> None:
        """Block ``ids`` from being cached again; raises if Redis is unreachable
        so the caller's transaction rolls back and nothing is deleted; so it
        does when fewer than ``wait_replicas`` replicas confirm the tombstones
        (a master crashing now would hand over a copy that missed them)."""
        try:
            set_replicated(self.client, {self.key(i): TOMBSTONE for i in ids}, TOMBSTONE_TTL, self.wait_replicas)
        except redis.RedisError as exc:
            self._failed(exc, "Redis unreachable or not replicated, sessions not deleted: %s")
            raise StorageUnavailable() from exc

    def _indexed(self, user_id: t.Any) -> list[str]:
        try:
            return [m.decode() for m in self.client.smembers(self.user_key(user_id))]
        except redis.RedisError as exc:
            self._failed(exc, "Redis unreachable, sessions not deleted: %s")
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
            self._failed(exc, "Redis unreachable, user index not updated: %s")

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
            self._failed(exc, "Redis unreachable, user index not removed: %s")


def _ttl_ms(record: SessionRecord) -> int:
    return int((record.expires_at - dt.datetime.now(dt.timezone.utc)).total_seconds() * 1000)
