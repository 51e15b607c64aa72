"""Brute-force limits on password guesses, per account and per client address.

Every password check (sign-in, current password on a password change, sudo-mode
re-entry) first reads the counters of the account and of the client address and
is refused with :class:`~flask_sessionauth.RateLimited` once either reached its
limit in the current window, so a locked-out client costs no hashing work. Only a
*failed* check counts (one atomic increment per key); a successful one clears the
account's counter. Counting failures rather than attempts lets any number of
correct sign-ins run in parallel (several tabs, several devices, a team behind
one NAT); the price is that guesses already in flight when the limit is reached
still get their answer, so a burst can exceed the limit by at most the server's
concurrency (workers × threads) once per window.

Counters live in the shared storage so the limit holds across worker processes:
a small table on the app's ``db`` by default (``INSERT … ON CONFLICT DO UPDATE …
RETURNING``, atomic on PostgreSQL and SQLite), or Redis (``SET NX EX`` + ``INCR``) when
``SESSIONAUTH_REDIS_URL`` is set. Keys are SHA-256 digests of the normalised
email and of the client address, so unknown emails are limited exactly like
known ones (no user enumeration through a 429) and the table holds no emails.
IPv6 clients are counted per /64, the block one subscriber usually owns.
"""

from __future__ import annotations

import hashlib
import ipaddress
import math
import time
import typing as t

import sqlalchemy as sa
from flask import current_app
from flask import has_request_context
from flask import render_template_string
from flask import request
from flask.wrappers import Response
from sqlalchemy.exc import IntegrityError
from sqlalchemy.exc import SQLAlchemyError

from .exceptions import RateLimited
from .exceptions import StorageUnavailable

#: Name of the counter table created on the application's ``db``.
TABLE_NAME = "sessionauth_throttle"
ACCOUNT = "account"
ADDRESS = "ip"

_LIMITED_PAGE = """<!doctype html><html lang="en"><meta charset="utf-8">
<title>Too many attempts</title><h1>Too many attempts</h1>
<p>{{ message }}</p><p>You can try again in {{ minutes }} minute{{ "" if minutes == 1 else "s" }}.</p></html>"""


class Key(t.NamedTuple):
    """One counter: its kind (``account`` or ``ip``) and storage key."""

    kind: str
    name: str


def account_key(identity: str) -> Key:
    """The counter of an account, keyed by the normalised identity string, not the
    user id, so an email that has no account is counted the same way."""
    normalized = identity.strip().lower()
    return Key(ACCOUNT, f"{ACCOUNT}:{hashlib.sha256(normalized.encode('utf-8', 'surrogatepass')).hexdigest()}")


def address_key(address: str) -> Key:
    """The counter of a client address; IPv6 addresses count per /64 network."""
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        value = address[:64]
    else:
        value = str(ipaddress.ip_network(f"{ip}/64", strict=False)) if ip.version == 6 else str(ip)
    return Key(ADDRESS, f"{ADDRESS}:{hashlib.sha256(value.encode('utf-8', 'surrogatepass')).hexdigest()}")


def request_keys(identity: str | None) -> list[Key]:
    """The keys a password check from the current request counts against."""
    keys = []
    if isinstance(identity, str) and identity.strip():
        keys.append(account_key(identity))
    if has_request_context() and request.remote_addr:
        keys.append(address_key(request.remote_addr))
    return keys


class Limiter:
    """Fixed-window failure counters; subclasses provide the atomic storage."""

    def __init__(self, limits: dict[str, int | None], window: int) -> None:
        self.limits = {kind: int(limit) for kind, limit in limits.items() if limit}
        self.window = int(window)

    def enabled(self, keys: t.Iterable[Key]) -> list[Key]:
        return [key for key in keys if key.kind in self.limits]

    def attempt(self, identity: str | None) -> list[Key]:
        """Check that a password attempt for ``identity`` (the email typed, or the
        signed-in user's) from this request's address is allowed. Call before
        checking the password; raises :class:`RateLimited` if a counter reached
        its limit. Returns the keys for :meth:`failed` or :meth:`succeeded`.

        Only requests are limited: a script, the CLI or a shell calling the API
        outside a request has no client to limit (and must never lock a user
        out of the web app by running it)."""
        if not has_request_context():
            return []
        keys = self.enabled(request_keys(identity))
        if not keys:
            return keys
        counts = self._peek(keys, time.time())
        waits = [wait for key, (count, wait) in zip(keys, counts, strict=True) if count >= self.limits[key.kind]]
        if waits:
            raise RateLimited(max(1, math.ceil(max(waits))))
        return keys

    def failed(self, keys: list[Key]) -> None:
        """Count a wrong password against the account and the address."""
        if keys:
            self._increment(keys, time.time())

    def succeeded(self, keys: list[Key]) -> None:
        """A right password: the account's failures are forgiven. The address
        keeps its count (its failures were real, whoever made them)."""
        clear = [k for k in keys if k.kind == ACCOUNT]
        if clear:
            self._release(clear, [])

    def _peek(self, keys: list[Key], now: float) -> list[tuple[int, float]]:
        """Each key's ``(failures, seconds until its window ends)``, 0 if none."""
        raise NotImplementedError

    def _increment(self, keys: list[Key], now: float) -> list[tuple[int, float]]:
        """Add one to each key; return each ``(count, seconds until the window ends)``."""
        raise NotImplementedError

    def _release(self, clear: list[Key], decrement: list[Key]) -> None:
        raise NotImplementedError

    def cleanup(self) -> int:
        """Forget counters whose window is over; returns how many were removed."""
        return 0


