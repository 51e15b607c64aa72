"""The hot path's SQL: statements compiled once, run on autocommit connections
of a small bounded pool.

A read is exactly one statement on the wire (no BEGIN/ROLLBACK, no ORM or
Core result machinery); see :class:`Reader`. Only :mod:`.sql` uses this.
"""

from __future__ import annotations

import os
import typing as t
import weakref

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from .converters import params_function
from .converters import result_processor
from .converters import row_function
from .pool import Slots


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


class Reader:
    """Runs the hot path's statements on autocommit DBAPI connections.

    The connections come from :class:`Slots`, a private pool of
    ``pool_size`` (``SESSIONAUTH_POOL_SIZE``), lent for one statement at a
    time: a process never holds more than the app pool's limit plus this
    one, however many threads or greenlets serve requests. They are opened by
    a copy of the engine's pool (same creator, options and ``connect``
    listeners, so the driver is set up the same way), switched to autocommit
    and detached from it. A read is then exactly one statement on the wire,
    with no BEGIN/ROLLBACK and no ORM or Core result machinery: the
    statements were compiled once and their result values go through the
    column types' own converters.

    A connection is closed after a driver error (after a disconnect, the
    idle ones and the app pool's too); all of them by ``engine.dispose()``,
    and forgotten, unclosed, in a forked child (the parent owns those
    sockets).

    When the engine has cursor listeners (query recording, APM, tests
    counting statements) the same SQL runs through a Core connection instead,
    so those listeners see every statement. In-memory SQLite has no second
    connection to the same database, so it always takes that path.
    """

    def __init__(self, engine: Engine, statements: dict[str, sa.Executable], pool_size: int = 5) -> None:
        self.engine = engine
        dialect = engine.dialect
        self.prepared = {name: Prepared.compile(stmt, dialect) for name, stmt in statements.items()}
        self.pool: sa.pool.Pool | None = None  # opens the connections (never holds them)
        self.slots: Slots | None = None
        self._error: type[Exception] = dialect.loaded_dbapi.Error
        if not _in_memory(engine):
            pool = engine.pool.recreate()
            sa.event.listen(pool, "connect", lambda conn, _record: dialect.set_isolation_level(conn, "AUTOCOMMIT"))
            self.pool = pool
            # Wait for a connection as long as the app's pool would.
            timeout = engine.pool.timeout() if isinstance(engine.pool, sa.pool.QueuePool) else 30.0
            self.slots = Slots(self._open, pool_size, timeout)
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
        """Close the idle connections (lent ones when they come back);
        ``close=False`` (a forked child) forgets them all without touching
        the parent's sockets."""
        if self.slots is None:
            return
        if close:
            self.slots.dispose()
        else:
            self.slots.forget()

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

    def _open(self) -> t.Any:
        """A new autocommit DBAPI connection, detached from the opening pool."""
        assert self.pool is not None
        try:
            fairy = self.pool.connect()
        except self._error as exc:
            self.engine.pool.dispose()  # the server is unreachable: its idle connections are dead too
            raise sa.exc.DBAPIError.instance(None, None, exc, self._error) from exc
        fairy.detach()
        return fairy.dbapi_connection

    def _execute_once(self, prepared: Prepared, params: t.Any, *, fetch: bool) -> t.Any:
        slots = self.slots
        if slots is None or self._listened():
            with self.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
                result = conn.exec_driver_sql(prepared.sql, params)
                return result.fetchone() if fetch else result.rowcount
        lent = slots.get()
        connection = lent.conn
        try:
            cursor = connection.cursor()
            cursor.execute(prepared.sql, params)
            value = cursor.fetchone() if fetch else cursor.rowcount
            cursor.close()
        except self._error as exc:
            # Like Core: drop the broken connection and, on a disconnect, the
            # idle ones and the app pool's too (the server went away), so the
            # next request reconnects instead of failing again.
            disconnect = self.engine.dialect.is_disconnect(t.cast(t.Any, exc), connection, None)
            slots.discard(lent)
            if disconnect:
                self.dispose()
                self.engine.pool.dispose()
            raise sa.exc.DBAPIError.instance(
                prepared.sql, params, exc, self._error, connection_invalidated=disconnect
            ) from exc
        except BaseException:
            slots.discard(lent)  # interrupted mid-statement: its state is unknown
            raise
        slots.put(lent)
        return value


def _in_memory(engine: Engine) -> bool:
    url = engine.url
    if url.get_backend_name() != "sqlite":
        return False
    database = url.database or ""
    return database in ("", ":memory:") or "mode=memory" in database or "mode=memory" in str(url.query)
