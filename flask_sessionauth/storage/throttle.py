"""Failure counters for the rate limiter: fixed windows, atomic increments.

A small table on the app's ``db`` by default (``INSERT … ON CONFLICT DO UPDATE …
RETURNING``, atomic on PostgreSQL and SQLite), or Redis (:class:`~.redis.RedisCounters`)
when ``SESSIONAUTH_REDIS_URL`` is set. Keys arrive already keyed with an HMAC
(see :mod:`flask_sessionauth.services.ratelimit`); nothing here sees an email
or address. SQL counters run on the hot path's autocommit connections
(:class:`~.prepared.Reader`), never on a second connection of the app's pool:
a request that holds its ORM connection can always count its failure.
"""

from __future__ import annotations

import typing as t

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql
from sqlalchemy.dialects import sqlite
from sqlalchemy.exc import IntegrityError

from ..core.errors import StorageUnavailable
from .errors import storage_errors
from .model import table_once

if t.TYPE_CHECKING:
    from .prepared import Reader

#: Name of the counter table created on the application's ``db``.
TABLE_NAME = "sessionauth_throttle"
#: ``(failures, seconds until the window ends)`` for one key.
Count = tuple[int, float]


class Counters(t.Protocol):
    def peek(self, names: list[str], now: float) -> list[Count]: ...
    def increment(self, names: list[str], now: float) -> list[Count]: ...
    def clear(self, names: list[str]) -> None: ...
    def cleanup(self, now: float) -> int: ...


def create_table(metadata: sa.MetaData) -> sa.Table:
    """The counter table on the app's metadata."""
    return table_once(
        metadata,
        TABLE_NAME,
        sa.Column("key", sa.String(80), primary_key=True),
        sa.Column("count", sa.Integer, nullable=False),
        # Unix seconds: the same comparison on every database, no time zones.
        sa.Column("window_start", sa.Float, nullable=False, index=True),
    )


class SQLCounters:
    """Counters in the application's database (the default)."""

    def __init__(self, db: t.Any, reader: t.Callable[[], Reader], window: int) -> None:
        self.db = db
        self.reader = reader
        self.window = window
        self.table = create_table(db.metadata)

    def _run(self, name: str, build: t.Callable[[], sa.Executable], values: dict[str, t.Any], fetch: bool) -> t.Any:
        with storage_errors("Signing in"):
            return self.reader().run(f"throttle.{name}", build, values, fetch=fetch)

    def peek(self, names: list[str], now: float) -> list[Count]:
        c = self.table.c
        results = []
        for name in names:
            row = self._run(
                "peek",
                lambda: sa.select(c.count, c.window_start).where(c.key == sa.bindparam("k")),
                {"k": name},
                True,
            )
            count, start = row if row is not None else (0, now - self.window)
            remaining = float(start) + self.window - now
            results.append((int(count), remaining) if remaining > 0 else (0, 0.0))
        return results

    def increment(self, names: list[str], now: float) -> list[Count]:
        dialect = self.db.engine.dialect.name
        results = []
        for name in names:
            if dialect in ("postgresql", "sqlite"):
                values = {"k": name, "now": now, "expired": now - self.window}
                row = self._run("upsert", lambda: self._upsert(dialect), values, True)
            else:
                row = self._increment_portable(name, now)
            results.append((int(row[0]), float(row[1]) + self.window - now))
        return results

    def _upsert(self, dialect: str) -> sa.Executable:
        """``INSERT … ON CONFLICT DO UPDATE … RETURNING``: one atomic statement
        that starts a new window when the old one is over."""
        insert: t.Any = postgresql.insert if dialect == "postgresql" else sqlite.insert
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
        return t.cast(sa.Executable, stmt.returning(c.count, c.window_start))

    def _increment_portable(self, name: str, now: float) -> t.Any:
        """Other databases: a guarded UPDATE, else INSERT, retried on a race."""
        c = self.table.c
        expired = c.window_start <= now - self.window
        with storage_errors("Signing in"):
            with self.db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
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
        raise StorageUnavailable(action="Signing in")

    def clear(self, names: list[str]) -> None:
        c = self.table.c
        for name in names:
            self._run("clear", lambda: self.table.delete().where(c.key == sa.bindparam("k")), {"k": name}, False)

    def cleanup(self, now: float) -> int:
        c = self.table.c
        build = lambda: self.table.delete().where(c.window_start <= sa.bindparam("expired"))  # noqa: E731
        return int(self._run("cleanup", build, {"expired": now - self.window}, False) or 0)
