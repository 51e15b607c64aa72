"""Redis secondary storage against the real Redis (``SESSIONAUTH_TEST_REDIS``),
in front of SQLite and of PostgreSQL, each test under its own key prefix."""

from __future__ import annotations

import datetime as dt
import typing as t

import pytest
import sqlalchemy as sa
import time_machine
from flask import Flask

from flask_sessionauth import StorageUnavailable
from flask_sessionauth.storage.redis import TOMBSTONE
from flask_sessionauth.storage.redis_scripts import REFRESH
from flask_sessionauth.storage.sql import SQLStore
from tests.conftest import REDIS_MODES
from tests.conftest import User
from tests.conftest import create_app
from tests.conftest import database_url
from tests.conftest import db
from tests.conftest import dispose
from tests.helpers import PASSWORD
from tests.helpers import RoundTrips
from tests.helpers import cookie_name
from tests.helpers import device
from tests.helpers import login
from tests.helpers import session_cookie
from tests.helpers import store_of

pytestmark = pytest.mark.storage(*REDIS_MODES)
#: Nothing listens on port 1: connection refused, at once.
DEAD_REDIS = "redis://127.0.0.1:1/0"


def entry_key(app: Flask, session_id: str) -> str:
    """The Redis key of a session's cached copy."""
    return str(store_of(app).key(session_id))


