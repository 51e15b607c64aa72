"""Work per authenticated request, by storage mode: SQL statements and Redis round trips.

Performance is asserted by counts, never by times. Modes: the database alone,
Redis secondary storage, and the cookie cache, each on SQLite and PostgreSQL.
"""

from __future__ import annotations

import datetime as dt
import typing as t

import pytest
import time_machine
from flask import Flask
from redis.commands.core import Script

from tests.conftest import STORAGE_MODES
from tests.helpers import UTC
from tests.helpers import RoundTrips
from tests.helpers import login

pytestmark = pytest.mark.storage(
    "sqlite", "postgres", "redis", "redis_postgres", "cookie_cache", "cookie_cache_postgres"
)
T0 = dt.datetime(2030, 3, 4, 9, 0, tzinfo=UTC)


@pytest.fixture
def mode(storage: str) -> str:
    """What serves a signed-in request: ``database``, ``redis`` or ``cookie_cache``."""
    tier = STORAGE_MODES[storage]
    return "redis" if tier.redis else "cookie_cache" if tier.cookie_cache else "database"


def test_ordinary_request(
    mode: str, client: t.Any, user: t.Any, count_sql: t.Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    with time_machine.travel(T0, tick=False):
        login(client)
        with count_sql() as sql, RoundTrips().watch(monkeypatch) as trips:
            assert client.get("/whoami").json == {"user_id": user.id}
    assert sql.writes == []
    if mode == "database":
        assert len(sql.reads) == 1 and len(sql.statements) == 1
        assert trips.count == 0
    elif mode == "redis":
        assert sql.statements == []
        assert trips.count == 1
    else:
        assert sql.statements == []
        assert trips.count == 0


def test_current_user_costs_no_more_reads_than_the_session(
    mode: str, client: t.Any, user: t.Any, count_sql: t.Any
) -> None:
    """``/me`` is one statement: the user's columns are joined into the
    session read; a session served without SQL (Redis, the cookie cache)
    costs one read for the user."""
    with time_machine.travel(T0, tick=False):
        login(client)
        with count_sql() as sql:
            assert client.get("/me").json == {"email": "alice@example.com"}
    assert len(sql.reads) == 1
    assert sql.writes == []


def load_scripts(app: Flask) -> None:
    """Put the Redis store's scripts in the server's script cache, as any earlier
    use would have: on a fresh server the first call costs two more round trips
    (EVALSHA answered NOSCRIPT, then SCRIPT LOAD), which is not what is counted."""
    store = app.extensions["sessionauth.state"].store
    for script in vars(store).values():
        if isinstance(script, Script):
            script.registered_client.script_load(script.script)


def test_refresh_day_writes_once(
    app: Flask, mode: str, client: t.Any, user: t.Any, count_sql: t.Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    if mode == "redis":
        load_scripts(app)
    with time_machine.travel(T0, tick=False) as traveller:
        login(client)
        traveller.shift(dt.timedelta(days=1, minutes=1))
        with count_sql() as sql, RoundTrips().watch(monkeypatch) as trips:
            resp = client.get("/whoami")
        assert resp.json == {"user_id": user.id}
        assert len(sql.writes) == 1 and sql.writes[0].lstrip().upper().startswith("UPDATE")
        assert "Set-Cookie" in resp.headers  # the slid expiry goes to the browser
        if mode == "redis":
            assert sql.reads == []  # the record came from Redis
            assert trips.count == 2  # read + refresh of the cached copy
        elif mode == "database":
            assert len(sql.reads) == 1
        # A second request the same day writes nothing.
        traveller.shift(dt.timedelta(minutes=1))
        with count_sql() as sql:
            client.get("/whoami")
        assert sql.writes == []
        if mode != "database":
            assert sql.statements == []


def test_activity_stamp_is_written_at_most_once_per_resolution(
    mode: str, client: t.Any, user: t.Any, count_sql: t.Any
) -> None:
    with time_machine.travel(T0, tick=False) as traveller:
        login(client)
        traveller.shift(dt.timedelta(seconds=301))
        with count_sql() as sql:
            client.get("/whoami")
        assert len(sql.writes) == 1
        traveller.shift(dt.timedelta(seconds=60))
        with count_sql() as sql:
            client.get("/whoami")
        assert sql.writes == []


def test_anonymous_request_touches_no_storage(
    mode: str, app: Flask, count_sql: t.Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    anonymous = app.test_client()
    with count_sql() as sql, RoundTrips().watch(monkeypatch) as trips:
        assert anonymous.get("/whoami").json == {"user_id": None}
    assert sql.statements == [] and trips.count == 0
