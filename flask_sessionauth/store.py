"""Session storage: every SQL statement the extension runs lives here.

The request hook uses :meth:`SQLStore.load`, :meth:`SQLStore.extend` and
:meth:`SQLStore.touch`: single statements on an autocommit connection, so a
read is one round trip (no BEGIN/ROLLBACK) and a write is atomic without an
explicit transaction. Management operations run on ``db.session`` and commit,
so they compose with the application's own ORM work.

Writes are guarded by ``WHERE id = :id``; an ``UPDATE`` of a row that a
concurrent revoke deleted matches nothing, so a refresh can never resurrect a
revoked session.
"""

from __future__ import annotations

import datetime as dt
import typing as t

import sqlalchemy as sa
from sqlalchemy.engine import Connection
from sqlalchemy.engine import Engine
from sqlalchemy.orm import make_transient_to_detached

if t.TYPE_CHECKING:
    from flask_sqlalchemy import SQLAlchemy


class SessionRecord(t.NamedTuple):
    """What the hot path knows about a session: plain values, no ORM object."""

    id: str
    user_id: t.Any
    secret_hash: str
    remember: bool
    expires_at: dt.datetime
    created_at: dt.datetime
    updated_at: dt.datetime
    last_active_at: dt.datetime | None
    authenticated_at: dt.datetime | None
    ip_address: str | None
    user_agent: str | None
    user_active: bool = True


RECORD_FIELDS = SessionRecord._fields[:-1]