def create_table(metadata: sa.MetaData) -> sa.Table:
    """The counter table on the app's metadata, so ``db.create_all()`` and
    migrations see it; defined once per metadata."""
    if TABLE_NAME in metadata.tables:
        return metadata.tables[TABLE_NAME]
    return sa.Table(
        TABLE_NAME,
        metadata,
        sa.Column("key", sa.String(80), primary_key=True),
        sa.Column("count", sa.Integer, nullable=False),
        # Unix seconds: the same comparison on every database, no time zones.
        sa.Column("window_start", sa.Float, nullable=False, index=True),
    )


class SQLLimiter(Limiter):
    """Counters in the application's database (the default)."""

    def __init__(self, db: t.Any, limits: dict[str, int | None], window: int) -> None:
        super().__init__(limits, window)
        self.db = db
        self.table = create_table(db.metadata)

    def _connection(self) -> sa.Connection:
        # Own autocommit connection: a counter must survive the rollback of
        # the request's ORM transaction, and must not commit the app's work.
        engine: sa.Engine = self.db.engine
        return engine.connect().execution_options(isolation_level="AUTOCOMMIT")

    def _increment(self, keys: list[Key], now: float) -> list[tuple[int, float]]:
        results = []
        try:
            with self._connection() as conn:
                upsert = self._upsert_statement(conn.dialect.name)
                for key in keys:
                    if upsert is not None:
                        row = conn.execute(upsert, {"k": key.name, "now": now, "expired": now - self.window}).one()
                    else:
                        row = self._increment_portable(conn, key.name, now)
                    results.append((int(row[0]), float(row[1]) + self.window - now))
        except SQLAlchemyError as exc:
            raise StorageUnavailable() from exc
        return results

    def _peek(self, keys: list[Key], now: float) -> list[tuple[int, float]]:
        c = self.table.c
        try:
            with self._connection() as conn:
                rows = dict(
                    (key, (count, start))
                    for key, count, start in conn.execute(
                        sa.select(c.key, c.count, c.window_start).where(c.key.in_([k.name for k in keys]))
                    )
                )
        except SQLAlchemyError as exc:
            raise StorageUnavailable() from exc
        results = []
        for key in keys:
            count, start = rows.get(key.name, (0, now - self.window))
            remaining = float(start) + self.window - now
            results.append((int(count), remaining) if remaining > 0 else (0, 0.0))
        return results

    def _upsert_statement(self, dialect: str) -> t.Any:
        """``INSERT … ON CONFLICT DO UPDATE … RETURNING``: one atomic statement
        that starts a new window when the old one is over."""
        from sqlalchemy.dialects import postgresql
        from sqlalchemy.dialects import sqlite

        insert: t.Any
        if dialect == "postgresql":
            insert = postgresql.insert
        elif dialect == "sqlite":
            insert = sqlite.insert
        else:
            return None
        c = self.table.c
        expired = c.window_start <= sa.bindparam("expired")
        stmt = insert(self.table).values(key=sa.bindparam("k"), count=1, window_start=sa.bindparam("now"))
        stmt = stmt.on_conflict_do_update(
            index_elements=[c.key],
            set_={
                "count": sa.case((expired, 1), else_=c.count + 1),
                "window_start": sa.case((expired, sa.bindparam("now")), else_=c.window_start),
            },
        )
        return stmt.returning(c.count, c.window_start)

    def _increment_portable(self, conn: sa.Connection, name: str, now: float) -> t.Any:
        """Other databases: a guarded UPDATE, else INSERT, retried on a race."""
        c = self.table.c
        expired = c.window_start <= now - self.window
        for _ in range(3):
            updated = conn.execute(
                self.table.update()
                .where(c.key == name)
                .values(
                    count=sa.case((expired, 1), else_=c.count + 1),
                    window_start=sa.case((expired, now), else_=c.window_start),
                )
            )
            if not updated.rowcount:
                try:
                    conn.execute(self.table.insert().values(key=name, count=1, window_start=now))
                except IntegrityError:
                    continue  # a parallel request inserted it first: update that row
            return conn.execute(sa.select(c.count, c.window_start).where(c.key == name)).one()
        raise StorageUnavailable()

    def _release(self, clear: list[Key], decrement: list[Key]) -> None:
        c = self.table.c
        try:
            with self._connection() as conn:
                if clear:
                    conn.execute(self.table.delete().where(c.key.in_([k.name for k in clear])))
                if decrement:
                    conn.execute(
                        self.table.update()
                        .where(c.key.in_([k.name for k in decrement]), c.count > 0)
                        .values(count=c.count - 1)
                    )
        except SQLAlchemyError as exc:
            raise StorageUnavailable() from exc

    def cleanup(self) -> int:
        try:
            with self._connection() as conn:
                result = conn.execute(self.table.delete().where(self.table.c.window_start <= time.time() - self.window))
        except SQLAlchemyError as exc:
            raise StorageUnavailable() from exc
        return int(result.rowcount or 0)