def test_login_writes_through_and_requests_skip_sql(
    app: Flask, client: t.Any, user: t.Any, redis_client: t.Any, count_sql: t.Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    sid = login(client)
    assert redis_client.exists(entry_key(app, sid))
    assert redis_client.sismember(store_of(app).user_key(user.id), sid)
    with count_sql() as sql, RoundTrips().watch(monkeypatch) as trips:
        assert client.get("/whoami").json == {"user_id": user.id}
    assert sql.statements == []
    assert trips.count == 1


def test_entry_lives_as_long_as_the_session(app: Flask, client: t.Any, user: t.Any, redis_client: t.Any) -> None:
    sid = login(client)
    ttl = redis_client.pttl(entry_key(app, sid)) / 1000
    assert 7 * 86400 - 60 < ttl <= 7 * 86400


def test_miss_reads_database_once_then_caches(
    app: Flask, client: t.Any, user: t.Any, redis_client: t.Any, count_sql: t.Any
) -> None:
    sid = login(client)
    redis_client.delete(entry_key(app, sid))
    with count_sql() as sql:
        assert client.get("/whoami").json == {"user_id": user.id}
    assert len(sql.reads) == 1 and sql.writes == []
    assert redis_client.exists(entry_key(app, sid))
    with count_sql() as sql:
        client.get("/whoami")
    assert sql.statements == []


def test_revocation_is_immediate_on_every_app_server(
    app: Flask, client: t.Any, second_client: t.Any, user: t.Any, redis_client: t.Any
) -> None:
    """Two app processes sharing the database and Redis: a revoke on one is
    seen by the other's very next request."""
    sid = login(client)
    other_server = create_app(dict(app.config))
    try:
        other_client = device(other_server)
        other_client.set_cookie(cookie_name(app), session_cookie(client, app))
        assert other_client.get("/whoami").json == {"user_id": user.id}
        login(second_client)
        with app.test_request_context():
            assert app.extensions["sessionauth"].revoke_session(sid, user) is True
        assert redis_client.get(entry_key(app, sid)) == TOMBSTONE
        assert other_client.get("/whoami").json == {"user_id": None}
        assert client.get("/whoami").json == {"user_id": None}
        assert second_client.get("/whoami").json == {"user_id": user.id}
    finally:
        dispose(other_server)


def test_late_populate_cannot_resurrect_a_revoked_session(
    app: Flask, client: t.Any, user: t.Any, redis_client: t.Any
) -> None:
    """The race: a reader misses the cache and reads the row; a revoke deletes
    row and entry; then the reader stores its copy. The tombstone wins."""
    sid = login(client)
    store = store_of(app)
    redis_client.delete(entry_key(app, sid))
    with app.app_context():
        stale = SQLStore.load(store, sid)  # the reader's database read
        assert stale is not None
        assert app.extensions["sessionauth"].revoke_session(sid, user) is True
        store._populate(stale)  # the reader's late write
    assert redis_client.get(entry_key(app, sid)) == TOMBSTONE
    assert client.get("/whoami").json == {"user_id": None}


def test_refresh_cannot_overwrite_a_tombstone(app: Flask, client: t.Any, user: t.Any, redis_client: t.Any) -> None:
    sid = login(client)
    store = store_of(app)
    with app.app_context():
        record = store.load(sid)
        assert app.extensions["sessionauth"].revoke_session(sid, user) is True
        store._refresh_entry(record)
    assert redis_client.get(entry_key(app, sid)) == TOMBSTONE


def test_extend_updates_database_and_cache(
    app: Flask, client: t.Any, user: t.Any, redis_client: t.Any, count_sql: t.Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    sid = login(client)
    store_of(app).client.script_load(REFRESH)  # on every node: a cold node's NOSCRIPT retry is not the point
    later = dt.datetime.now(dt.timezone.utc) + dt.timedelta(days=2)
    with time_machine.travel(later, tick=False):
        with count_sql() as sql, RoundTrips().watch(monkeypatch) as trips:
            assert client.get("/whoami").json == {"user_id": user.id}
        assert len(sql.writes) == 1 and sql.reads == []
        assert trips.count == 2  # the read, then one scripted refresh
        cached = store_of(app).load(sid)
        assert cached.expires_at == later + dt.timedelta(days=7)
        with count_sql() as sql:
            client.get("/whoami")
        assert sql.statements == []
    with app.app_context():
        row = db.session.get(app.extensions["sessionauth"].session_model, sid)
        assert row.expires_at == later + dt.timedelta(days=7)


def test_deactivating_a_user_purges_the_cache(app: Flask, client: t.Any, user: t.Any, redis_client: t.Any) -> None:
    sid = login(client)
    with app.app_context():
        u = db.session.get(User, user.id)
        u.is_active = False
        db.session.commit()
    assert redis_client.get(entry_key(app, sid)) == TOMBSTONE
    assert client.get("/whoami").json == {"user_id": None}


def test_deleting_a_user_purges_the_cache(app: Flask, client: t.Any, user: t.Any, redis_client: t.Any) -> None:
    sid = login(client)
    with app.app_context():
        db.session.delete(db.session.get(User, user.id))
        db.session.commit()
    assert redis_client.get(entry_key(app, sid)) == TOMBSTONE
    assert not redis_client.exists(store_of(app).user_key(user.id))
    assert client.get("/whoami").json == {"user_id": None}


def test_bulk_sql_then_revoke_sessions_purges_the_cache(
    app: Flask, client: t.Any, second_client: t.Any, user: t.Any, redis_client: t.Any
) -> None:
    """A raw SQL delete bypasses the cache (documented); ``revoke_sessions`` afterwards
    retires every copy the user index knows, even for rows that are already gone."""
    login(client)
    login(second_client)
    with app.app_context():
        db.session.execute(sa.text("DELETE FROM user_session"))
        db.session.commit()
    assert client.get("/whoami").json == {"user_id": user.id}  # the cached copy, as documented
    with app.app_context():
        assert app.extensions["sessionauth"].revoke_sessions(db.session.get(User, user.id)) == 0
    assert client.get("/whoami").json == {"user_id": None}
    assert second_client.get("/whoami").json == {"user_id": None}


@pytest.mark.parametrize("later", [dt.timedelta(minutes=6), dt.timedelta(days=1, minutes=1)], ids=["touch", "extend"])
def test_a_write_that_matches_no_row_rejects_and_drops_the_copy(
    app: Flask, client: t.Any, user: t.Any, redis_client: t.Any, later: dt.timedelta
) -> None:
    """The row went behind Redis's back (plain SQL, or a revoke that wrote its
    tombstones elsewhere): the next activity stamp (touch) or refresh (extend)
    finds no row, so the session is over and its cached copy goes with it."""
    t0 = dt.datetime(2030, 2, 3, 8, 0, tzinfo=dt.timezone.utc)
    with time_machine.travel(t0, tick=False) as clock:
        sid = login(client)
        assert client.get("/whoami").json == {"user_id": user.id}
        with app.app_context():
            db.session.execute(sa.text("DELETE FROM user_session"))
            db.session.commit()
        clock.shift(later)  # a write is due: the cached copy is older than the resolution
        assert client.get("/whoami").json == {"user_id": None}
        assert redis_client.get(entry_key(app, sid)) in (None, TOMBSTONE)
        assert not redis_client.sismember(store_of(app).user_key(user.id), sid)


def test_logout_and_rotation_tombstone_the_old_id(app: Flask, client: t.Any, user: t.Any, redis_client: t.Any) -> None:
    sid = login(client)
    new_sid = login(client)  # signing in again replaces the session
    assert redis_client.get(entry_key(app, sid)) == TOMBSTONE
    client.post("/test/logout")
    assert redis_client.get(entry_key(app, new_sid)) == TOMBSTONE


@pytest.fixture
def dead_redis_app(backend: str, tmp_path: t.Any, request: pytest.FixtureRequest) -> t.Iterator[Flask]:
    fallback = getattr(request, "param", "database")
    app = create_app(
        {
            "SQLALCHEMY_DATABASE_URI": database_url(backend, tmp_path),
            "SESSIONAUTH_REDIS_URL": DEAD_REDIS,
            "SESSIONAUTH_REDIS_FALLBACK": fallback,
        }
    )
    with app.app_context():
        db.drop_all()
        db.create_all()
        app.extensions["sessionauth"].create_user("alice@example.com", PASSWORD)
    yield app
    dispose(app, drop=True)


def test_redis_down_falls_back_to_the_database(dead_redis_app: Flask) -> None:
    client = device(dead_redis_app)
    login(client)  # caching the new session fails quietly: the row is the truth
    assert client.get("/whoami").json["user_id"] is not None
    # Revoking needs Redis (a returning Redis must not hold a live copy): refused, nothing deleted.
    resp = client.post("/test/logout")
    assert resp.status_code == 503
    assert client.get("/whoami").json["user_id"] is not None


def signed_in_elsewhere(app: Flask) -> t.Any:
    """A client of ``app`` whose session was created while Redis was up."""
    healthy = create_app({"SQLALCHEMY_DATABASE_URI": app.config["SQLALCHEMY_DATABASE_URI"]})
    signed_in = device(healthy)
    login(signed_in)
    client = device(app)
    client.set_cookie(cookie_name(healthy), session_cookie(signed_in, healthy))
    dispose(healthy)
    return client


@pytest.mark.parametrize("dead_redis_app", ["fail"], indirect=True)
def test_redis_down_can_fail_closed(dead_redis_app: Flask) -> None:
    client = signed_in_elsewhere(dead_redis_app)
    resp = client.get("/whoami")
    assert resp.status_code == 503
    assert resp.headers["Retry-After"]


def test_bad_fallback_setting_is_refused(tmp_path: t.Any) -> None:
    with pytest.raises(ValueError):
        create_app({"SESSIONAUTH_REDIS_URL": DEAD_REDIS, "SESSIONAUTH_REDIS_FALLBACK": "open"})


def test_management_calls_surface_redis_outage(dead_redis_app: Flask) -> None:
    client = signed_in_elsewhere(dead_redis_app)
    auth = dead_redis_app.extensions["sessionauth"]
    with dead_redis_app.test_request_context():
        user = db.session.execute(sa.select(User)).scalar_one()
        with pytest.raises(StorageUnavailable):
            auth.revoke_sessions(user)
        assert len(auth.list_sessions(user)) == 1  # nothing was deleted
    assert client.get("/whoami").json["user_id"] == user.id