class SQLStore:
    """Sessions in the application's SQL database (the source of truth)."""

    def __init__(
        self,
        db: SQLAlchemy,
        model: t.Any,
        user_model: t.Any,
        active_column: sa.ColumnElement[t.Any] | None,
    ) -> None:
        self.db = db
        self.model = model
        self.user_model = user_model
        table: sa.Table = model.__table__
        self.table = table
        user_table: sa.Table = user_model.__table__
        columns: list[t.Any] = [table.c[name] for name in RECORD_FIELDS]
        if active_column is not None:
            columns.append(active_column)
        # Joining the user table rejects sessions of deleted users even where
        # the database does not enforce the foreign key (SQLite's default).
        user_pk = next(iter(user_table.primary_key.columns))
        self._load = (
            sa.select(*columns)
            .select_from(table.join(user_table, table.c.user_id == user_pk))
            .where(table.c.id == sa.bindparam("sid"))
        )
        self._extend = (
            table.update()
            .where(table.c.id == sa.bindparam("sid"))
            .values(
                expires_at=sa.bindparam("expires_at"),
                updated_at=sa.bindparam("now"),
                last_active_at=sa.bindparam("now"),
            )
        )
        self._touch = (
            table.update()
            .where(table.c.id == sa.bindparam("sid"))
            .values(last_active_at=sa.bindparam("now"))
        )

    # -- hot path ---------------------------------------------------------

    def _autocommit(self) -> Connection:
        engine: Engine = self.db.engine
        return engine.connect().execution_options(isolation_level="AUTOCOMMIT")

    def load(self, session_id: str) -> SessionRecord | None:
        with self._autocommit() as conn:
            row = conn.execute(self._load, {"sid": session_id}).first()
        if row is None:
            return None
        return SessionRecord(*row)

    def extend(self, session_id: str, expires_at: dt.datetime, now: dt.datetime) -> bool:
        """Slide the expiry; ``False`` if the row is gone (revoked meanwhile)."""
        with self._autocommit() as conn:
            result = conn.execute(self._extend, {"sid": session_id, "expires_at": expires_at, "now": now})
        return bool(result.rowcount)

    def touch(self, session_id: str, now: dt.datetime) -> bool:
        with self._autocommit() as conn:
            result = conn.execute(self._touch, {"sid": session_id, "now": now})
        return bool(result.rowcount)

    # -- management (ORM session, committed) -------------------------------

    def create(self, values: dict[str, t.Any], max_sessions: int | None) -> tuple[t.Any, list[str]]:
        """Insert a session, evicting the least recently active beyond the cap.

        Under PostgreSQL the user's row is locked first so parallel logins of
        one user serialise and the cap holds exactly.
        """
        session = self.db.session
        evicted: list[str] = []
        try:
            if max_sessions is not None:
                self._lock_user(values["user_id"])
                m = self.model
                rows = session.execute(
                    sa.select(m.id)
                    .where(m.user_id == values["user_id"])
                    .order_by(
                        sa.func.coalesce(m.last_active_at, m.created_at).desc(),
                        m.created_at.desc(),
                    )
                ).scalars()
                evicted = list(rows)[max(max_sessions - 1, 0) :]
                if evicted:
                    session.execute(sa.delete(m).where(m.id.in_(evicted)))
            session.add(self.model(**values))
            session.commit()
        except BaseException:
            session.rollback()
            raise
        return self.snapshot(values), evicted

    def snapshot(self, values: t.Mapping[str, t.Any]) -> t.Any:
        """A detached ``UserSession`` holding ``values``: usable after the
        request's ORM session is gone, without a refresh query."""
        obj = self.model(**{name: values[name] for name in RECORD_FIELDS})
        make_transient_to_detached(obj)
        return obj

    def _lock_user(self, user_id: t.Any) -> None:
        user_table: sa.Table = self.user_model.__table__
        pk = next(iter(user_table.primary_key.columns))
        stmt = sa.select(pk).where(pk == user_id)
        if self.db.session.get_bind().dialect.name != "sqlite":
            stmt = stmt.with_for_update()
        self.db.session.execute(stmt)

    def replace(self, old_id: str, values: dict[str, t.Any]) -> t.Any | None:
        """Atomically swap a session for a new token (rotation).

        Returns ``None`` if the old row was already gone, so a revoked session
        cannot be brought back by rotating it.
        """
        session = self.db.session
        m = self.model
        try:
            deleted = session.execute(sa.delete(m).where(m.id == old_id))
            if not t.cast(sa.CursorResult[t.Any], deleted).rowcount:
                session.rollback()
                return None
            session.add(self.model(**values))
            session.commit()
        except BaseException:
            session.rollback()
            raise
        return self.snapshot(values)

    def delete(
        self,
        user_id: t.Any,
        session_ids: t.Iterable[str] | None = None,
        keep: str | None = None,
    ) -> list[str]:
        """Delete a user's sessions (all, or those in ``session_ids``), return their ids."""
        session = self.db.session
        m = self.model
        cond = [m.user_id == user_id]
        if session_ids is not None:
            cond.append(m.id.in_(list(session_ids)))
        if keep is not None:
            cond.append(m.id != keep)
        try:
            ids = list(session.execute(sa.select(m.id).where(*cond)).scalars())
            if ids:
                session.execute(sa.delete(m).where(m.id.in_(ids), *cond))
            session.commit()
        except BaseException:
            session.rollback()
            raise
        return ids

    def list(self, user_id: t.Any, now: dt.datetime) -> list[t.Any]:
        m = self.model
        stmt = (
            sa.select(m)
            .where(m.user_id == user_id, m.expires_at > now)
            .order_by(
                sa.func.coalesce(m.last_active_at, m.created_at).desc(),
                m.created_at.desc(),
            )
        )
        return list(self.db.session.execute(stmt).scalars())

    def get(self, session_id: str) -> t.Any | None:
        return self.db.session.get(self.model, session_id)

    def mark_authenticated(self, session_id: str, now: dt.datetime) -> bool:
        m = self.model
        try:
            result = self.db.session.execute(
                sa.update(m).where(m.id == session_id).values(authenticated_at=now, last_active_at=now)
            )
            self.db.session.commit()
        except BaseException:
            self.db.session.rollback()
            raise
        return bool(t.cast(sa.CursorResult[t.Any], result).rowcount)

    def cleanup(self, now: dt.datetime, batch_size: int) -> int:
        """Delete expired rows in batches so a huge backlog never locks the table long."""
        session = self.db.session
        m = self.model
        total = 0
        while True:
            try:
                ids = list(
                    session.execute(sa.select(m.id).where(m.expires_at <= now).limit(batch_size)).scalars()
                )
                if ids:
                    session.execute(sa.delete(m).where(m.id.in_(ids), m.expires_at <= now))
                session.commit()
            except BaseException:
                session.rollback()
                raise
            total += len(ids)
            if len(ids) < batch_size:
                return total
