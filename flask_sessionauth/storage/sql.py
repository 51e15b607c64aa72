"""Sessions in the application's SQL database: every session statement lives here.

The request hook uses :meth:`SQLStore.load`, :meth:`SQLStore.extend`,
:meth:`SQLStore.touch` and :meth:`SQLStore.load_user_row`: single statements,
compiled once, on autocommit connections of a small bounded private pool (see
:class:`~.prepared.Reader`), so a read is one round trip (no BEGIN/ROLLBACK)
and a write is atomic without an explicit transaction. Management operations
run on ``db.session`` and commit, so they compose with the app's ORM work.

Writes are guarded by ``WHERE id = :id``; an ``UPDATE`` of a row that a
concurrent revoke deleted matches nothing, so a refresh can never resurrect a
revoked session. Subclasses (the Redis tier) hook :meth:`SQLStore.forget`,
which runs inside the deleting transaction before the rows go.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import typing as t

import sqlalchemy as sa
from sqlalchemy.engine import Connection
from sqlalchemy.orm import defer

from ..core.errors import InvalidCredentials
from ..core.records import RECORD_FIELDS
from ..core.records import SessionRecord
from .prepared import Reader

if t.TYPE_CHECKING:
    from flask_sqlalchemy import SQLAlchemy


#: Most ids in one ``IN (...)`` (SQLite allows 32,766 parameters, older builds 999).
_BATCH = 500


class Guard(t.NamedTuple):
    """What must still hold of the user when a session is created: the password
    hash that was just verified (``None``: not checked) and, when the model has
    the column, ``is_active``. Checked with the user's row locked, so a password
    change or deactivation that commits first wins (no session from old
    credentials survives it) and one that commits later deletes the new row."""

    password_column: sa.ColumnElement[t.Any]
    password_hash: str | None
    active_column: sa.ColumnElement[t.Any] | None


@contextlib.contextmanager
def _transaction(session: t.Any) -> t.Iterator[None]:
    """Commit what the block did, or roll all of it back."""
    try:
        yield
        session.commit()
    except BaseException:
        session.rollback()
        raise


class JoinedRecord(SessionRecord):
    """A record read together with its user's columns (``user_row``, in
    ``SQLStore.user_attrs`` order), for :mod:`.orm` to build ``current_user``
    from. A record derived from it (``_replace``) carries none: its request
    reads the user on its own."""

    user_row: tuple[t.Any, ...] | None = None


class SQLStore:
    """Sessions in the application's SQL database (the source of truth)."""

    def __init__(
        self,
        db: SQLAlchemy,
        model: t.Any,
        user_model: t.Any,
        active_column: sa.ColumnElement[t.Any] | None,
        user_attrs: t.Sequence[str] | None = None,
        *,
        pool_size: int = 5,
    ) -> None:
        self.db = db
        self.pool_size = pool_size  # the hot path's connections (SESSIONAUTH_POOL_SIZE)
        self.model = model
        self.user_model = user_model
        table: sa.Table = model.__table__
        self.table = table
        self.user_table: sa.Table = user_model.__table__
        self.user_pk = next(iter(self.user_table.primary_key.columns))
        columns: list[t.Any] = [table.c[name] for name in RECORD_FIELDS]
        if active_column is not None:
            columns.append(active_column)
        user_mapper = sa.inspect(user_model)
        #: Attribute names of the user's columns joined to the session read,
        #: in ``load_user_row`` order (default: all; none: the join only validates).
        self.user_attrs = [attr.key for attr in user_mapper.column_attrs] if user_attrs is None else list(user_attrs)
        user_columns = [user_mapper.column_attrs[key].expression for key in self.user_attrs]
        self._width = len(columns)
        sid = sa.bindparam("sid", type_=table.c.id.type)
        # Joining the user table rejects sessions of deleted users even where
        # the database does not enforce the foreign key (SQLite's default).
        # The user's columns come along (trick #4: ``current_user`` needs no
        # second statement; ~40k instructions and a round trip per ``/me``).
        self._statements: dict[str, sa.Executable] = {
            "load": sa.select(*columns, *user_columns)
            .select_from(table.join(self.user_table, table.c.user_id == self.user_pk))
            .where(table.c.id == sid),
            "extend": table.update()
            .where(table.c.id == sid)
            .values(
                expires_at=sa.bindparam("expires_at", type_=table.c.expires_at.type),
                updated_at=sa.bindparam("now", type_=table.c.updated_at.type),
                last_active_at=sa.bindparam("now", type_=table.c.last_active_at.type),
            ),
            "touch": table.update()
            .where(table.c.id == sid)
            .values(last_active_at=sa.bindparam("now", type_=table.c.last_active_at.type)),
        }
        if user_columns:
            uid = sa.bindparam("uid", type_=self.user_pk.type)
            self._statements["user"] = sa.select(*user_columns).where(self.user_pk == uid)
        self._reader_for: Reader | None = None

    # -- hot path ---------------------------------------------------------

    def _reader(self) -> Reader:
        engine: sa.Engine = self.db.engine
        reader = self._reader_for
        if reader is None or reader.engine is not engine:
            reader = self._reader_for = Reader(engine, self._statements, self.pool_size)
        return reader

    def load(self, session_id: str) -> SessionRecord | None:
        row = self._reader().fetch("load", {"sid": session_id})
        if row is None:
            return None
        record = JoinedRecord(*row[: self._width])
        record.user_row = row[self._width :]
        return record

    def extend(self, record: SessionRecord) -> bool:
        """Write a slid expiry (``record`` as :func:`lifecycle.apply` made it);
        ``False`` if the row is gone (revoked meanwhile)."""
        values = {"sid": record.id, "expires_at": record.expires_at, "now": record.updated_at}
        return self._reader().write("extend", values) > 0

    def touch(self, record: SessionRecord) -> bool:
        """Write ``record.last_active_at``; ``False`` if the row is gone."""
        return self._reader().write("touch", {"sid": record.id, "now": record.last_active_at}) > 0

    def load_user_row(self, user_id: t.Any) -> tuple[t.Any, ...] | None:
        """The user's column values (``user_attrs`` order) in one read."""
        return self._reader().fetch("user", {"uid": user_id})

    # -- management (ORM session, committed) -------------------------------

    def forget(self, ids: list[str]) -> None:
        """Called with session ids about to be deleted, inside the deleting
        transaction: if it raises, nothing is deleted. Caches override it."""

    def create(self, values: dict[str, t.Any], max_sessions: int | None, guard: Guard | None = None) -> list[str]:
        """Insert a session, evicting the least recently active beyond the cap.

        The user's row is locked first (``FOR UPDATE``; on SQLite a no-op
        write takes the database's write lock), so parallel logins of one user
        serialise: the cap holds exactly, and ``guard`` is checked against the
        committed state. Returns the evicted ids.
        """
        session = self.db.session
        evicted: list[str] = []
        with _transaction(session):
            if max_sessions is not None or guard is not None:
                self._lock_user(values["user_id"], guard)
            if max_sessions is not None:
                m = self.model
                # Only the rows beyond the cap are read (the offset), so even a
                # user with thousands of rows from before the cap costs one pass.
                rows = session.execute(
                    sa.select(m.id)
                    .where(m.user_id == values["user_id"])
                    .order_by(*self._recent_first())
                    .offset(max_sessions - 1)
                ).scalars()
                evicted = list(rows)
                for start in range(0, len(evicted), _BATCH):
                    batch = evicted[start : start + _BATCH]
                    self.forget(batch)
                    session.execute(sa.delete(m).where(m.id.in_(batch)))
            session.execute(sa.insert(self.table).values(**values))
        return evicted

    def _lock_user(self, user_id: t.Any, guard: Guard | None) -> None:
        session = self.db.session
        pk = self.user_pk
        if session.get_bind().dialect.name == "sqlite":
            # SQLite has no row locks: a write statement, even one matching no
            # row, takes the database's write lock until commit.
            session.execute(sa.update(self.table).where(sa.false()).values(id=self.table.c.id))
        columns: list[t.Any] = [pk]
        if guard is not None:
            columns.append(guard.password_column)
            if guard.active_column is not None:
                columns.append(guard.active_column)
        stmt = sa.select(*columns).where(pk == user_id)
        if session.get_bind().dialect.name != "sqlite":
            stmt = stmt.with_for_update()
        row = session.execute(stmt).first()
        if guard is None:
            return
        if row is None:
            raise InvalidCredentials()
        if guard.password_hash is not None and row[1] != guard.password_hash:
            raise InvalidCredentials()  # the password changed since it was checked
        if guard.active_column is not None and row[-1] is False:
            raise InvalidCredentials()  # deactivated since it was checked

    def replace(self, old_id: str, values: dict[str, t.Any]) -> bool:
        """Atomically swap a session for a new token (rotation). ``False`` if the
        old row was already gone: a revoked session cannot be brought back."""
        session = self.db.session
        m = self.model
        with _transaction(session):
            self.forget([old_id])
            deleted = session.execute(sa.delete(m).where(m.id == old_id))
            if not t.cast(sa.CursorResult[t.Any], deleted).rowcount:
                session.rollback()  # the row is gone: write nothing
                return False
            session.execute(sa.insert(self.table).values(**values))
        return True

    def delete(self, user_id: t.Any, session_ids: t.Iterable[str] | None = None, keep: str | None = None) -> list[str]:
        """Delete a user's sessions (all, or those in ``session_ids``) and commit
        (the app's pending ORM changes too, e.g. a new password hash, so both
        land together). Returns the deleted ids."""
        session = self.db.session
        m = self.model
        cond = [m.user_id == user_id]
        if session_ids is not None:
            cond.append(m.id.in_(list(session_ids)))
        if keep is not None:
            cond.append(m.id != keep)
        with _transaction(session):
            ids = list(session.execute(sa.select(m.id).where(*cond)).scalars())
            if ids:
                self.forget(ids)
                session.execute(sa.delete(m).where(m.id.in_(ids), *cond))
        return ids

    def end_user_sessions(self, connection: Connection, user_id: t.Any) -> None:
        """Delete a deleted/deactivated user's sessions inside the caller's flush."""
        table = self.table
        ids = list(connection.execute(sa.select(table.c.id).where(table.c.user_id == user_id)).scalars())
        if ids:
            self.forget(ids)
        connection.execute(table.delete().where(table.c.user_id == user_id))

    def list(
        self, user_id: t.Any, now: dt.datetime, limit: int | None = None, offset: int = 0, first: str | None = None
    ) -> list[t.Any]:
        """Live sessions, session ``first`` (the caller's own) first, then the
        most recently active (ties: newest, then by id, so the pages of one
        listing never overlap); at most ``limit`` of them after ``offset``.
        The secret's hash is not loaded at all, and reading it raises instead
        of querying for it."""
        m = self.model
        pinned = () if first is None else (sa.case((m.id == first, 0), else_=1),)
        stmt = (
            sa.select(m)
            .options(defer(m.secret_hash, raiseload=True))
            .where(m.user_id == user_id, m.expires_at > now)
            .order_by(*pinned, *self._recent_first())
            .limit(limit)
            .offset(offset or None)
        )
        return list(self.db.session.execute(stmt).scalars())

    def rename(self, user_id: t.Any, session_id: str, name: str | None, now: dt.datetime) -> bool:
        """Set the device name of ``user_id``'s live session ``session_id``;
        ``False`` if no such row (another user's matches nothing)."""
        m = self.model
        with _transaction(self.db.session):
            result = self.db.session.execute(
                sa.update(m)
                .where(m.id == session_id, m.user_id == user_id, m.expires_at > now)
                .values(device_name=name)
                .execution_options(synchronize_session=False)
            )
        return bool(t.cast(sa.CursorResult[t.Any], result).rowcount)

    def count(self, user_id: t.Any, now: dt.datetime) -> int:
        """How many live sessions :meth:`list` would give without a limit."""
        m = self.model
        stmt = sa.select(sa.func.count()).select_from(m).where(m.user_id == user_id, m.expires_at > now)
        return int(self.db.session.execute(stmt).scalar_one())

    def _recent_first(self) -> tuple[sa.ColumnElement[t.Any], ...]:
        m = self.model
        return (sa.func.coalesce(m.last_active_at, m.created_at).desc(), m.created_at.desc(), m.id)

    def cleanup(self, now: dt.datetime, batch_size: int) -> int:
        """Delete expired rows in batches so a huge backlog never locks the table long."""
        session = self.db.session
        m = self.model
        total = 0
        while True:
            with _transaction(session):
                ids = list(session.execute(sa.select(m.id).where(m.expires_at <= now).limit(batch_size)).scalars())
                if ids:
                    session.execute(sa.delete(m).where(m.id.in_(ids), m.expires_at <= now))
            total += len(ids)
            if len(ids) < batch_size:
                return total
