"""The SQL store on SQLite and PostgreSQL: what goes over the wire, and time zones.

Statement counts here are taken below SQLAlchemy: SQLite's own trace
callback and libpq's protocol trace (every message the client sends), so a
hidden BEGIN/ROLLBACK or an extra round trip cannot go unnoticed.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import typing as t

import pytest
import sqlalchemy as sa
import time_machine
from flask import Flask

from flask_sessionauth.storage.model import UTCDateTime
from tests.conftest import create_app
from tests.conftest import database_url
from tests.conftest import db
from tests.conftest import dispose
from tests.helpers import PASSWORD
from tests.helpers import UTC
from tests.helpers import login
from tests.helpers import store_of


@contextlib.contextmanager
def wire(app: Flask, tmp_path: t.Any) -> t.Iterator[list[str]]:
    """Every statement the app's connections send while the block runs.

    Listens on both pools (the app's engine and the store's autocommit
    pool) and records at the driver level: SQLite's trace callback (which
    also reports the BEGIN/COMMIT the driver issues), libpq's protocol trace
    for PostgreSQL (each ``Query``/``Execute`` message is one statement).
    """
    with app.app_context():
        engine = db.engine
        reader = store_of(app)._reader()
        pools = [engine.pool, reader.pool]
    # Threads keep their hot-path connection (checked out once): start from
    # none, so the block's statements open (and trace) fresh ones.
    reader.dispose()
    sent: list[str] = []
    trace_file = tmp_path / "libpq.trace"
    handle = open(trace_file, "w")  # noqa: SIM115 - closed below, after the listeners are gone

    def on_checkout(dbapi_conn: t.Any, record: t.Any, proxy: t.Any) -> None:
        if engine.dialect.name == "sqlite":
            dbapi_conn.set_trace_callback(sent.append)
        else:
            from psycopg import pq

            dbapi_conn.pgconn.trace(handle.fileno())
            dbapi_conn.pgconn.set_trace_flags(pq.Trace.SUPPRESS_TIMESTAMPS | pq.Trace.REGRESS_MODE)

    def on_checkin(dbapi_conn: t.Any, record: t.Any) -> None:
        if dbapi_conn is None:
            return
        if engine.dialect.name == "sqlite":
            dbapi_conn.set_trace_callback(None)
        else:
            dbapi_conn.pgconn.untrace()

    for pool in pools:
        if pool is not None:
            sa.event.listen(pool, "checkout", on_checkout)
            sa.event.listen(pool, "checkin", on_checkin)
    try:
        yield sent
    finally:
        reader.dispose()  # closes the traced thread connections before the trace file
        for pool in pools:
            if pool is not None:
                sa.event.remove(pool, "checkout", on_checkout)
                sa.event.remove(pool, "checkin", on_checkin)
        handle.close()
        for line in trace_file.read_text().splitlines():
            fields = line.split("\t")
            if fields[0] == "F" and fields[2] in ("Query", "Execute"):
                sent.append(line)
            elif fields[0] == "F" and fields[2] == "Parse":
                sent.append("-- parse: " + fields[3])


def statements(sent: list[str]) -> list[str]:
    return [s for s in sent if not s.startswith("-- parse")]


def test_hot_path_read_is_one_statement_on_the_wire(app: Flask, client: t.Any, user: t.Any, tmp_path: t.Any) -> None:
    login(client)
    client.get("/whoami")  # the store's autocommit pool exists now
    with wire(app, tmp_path) as sent:
        assert client.get("/whoami").json == {"user_id": user.id}
    text = "\n".join(sent).upper()
    assert len(statements(sent)) == 1, sent
    assert "BEGIN" not in text and "ROLLBACK" not in text and "COMMIT" not in text
    assert "SELECT" in text or "EXECUTE" in text


def test_me_is_one_statement_on_the_wire(app: Flask, client: t.Any, user: t.Any, tmp_path: t.Any) -> None:
    """The user's columns come with the session read (``current_user`` costs no statement)."""
    login(client)
    client.get("/me")
    with wire(app, tmp_path) as sent:
        assert client.get("/me").json == {"email": "alice@example.com"}
    assert len(statements(sent)) == 1, sent
    assert "BEGIN" not in "\n".join(sent).upper()


def test_refresh_write_is_one_statement_on_the_wire(app: Flask, client: t.Any, user: t.Any, tmp_path: t.Any) -> None:
    login(client)
    client.get("/whoami")
    with time_machine.travel(dt.datetime.now(UTC) + dt.timedelta(days=1, minutes=1), tick=False):
        with wire(app, tmp_path) as sent:
            assert client.get("/whoami").json == {"user_id": user.id}
    # One read and one autocommitted UPDATE: no BEGIN/COMMIT pair around it.
    assert len(statements(sent)) == 2, sent
    assert "BEGIN" not in "\n".join(sent).upper()


def test_timestamps_are_aware_utc(app: Flask, client: t.Any, user: t.Any, backend: str) -> None:
    before = dt.datetime.now(UTC)
    sid = login(client)
    with app.app_context():
        row = db.session.get(app.extensions["sessionauth"].session_model, sid)
        for value in (row.expires_at, row.created_at, row.updated_at, row.last_active_at):
            assert value.utcoffset() == dt.timedelta(0)
        assert before <= row.created_at <= dt.datetime.now(UTC)
        record = store_of(app).load(sid)
        assert record.expires_at == row.expires_at
        raw = db.session.execute(sa.text("SELECT expires_at FROM user_session")).scalar_one()
        if backend == "postgres":
            assert raw == row.expires_at  # timestamptz: an absolute instant
        else:
            assert str(raw).startswith(row.expires_at.replace(tzinfo=None).isoformat(" ")[:19])