class RedisLimiter(Limiter):
    """Counters in Redis: ``SET NX EX`` + ``INCR`` in one round trip; the key's
    TTL is the window. When Redis is unreachable the database counters take
    over (``SESSIONAUTH_REDIS_FALLBACK = "database"``) or the check fails closed."""

    def __init__(
        self,
        client: t.Any,
        prefix: str,
        fallback: SQLLimiter | None,
        limits: dict[str, int | None],
        window: int,
    ) -> None:
        super().__init__(limits, window)
        import redis

        self._errors = (redis.RedisError, OSError)
        self.client = client
        self.prefix = f"{prefix}throttle:"
        self.fallback = fallback

    def _increment(self, keys: list[Key], now: float) -> list[tuple[int, float]]:
        try:
            pipe = self.client.pipeline(transaction=True)
            for key in keys:
                name = self.prefix + key.name
                # A new window starts with the key (SET NX EX); INCR keeps its TTL.
                pipe.set(name, 0, ex=self.window, nx=True)
                pipe.incr(name)
                pipe.ttl(name)
            replies = pipe.execute()
        except self._errors as exc:
            if self.fallback is None:
                raise StorageUnavailable() from exc
            return self.fallback._increment(keys, now)
        return [
            (int(replies[i + 1]), float(replies[i + 2] if replies[i + 2] > 0 else self.window))
            for i in range(0, len(replies), 3)
        ]

    def _peek(self, keys: list[Key], now: float) -> list[tuple[int, float]]:
        try:
            pipe = self.client.pipeline(transaction=False)
            for key in keys:
                pipe.get(self.prefix + key.name)
                pipe.ttl(self.prefix + key.name)
            replies = pipe.execute()
        except self._errors as exc:
            if self.fallback is None:
                raise StorageUnavailable() from exc
            return self.fallback._peek(keys, now)
        return [
            (int(replies[i] or 0), float(replies[i + 1]) if replies[i + 1] > 0 else 0.0)
            for i in range(0, len(replies), 2)
        ]

    def _release(self, clear: list[Key], decrement: list[Key]) -> None:
        try:
            pipe = self.client.pipeline(transaction=True)
            if clear:
                pipe.delete(*[self.prefix + k.name for k in clear])
            for key in decrement:
                # DECR on a key that expired meanwhile would create a -1 that never
                # expires; only decrement what still exists.
                pipe.eval(_DECR_IF_POSITIVE, 1, self.prefix + key.name)
            pipe.execute()
        except self._errors as exc:
            if self.fallback is None:
                raise StorageUnavailable() from exc
            self.fallback._release(clear, decrement)


_DECR_IF_POSITIVE = "local v = tonumber(redis.call('GET', KEYS[1])) if v and v > 0 then redis.call('DECR', KEYS[1]) end"


def create_limiter(config: t.Mapping[str, t.Any], db: t.Any, redis_client: t.Any = None) -> Limiter:
    """The limiter ``AppState`` keeps: Redis when configured (sharing the session
    store's client and connection pool when given), else the database."""
    limits = {ACCOUNT: config["SESSIONAUTH_RATE_LIMIT_ACCOUNT"], ADDRESS: config["SESSIONAUTH_RATE_LIMIT_IP"]}
    window = int(config["SESSIONAUTH_RATE_LIMIT_WINDOW"])
    sql = SQLLimiter(db, limits, window)
    url = config.get("SESSIONAUTH_REDIS_URL")
    if not url:
        return sql
    if redis_client is None:
        import redis

        redis_client = redis.Redis.from_url(url, socket_connect_timeout=1, socket_timeout=1)
    fallback = sql if config.get("SESSIONAUTH_REDIS_FALLBACK", "database") == "database" else None
    return RedisLimiter(redis_client, config.get("SESSIONAUTH_REDIS_PREFIX", "sessionauth:"), fallback, limits, window)


def rate_limited_response(error: RateLimited) -> Response:
    """429 with ``Retry-After``: JSON for API clients, else a short page."""
    from .extension import json_error
    from .extension import wants_json

    retry_after = str(error.retry_after)
    if wants_json():
        response = json_error(error.code, error.message, 429, Retry_After=retry_after)
    else:
        page = render_template_string(_LIMITED_PAGE, message=error.message, minutes=math.ceil(error.retry_after / 60))
        response = current_app.make_response((page, 429, {"Retry-After": retry_after}))
    response.headers["Cache-Control"] = "no-store"
    return response
