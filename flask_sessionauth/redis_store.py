"""Redis as secondary storage in front of the SQL store (``SESSIONAUTH_REDIS_URL``).

The database stays the source of truth; Redis holds copies of session
records so the request hook needs one Redis round trip and no SQL:

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

from .exceptions import StorageUnavailable
from .store import SessionRecord
from .store import SQLStore
from .store import record_from_json
from .store import record_to_json

if t.TYPE_CHECKING:
    from sqlalchemy.engine import Connection

log = logging.getLogger(__name__)

TOMBSTONE = b"-"
#: Seconds a deleted session's id stays blocked from being cached again.
TOMBSTONE_TTL = 3600

# Replace an entry's value only if it is live (not missing, not a tombstone).
_REFRESH = """
local current = redis.call('GET', KEYS[1])
if current and current ~= '-' then
  redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
  return 1
end
return 0
"""
# Drop a live entry so the next read reloads it; a tombstone stays.
_FORGET = """
local current = redis.call('GET', KEYS[1])
if current and current ~= '-' then
  return redis.call('DEL', KEYS[1])
end
return 0
"""


def encode(record: SessionRecord) -> str:
    return json.dumps(record_to_json(record), separators=(",", ":"))


def decode(raw: bytes) -> SessionRecord:
    return record_from_json(json.loads(raw))


class RedisStore:
    """The :class:`~flask_sessionauth.store.SQLStore` interface, with Redis in front.

    Only the hot path (``load``, ``extend``, ``touch``) and deletions involve
    Redis; listings and management reads go to the database, which is the
    source of truth and is not on any per-request path.
    """

    def __init__(self, sql: SQLStore, client: redis.Redis[bytes], prefix: str, fallback: str) -> None:
        if fallback not in ("database", "fail"):
            raise ValueError("SESSIONAUTH_REDIS_FALLBACK must be 'database' or 'fail'")
        self.sql = sql
        self.client = client
        self.prefix = prefix
        self.fallback = fallback
        self._refresh = client.register_script(_REFRESH)
        self._forget = client.register_script(_FORGET)

    @classmethod
    def from_url(cls, sql: SQLStore, url: str, prefix: str, fallback: str) -> RedisStore:
        # Short timeouts: an unreachable Redis must turn into a fallback or a
        # 503 within a second, not hang the request.
        client = redis.Redis.from_url(url, socket_timeout=1, socket_connect_timeout=1)
        return cls(sql, client, prefix, fallback)

    def key(self, session_id: str) -> str:
        return f"{self.prefix}s:{session_id}"

    def user_key(self, user_id: t.Any) -> str:
        return f"{self.prefix}u:{user_id}"

    # -- hot path ---------------------------------------------------------

    def load(self, session_id: str) -> SessionRecord | None:
        try:
            raw = self.client.get(self.key(session_id))
        except redis.RedisError as exc:
            return self._unreachable(exc, session_id)
        if raw is not None:
            return None if raw == TOMBSTONE else decode(raw)
        record = self.sql.load(session_id)
        if record is not None:
            self._populate(record)
        return record

    def _unreachable(self, exc: Exception, session_id: str) -> SessionRecord | None:
        if self.fallback == "fail":
            raise StorageUnavailable() from exc
        log.warning("Redis unreachable, reading sessions from the database: %s", exc)
        return self.sql.load(session_id)

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
        if not self.sql.extend(record):
            return False
        self._refresh_entry(record)
        return True

    def touch(self, record: SessionRecord) -> bool:
        if not self.sql.touch(record):
            return False
        self._refresh_entry(record)
        return True

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

    def _tombstone(self, ids: list[str]) -> None:
        """Block ``ids`` from being cached again; raises if Redis is unreachable
        so the caller's transaction rolls back and nothing is deleted."""
        try:
            pipe = self.client.pipeline(transaction=False)
            for session_id in ids:
                pipe.set(self.key(session_id), TOMBSTONE, ex=TOMBSTONE_TTL)
            pipe.execute()
        except redis.RedisError as exc:
            raise StorageUnavailable() from exc

    def delete(
        self,
        user_id: t.Any,
        session_ids: t.Iterable[str] | None = None,
        keep: str | None = None,
    ) -> list[str]:
        if session_ids is None:
            # Ending all of a user's sessions also retires every copy the user
            # index knows, including rows someone deleted with plain SQL.
            try:
                indexed = [m.decode() for m in self.client.smembers(self.user_key(user_id))]
            except redis.RedisError as exc:
                raise StorageUnavailable() from exc
            stale = [session_id for session_id in indexed if session_id != keep]
            if stale:
                self._tombstone(stale)
        try:
            ids = self.sql.delete(user_id, session_ids, keep=keep, before_delete=self._tombstone)
        except StorageUnavailable:
            self.sql.db.session.rollback()
            raise
        if ids:
            self._unindex(user_id, ids)
        return ids

    def _unindex(self, user_id: t.Any, ids: list[str]) -> None:
        try:
            self.client.srem(self.user_key(user_id), *ids)
        except redis.RedisError as exc:
            log.warning("Redis unreachable, user index not updated: %s", exc)

    def replace(self, old_id: str, values: dict[str, t.Any]) -> t.Any | None:
        self._tombstone([old_id])
        return self.sql.replace(old_id, values)

    def create(self, values: dict[str, t.Any], max_sessions: int | None) -> tuple[t.Any, list[str]]:
        try:
            obj, evicted = self.sql.create(values, max_sessions, before_delete=self._tombstone)
        except StorageUnavailable:
            self.sql.db.session.rollback()
            raise
        if evicted:
            self._unindex(values["user_id"], evicted)
        # Write-through: the new session is cached before its first request.
        self._populate(SessionRecord(**{name: values[name] for name in SessionRecord._fields if name in values}))
        return obj, evicted

    def end_user_sessions(self, connection: Connection, user_id: t.Any) -> None:
        self.sql.end_user_sessions(connection, user_id, before_delete=self._tombstone)
        try:
            self.client.delete(self.user_key(user_id))
        except redis.RedisError as exc:
            log.warning("Redis unreachable, user index not removed: %s", exc)

    # -- database only ----------------------------------------------------

    def list(self, user_id: t.Any, now: dt.datetime) -> list[t.Any]:
        return self.sql.list(user_id, now)

    def cleanup(self, now: dt.datetime, batch_size: int) -> int:
        """Expired rows only: their cache entries expired with them (TTL)."""
        return self.sql.cleanup(now, batch_size)

    def load_user(self, user_id: t.Any) -> t.Any | None:
        return self.sql.load_user(user_id)

    def snapshot(self, values: t.Mapping[str, t.Any]) -> t.Any:
        return self.sql.snapshot(values)


def _ttl_ms(record: SessionRecord) -> int:
    return int((record.expires_at - dt.datetime.now(dt.timezone.utc)).total_seconds() * 1000)