@pytest.mark.skip_storage("sqlite", reason="SQLite has no session time zone")
def test_database_session_time_zone_does_not_matter(backend: str, tmp_path: t.Any, user: t.Any) -> None:
    """A PostgreSQL session in another zone reads and writes the same instants."""
    app = create_app(
        {
            "SQLALCHEMY_DATABASE_URI": database_url(backend, tmp_path),
            "SQLALCHEMY_ENGINE_OPTIONS": {"connect_args": {"options": "-c timezone=Pacific/Kiritimati"}},
        }
    )
    client = app.test_client()
    before = dt.datetime.now(UTC)
    sid = login(client)
    assert client.get("/whoami").json["user_id"] == user.id
    with app.app_context():
        record = store_of(app).load(sid)
        assert record.expires_at.utcoffset() == dt.timedelta(0)
        assert dt.timedelta(days=7) <= record.expires_at - before <= dt.timedelta(days=7, minutes=1)
    dispose(app)


def test_naive_datetimes_are_refused() -> None:
    with pytest.raises(ValueError):
        UTCDateTime().process_bind_param(dt.datetime(2030, 1, 1), sa.create_engine("sqlite://").dialect)


def thread_reader(app: Flask) -> t.Any:
    """The hot path's ``Reader`` of ``app`` (skip where in-memory SQLite has none of its own)."""
    with app.app_context():
        reader = store_of(app)._reader()
    if reader.pool is None:
        pytest.skip("in-memory SQLite reads through the engine")
    return reader


def test_dispose_closes_the_pool_connections(app: Flask, client: t.Any, user: t.Any) -> None:
    """The hot path's pool keeps its idle connections between requests;
    ``engine.dispose()`` closes them (no "too many clients")."""
    login(client)
    client.get("/whoami")
    slots = thread_reader(app).slots
    (idle,) = slots.idle
    conn = idle.conn
    with app.app_context():
        db.engine.dispose()
    assert idle.conn is None and slots.idle == [] and slots.opened == 0
    with pytest.raises(Exception, match="(?i)closed"):
        conn.cursor().execute("SELECT 1")
    assert client.get("/whoami").json == {"user_id": user.id}  # reconnects
    assert len(slots.idle) == 1 and slots.opened == 1


def test_threads_in_turn_share_one_connection(app: Flask, client: t.Any, user: t.Any) -> None:
    """A connection is lent for one statement, not kept by a thread: threads
    that serve requests one after another all use the same one, and none
    stays with a thread after its request (issue 15, item 3)."""
    import threading

    login(client)
    slots = thread_reader(app).slots
    seen: list[int] = []

    def worker() -> None:
        for _ in range(3):
            assert client.get("/whoami").json == {"user_id": user.id}
        seen.append(len(slots.idle))

    for _ in range(3):
        thread = threading.Thread(target=worker)
        thread.start()
        thread.join()
    assert seen == [1, 1, 1] and slots.opened == 1


def test_forked_child_forgets_the_parents_connections(app: Flask, client: t.Any, user: t.Any) -> None:
    """After a fork the child must neither use nor close the parent's sockets."""
    login(client)
    client.get("/whoami")
    reader = thread_reader(app)
    (idle,) = reader.slots.idle
    conn = idle.conn
    reader.dispose(close=False)  # what the at-fork hook runs in the child
    assert reader.slots.idle == [] and reader.slots.opened == 0
    with contextlib.closing(conn.cursor()) as cursor:  # not closed: still the parent's to use
        cursor.execute("SELECT 1")
    assert client.get("/whoami").json == {"user_id": user.id}
    assert reader.slots.idle[0].conn is not conn
    conn.close()


def test_a_driver_error_drops_the_connection(app: Flask, client: t.Any, user: t.Any) -> None:
    login(client)
    client.get("/whoami")
    reader = thread_reader(app)
    (idle,) = reader.slots.idle
    with app.app_context():
        with pytest.raises(sa.exc.DBAPIError):
            reader.run("broken", lambda: sa.text("SELECT * FROM no_such_table"), {}, fetch=True)
    assert idle.conn is None and reader.slots.idle == [] and reader.slots.opened == 0
    assert client.get("/whoami").json == {"user_id": user.id}


def test_in_memory_sqlite_uses_the_engine_connection() -> None:
    """``sqlite://`` is one database per connection: the store must read it
    through the engine's own pool, not a second connection."""
    app = create_app({"SQLALCHEMY_DATABASE_URI": "sqlite://"})
    with app.app_context():
        db.create_all()
        app.extensions["sessionauth"].create_user("mem@example.com", PASSWORD)
        assert store_of(app)._reader().pool is None
    client = app.test_client()
    login(client, "mem@example.com")
    assert client.get("/whoami").json["user_id"] is not None
    dispose(app)


def test_sqlite_timestamp_fast_path_matches_the_type_and_falls_back() -> None:
    """Trick #3: SQLite's text timestamps convert with one ``fromisoformat``;
    text SQLAlchemy did not write (an offset, a ``T``) still parses right."""
    import datetime as dt_

    from flask_sessionauth.storage.converters import sqlite_utc

    utc = dt_.timezone.utc
    assert sqlite_utc("2026-03-01 12:00:00.000123") == dt_.datetime(2026, 3, 1, 12, 0, 0, 123, tzinfo=utc)
    assert sqlite_utc("2026-03-01 12:00:00") == dt_.datetime(2026, 3, 1, 12, tzinfo=utc)
    assert sqlite_utc("2026-03-01T14:00:00+02:00") == dt_.datetime(2026, 3, 1, 12, tzinfo=utc)
    assert sqlite_utc("2026-03-01T12:00:00Z") == dt_.datetime(2026, 3, 1, 12, tzinfo=utc)
    assert sqlite_utc("2026-03-01 12:00:00").tzinfo is utc
