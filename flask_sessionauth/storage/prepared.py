"""The hot path's SQL: statements compiled once, run on autocommit connections.

A read is exactly one statement on the wire (no BEGIN/ROLLBACK, no ORM or
Core result machinery); see :class:`Reader`. Only :mod:`.sql` uses this.
"""

from __future__ import annotations

import contextlib
import os
import threading
import typing as t
import weakref

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from .converters import params_function
from .converters import result_processor
from .converters import row_function


class Prepared(t.NamedTuple):
    """A statement compiled once for one dialect: SQL text plus value converters
    (``params`` and ``row`` generated once, see :mod:`.converters`)."""

    sql: str
    params: t.Callable[[dict[str, t.Any]], t.Any]  # values -> the driver's parameters
    row: t.Callable[[t.Sequence[t.Any]], tuple[t.Any, ...]]  # raw row -> converted values

    @classmethod
    def compile(cls, stmt: sa.Executable, dialect: sa.Dialect, *, convert: bool = True) -> Prepared:
        compiled = t.cast(sa.sql.compiler.SQLCompiler, t.cast(sa.ClauseElement, stmt).compile(dialect=dialect))
        binds: dict[str, t.Callable[[t.Any], t.Any]] = {}
        for name, bind in compiled.binds.items():
            processor = bind.type.dialect_impl(dialect).bind_processor(dialect)
            if processor is not None:
                binds[name] = processor
        results: tuple[t.Callable[[t.Any], t.Any] | None, ...] = ()
        if convert and isinstance(stmt, sa.Select):
            results = tuple(result_processor(col.type, dialect) for col in stmt.selected_columns)
        positional = tuple(compiled.positiontup) if compiled.positiontup else None
        defaults = {name: bind.value for name, bind in compiled.binds.items() if not bind.required}
        return cls(
            str(compiled),
            params_function(tuple(compiled.binds), positional, binds, defaults),
            row_function(results),
        )


class _Held:
    """One thread's hot-path connection. Closed when the thread ends (its
    ``threading.local`` goes, and with it the last reference), after a driver
    error, or by :meth:`Reader.dispose`."""

    __slots__ = ("conn", "generation", "__weakref__")

    def __init__(self, conn: t.Any, generation: int) -> None:
        self.conn = conn
        self.generation = generation

    def close(self) -> None:
        conn, self.conn = self.conn, None
        if conn is not None:
            with contextlib.suppress(Exception):
                conn.close()

    def __del__(self) -> None:
        self.close()


