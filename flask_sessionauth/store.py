"""Session storage: every SQL statement the extension runs lives here.

The request hook uses :meth:`SQLStore.load`, :meth:`SQLStore.extend`,
:meth:`SQLStore.touch` and (for ``current_user``) :meth:`SQLStore.load_user`:
single statements, compiled once, on autocommit connections of a private pool
(see :class:`_Reader`), so a read is one round trip (no BEGIN/ROLLBACK) and a
write is atomic without an explicit transaction. Management operations run on
``db.session`` and commit, so they compose with the application's own ORM work.

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
from sqlalchemy.orm import defer
from sqlalchemy.orm import make_transient_to_detached

from .model import UTCDateTime

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
_DATETIME_FIELDS = tuple(
    i
    for i, name in enumerate(SessionRecord._fields)
    if name in {"expires_at", "created_at", "updated_at", "last_active_at", "authenticated_at"}
)
_fromisoformat = dt.datetime.fromisoformat


def record_to_json(record: SessionRecord) -> list[t.Any]:
    """``record`` as JSON-ready values (the Redis tier and the cookie cache)."""
    return [v.isoformat() if isinstance(v, dt.datetime) else v for v in record]


def record_from_json(values: list[t.Any], cls: type[SessionRecord] = SessionRecord) -> SessionRecord:
    for i in _DATETIME_FIELDS:
        if values[i] is not None:
            values[i] = _fromisoformat(values[i])
    return cls(*values)


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
        self._user_mapper = sa.inspect(user_model)
        self._session_manager = sa.inspect(model).class_manager
        user_columns = [attr.expression for attr in self._user_mapper.column_attrs]
        self._user_attrs = [attr.key for attr in self._user_mapper.column_attrs]
        sid = sa.bindparam("sid", type_=table.c.id.type)
        self._statements: dict[str, sa.Executable] = {
            "load": sa.select(*columns)
            .select_from(table.join(user_table, table.c.user_id == user_pk))
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
            "user": sa.select(*user_columns).where(user_pk == sa.bindparam("uid", type_=user_pk.type)),
        }
        self._reader_for: _Reader | None = None

    # -- hot path ---------------------------------------------------------

    def _reader(self) -> _Reader:
        engine: Engine = self.db.engine
        reader = self._reader_for
        if reader is None or reader.engine is not engine:
            reader = self._reader_for = _Reader(engine, self._statements)
        return reader

    def load(self, session_id: str) -> SessionRecord | None:
        row = self._reader().fetch("load", {"sid": session_id})
        return None if row is None else SessionRecord(*row)

    def extend(self, record: SessionRecord) -> bool:
        """Write a slid expiry (``record`` as :func:`lifecycle.apply` made it);
        ``False`` if the row is gone (revoked meanwhile)."""
        values = {"sid": record.id, "expires_at": record.expires_at, "now": record.updated_at}
        return self._reader().write("extend", values) > 0

    def touch(self, record: SessionRecord) -> bool:
        """Write ``record.last_active_at``; ``False`` if the row is gone."""
        return self._reader().write("touch", {"sid": record.id, "now": record.last_active_at}) > 0

    def load_user(self, user_id: t.Any) -> t.Any | None:
        """The app's user as a persistent instance of ``db.session``, in one read.

        The row is fetched like the session (no ORM query) and placed into
        the session's identity map, so the object behaves exactly like one
        from ``db.session.get``: attribute changes are flushed on commit,
        relationships load on access.
        """
        session = self.db.session
        key = self._user_mapper.identity_key_from_primary_key((user_id,))
        user = session.identity_map.get(key)
        if user is not None:
            return user
        row = self._reader().fetch("user", {"uid": user_id})
        if row is None:
            return None
        user = _loaded(self._user_mapper.class_manager, zip(self._user_attrs, row, strict=True))
        make_transient_to_detached(user)
        session.add(user)
        return user

    def end_user_sessions(
        self,
        connection: Connection,
        user_id: t.Any,
        before_delete: t.Callable[[list[str]], None] | None = None,
    ) -> None:
        """Delete a deleted/deactivated user's sessions inside the caller's flush."""
        table = self.table
        if before_delete is not None:
            ids = list(connection.execute(sa.select(table.c.id).where(table.c.user_id == user_id)).scalars())
            if ids:
                before_delete(ids)
        connection.execute(table.delete().where(table.c.user_id == user_id))

    # -- management (ORM session, committed) -------------------------------

    def create(
        self,
        values: dict[str, t.Any],
        max_sessions: int | None,
        before_delete: t.Callable[[list[str]], None] | None = None,
    ) -> tuple[t.Any, list[str]]:
        """Insert a session, evicting the least recently active beyond the cap.

        Under PostgreSQL the user's row is locked first so parallel logins of
        one user serialise and the cap holds exactly. ``before_delete`` is
        called with the evicted ids before they are deleted (in the same
        transaction), so a cache can forget them first.
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
                    if before_delete is not None:
                        before_delete(evicted)
                    session.execute(sa.delete(m).where(m.id.in_(evicted)))
            session.add(self.model(**values))
            session.commit()
        except BaseException:
            session.rollback()
            raise
        return self.snapshot(values), evicted

    def snapshot(self, values: t.Mapping[str, t.Any]) -> t.Any:
        """A detached ``UserSession`` holding ``values``: usable after the
        request's ORM session is gone, without a refresh query. Its
        ``secret_hash`` is ``None``: nothing handed to callers carries it."""
        items = ((name, None if name == "secret_hash" else values[name]) for name in RECORD_FIELDS)
        obj = _loaded(self._session_manager, items)
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
        before_delete: t.Callable[[list[str]], None] | None = None,
    ) -> list[str]:
        """Delete a user's sessions (all, or those in ``session_ids``), return their ids.

        ``before_delete`` gets the ids (checked to be the user's) before the
        DELETE runs, inside the transaction; if it raises, nothing is deleted.
        """
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
                if before_delete is not None:
                    before_delete(ids)
                session.execute(sa.delete(m).where(m.id.in_(ids), *cond))
            session.commit()
        except BaseException:
            session.rollback()
            raise
        return ids

    def list(self, user_id: t.Any, now: dt.datetime) -> list[t.Any]:
        """Live sessions, most recently active first. The secret's hash is not
        loaded at all, and reading it raises instead of querying for it."""
        m = self.model
        stmt = (
            sa.select(m)
            .options(defer(m.secret_hash, raiseload=True))
            .where(m.user_id == user_id, m.expires_at > now)
            .order_by(
                sa.func.coalesce(m.last_active_at, m.created_at).desc(),
                m.created_at.desc(),
            )
        )
        return list(self.db.session.execute(stmt).scalars())

    def cleanup(self, now: dt.datetime, batch_size: int) -> int:
        """Delete expired rows in batches so a huge backlog never locks the table long."""
        session = self.db.session
        m = self.model
        total = 0
        while True:
            try:
                ids = list(session.execute(sa.select(m.id).where(m.expires_at <= now).limit(batch_size)).scalars())
                if ids:
                    session.execute(sa.delete(m).where(m.id.in_(ids), m.expires_at <= now))
                session.commit()
            except BaseException:
                session.rollback()
                raise
            total += len(ids)
            if len(ids) < batch_size:
                return total


class _Prepared(t.NamedTuple):
    """A statement compiled once for one dialect: SQL text plus value converters."""

    sql: str
    positional: tuple[str, ...] | None  # parameter order for ``?``-style drivers
    binds: dict[str, t.Callable[[t.Any], t.Any]]
    results: tuple[t.Callable[[t.Any], t.Any] | None, ...]

    @classmethod
    def compile(cls, stmt: sa.Executable, dialect: sa.Dialect) -> _Prepared:
        compiled = t.cast(sa.sql.compiler.SQLCompiler, t.cast(sa.ClauseElement, stmt).compile(dialect=dialect))
        binds: dict[str, t.Callable[[t.Any], t.Any]] = {}
        for name, bind in compiled.binds.items():
            processor = bind.type.dialect_impl(dialect).bind_processor(dialect)
            if processor is not None:
                binds[name] = processor
        results: tuple[t.Callable[[t.Any], t.Any] | None, ...] = ()
        if isinstance(stmt, sa.Select):
            results = tuple(_result_processor(col.type, dialect) for col in stmt.selected_columns)
        positional = tuple(compiled.positiontup) if compiled.positiontup else None
        return cls(str(compiled), positional, binds, results)

    def params(self, values: dict[str, t.Any]) -> t.Any:
        binds = self.binds
        converted = {k: binds[k](v) if k in binds else v for k, v in values.items()}
        if self.positional is not None:
            return tuple(converted[name] for name in self.positional)
        return converted

    def row(self, raw: t.Sequence[t.Any]) -> tuple[t.Any, ...]:
        return tuple(v if p is None or v is None else p(v) for p, v in zip(self.results, raw, strict=True))