class Reader:
    """Runs the hot path's statements on autocommit DBAPI connections.

    Each thread keeps one DBAPI connection of its own for these statements
    (trick #1: no pool checkout/checkin per request, ~67k instructions on
    SQLite, ~150k on PostgreSQL). It is taken once from a private pool (same
    creator and options as the app's engine, so the driver is set up the
    same way), switched to autocommit, and detached from that pool. A read is
    then exactly one statement on the wire, with no BEGIN/ROLLBACK and no ORM
    or Core result machinery: the statements were compiled once and their
    result values go through the column types' own converters.

    A thread's connection is dropped (the thread opens a new one on its next
    statement) after a driver error; all of them are closed by
    ``engine.dispose()`` (a generation counter tells threads theirs is
    stale) and forgotten, unclosed, in a forked child (the parent owns those
    sockets). It costs one database connection per thread that serves
    requests, besides the app's pool.

    When the engine has cursor listeners (query recording, APM, tests
    counting statements) the same SQL runs through a Core connection instead,
    so those listeners see every statement. In-memory SQLite has no second
    connection to the same database, so it always takes that path.
    """

    def __init__(self, engine: Engine, statements: dict[str, sa.Executable]) -> None:
        self.engine = engine
        dialect = engine.dialect
        self.prepared = {name: Prepared.compile(stmt, dialect) for name, stmt in statements.items()}
        self.pool: sa.pool.Pool | None = None
        self._local = threading.local()
        self._generation = 0
        self._held: weakref.WeakSet[_Held] = weakref.WeakSet()
        self._error: type[Exception] = dialect.loaded_dbapi.Error
        if not _in_memory(engine):
            pool = engine.pool.recreate()
            sa.event.listen(pool, "connect", lambda conn, _record: dialect.set_isolation_level(conn, "AUTOCOMMIT"))
            self.pool = pool
            ref = weakref.ref(self)

            def disposed(_engine: Engine) -> None:
                reader = ref()
                if reader is not None:
                    reader.dispose()

            def forked() -> None:
                reader = ref()
                if reader is not None:
                    reader.dispose(close=False)

            sa.event.listen(engine, "engine_disposed", disposed)
            os.register_at_fork(after_in_child=forked)

    def dispose(self, *, close: bool = True) -> None:
        """Drop every thread's connection; ``close=False`` (a forked child)
        forgets them without touching the parent's sockets."""
        self._generation += 1
        held, self._held = self._held, weakref.WeakSet()
        for holder in list(held):
            if close:
                holder.close()
            else:
                holder.conn = None
        if close and self.pool is not None:
            self.pool.dispose()

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

    def run(self, name: str, build: t.Callable[[], sa.Executable], values: dict[str, t.Any], *, fetch: bool) -> t.Any:
        """Run another statement on the same autocommit connections: compiled on
        first use under ``name``; its first raw row (``fetch``) or row count.

        The rate limiter counts here, so a request that holds an ORM
        connection never waits for a second one from the app's pool.
        """
        prepared = self.prepared.get(name)
        if prepared is None:
            prepared = self.prepared[name] = Prepared.compile(build(), self.engine.dialect, convert=False)
        return self._execute(prepared, prepared.params(values), fetch=fetch)

    def _execute(self, prepared: Prepared, params: t.Any, *, fetch: bool) -> t.Any:
        """Run once; after a disconnect (the server restarted while the pool held
        connections) run once more on a fresh connection. Safe because every
        hot-path statement is idempotent: a read, or an UPDATE to fixed values."""
        try:
            return self._execute_once(prepared, params, fetch=fetch)
        except sa.exc.DBAPIError as exc:
            if not exc.connection_invalidated:
                raise
            return self._execute_once(prepared, params, fetch=fetch)

    def _connection(self) -> _Held:
        """This thread's connection, opened (and detached from the private
        pool) on first use or when the engine was disposed since."""
        local = self._local
        held: _Held | None = getattr(local, "held", None)
        if held is not None and held.generation == self._generation and held.conn is not None:
            return held
        local.held = None
        if held is not None:
            held.close()
        assert self.pool is not None
        try:
            fairy = self.pool.connect()
        except self._error as exc:
            self.engine.pool.dispose()  # the server is unreachable: its idle connections are dead too
            raise sa.exc.DBAPIError.instance(None, None, exc, self._error) from exc
        fairy.detach()
        local.held = held = _Held(fairy.dbapi_connection, self._generation)
        self._held.add(held)
        return held

    def _execute_once(self, prepared: Prepared, params: t.Any, *, fetch: bool) -> t.Any:
        if self.pool is None or self._listened():
            with self.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
                result = conn.exec_driver_sql(prepared.sql, params)
                return result.fetchone() if fetch else result.rowcount
        held = self._connection()
        connection = held.conn
        try:
            cursor = connection.cursor()
            cursor.execute(prepared.sql, params)
            value = cursor.fetchone() if fetch else cursor.rowcount
            cursor.close()
            return value
        except self._error as exc:
            # Like Core: drop the broken connection and, on a disconnect, the
            # other threads' and the app pool's idle ones too (the server went
            # away), so the next request reconnects instead of failing again.
            disconnect = self.engine.dialect.is_disconnect(t.cast(t.Any, exc), connection, None)
            self._local.held = None
            held.close()
            if disconnect:
                self.dispose()
                self.engine.pool.dispose()
            raise sa.exc.DBAPIError.instance(
                prepared.sql, params, exc, self._error, connection_invalidated=disconnect
            ) from exc


def _in_memory(engine: Engine) -> bool:
    url = engine.url
    if url.get_backend_name() != "sqlite":
        return False
    database = url.database or ""
    return database in ("", ":memory:") or "mode=memory" in database or "mode=memory" in str(url.query)