class _Reader:
    """Runs the hot path's statements on autocommit DBAPI connections.

    A private pool (same creator and options as the app's engine) hands out
    connections that were switched to autocommit once, when they were opened.
    A read is then exactly one statement on the wire, with no BEGIN/ROLLBACK,
    no per-request isolation switching, and no ORM or Core result machinery:
    the statements were compiled once and their result values go through the
    column types' own converters (so timestamps come back aware UTC).

    When the engine has cursor listeners (query recording, APM, tests
    counting statements) the same SQL runs through a Core connection instead,
    so those listeners see every statement. In-memory SQLite has no second
    connection to the same database, so it always takes that path.
    """

    def __init__(self, engine: Engine, statements: dict[str, sa.Executable]) -> None:
        self.engine = engine
        dialect = engine.dialect
        self.prepared = {name: _Prepared.compile(stmt, dialect) for name, stmt in statements.items()}
        self.pool: sa.pool.Pool | None = None
        if not _in_memory(engine):
            pool = engine.pool.recreate()
            sa.event.listen(pool, "connect", lambda conn, _record: dialect.set_isolation_level(conn, "AUTOCOMMIT"))
            self.pool = pool
            sa.event.listen(engine, "engine_disposed", lambda _engine: pool.dispose())

    def _listened(self) -> bool:
        dispatch = self.engine.dispatch
        return bool(dispatch.before_cursor_execute or dispatch.after_cursor_execute)

    def fetch(self, name: str, values: dict[str, t.Any]) -> tuple[t.Any, ...] | None:
        """Run a SELECT; its first row with converted values, or ``None``."""
        prepared = self.prepared[name]
        raw = self._execute(prepared, prepared.params(values), fetch=True)
        return None if raw is None else prepared.row(raw)

    def write(self, name: str, values: dict[str, t.Any]) -> int:
        """Run an UPDATE (committed on its own); how many rows it matched."""
        prepared = self.prepared[name]
        return int(self._execute(prepared, prepared.params(values), fetch=False))

    def _execute(self, prepared: _Prepared, params: t.Any, *, fetch: bool) -> t.Any:
        """Run once; after a disconnect (the server restarted while the pool held
        connections) run once more on a fresh connection. Safe because every
        hot-path statement is idempotent: a read, or an UPDATE to fixed values."""
        try:
            return self._execute_once(prepared, params, fetch=fetch)
        except sa.exc.DBAPIError as exc:
            if not exc.connection_invalidated:
                raise
            return self._execute_once(prepared, params, fetch=fetch)

    def _execute_once(self, prepared: _Prepared, params: t.Any, *, fetch: bool) -> t.Any:
        if self.pool is None or self._listened():
            with self.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
                result = conn.exec_driver_sql(prepared.sql, params)
                return result.fetchone() if fetch else result.rowcount
        error = self.engine.dialect.loaded_dbapi.Error
        try:
            connection = self.pool.connect()
        except error as exc:
            self.engine.pool.dispose()  # the server is unreachable: its idle connections are dead too
            raise sa.exc.DBAPIError.instance(prepared.sql, params, exc, error) from exc
        try:
            cursor = connection.cursor()
            cursor.execute(prepared.sql, params)
            value = cursor.fetchone() if fetch else cursor.rowcount
            cursor.close()
            return value
        except error as exc:
            # Like Core: drop the broken connection and, on a disconnect, the
            # idle ones of both pools too (the server went away), so the next
            # request reconnects instead of failing on another dead connection.
            disconnect = self.engine.dialect.is_disconnect(exc, connection.dbapi_connection, None)
            connection.invalidate(exc)
            if disconnect:
                self.pool.dispose()
                self.engine.pool.dispose()
            raise sa.exc.DBAPIError.instance(
                prepared.sql, params, exc, error, connection_invalidated=disconnect
            ) from exc
        finally:
            connection.close()


def _result_processor(type_: t.Any, dialect: sa.Dialect) -> t.Callable[[t.Any], t.Any] | None:
    """The column type's own result converter; for the session timestamps on
    SQLite (text written by SQLAlchemy in ISO format, always UTC) a direct
    ``fromisoformat`` that does the same in a fraction of the time."""
    if dialect.name == "sqlite" and isinstance(type_, UTCDateTime):
        return _sqlite_utc
    return t.cast(t.Callable[[t.Any], t.Any] | None, type_.dialect_impl(dialect).result_processor(dialect, None))


def _sqlite_utc(value: str) -> dt.datetime:
    return _fromisoformat(value).replace(tzinfo=dt.timezone.utc)


def _loaded(manager: t.Any, items: t.Iterable[tuple[str, t.Any]]) -> t.Any:
    """A new instance whose attributes hold ``items`` as loaded (unmodified)
    values: what the ORM's own row loader does, filling the instance dict
    directly instead of going through the constructor's change events."""
    obj = manager.new_instance()
    obj.__dict__.update(items)
    return obj


def _in_memory(engine: Engine) -> bool:
    url = engine.url
    if url.get_backend_name() != "sqlite":
        return False
    database = url.database or ""
    return database in ("", ":memory:") or "mode=memory" in database or "mode=memory" in str(url.query)
