"""Redis secondary storage against the real Redis on 127.0.0.1:6379 (DB 15)."""

from __future__ import annotations

import contextlib
import datetime as dt
import typing as t

import pytest
import redis
import sqlalchemy as sa
import time_machine
from flask import Flask

from flask_sessionauth import StorageUnavailable
from flask_sessionauth.storage.redis import TOMBSTONE
from flask_sessionauth.storage.sql import SQLStore

from .conftest import REDIS_URL
from .conftest import User
from .conftest import cookie_name
from .conftest import create_app
from .conftest import db
from .conftest import device
from .conftest import login
from .conftest import require
from .conftest import session_cookie

#: Nothing listens on port 1: connection refused, at once.
DEAD_REDIS = "redis://127.0.0.1:1/0"


class RoundTrips:
    """Counts requests sent to Redis (a pipeline or a script is one)."""

    def __init__(self) -> None:
        self.count = 0

    @contextlib.contextmanager
    def watch(self, monkeypatch: pytest.MonkeyPatch) -> t.Iterator[RoundTrips]:
        original = redis.connection.AbstractConnection.send_packed_command

        def counted(conn: t.Any, command: t.Any, check_health: bool = True) -> t.Any:
            self.count += 1
            return original(conn, command, check_health)

        with monkeypatch.context() as m:
            m.setattr(redis.connection.AbstractConnection, "send_packed_command", counted)
            yield self


@pytest.fixture
def redis_client() -> t.Iterator[redis.Redis]:
    require("redis")
    client = redis.Redis.from_url(REDIS_URL)
    client.flushdb()
    yield client
    client.flushdb()
    client.close()


@pytest.fixture
def app_config(redis_client: redis.Redis) -> dict[str, t.Any]:
    return {"SESSIONAUTH_REDIS_URL": REDIS_URL}


def store_of(app: Flask) -> t.Any:
    return app.extensions["sessionauth"].state_for(app).store


def key(app: Flask, session_id: str) -> str:
    return str(store_of(app).key(session_id))


def test_login_writes_through_and_requests_skip_sql(app, client, user, redis_client, count_sql, monkeypatch):
    sid = login(client)
    assert redis_client.exists(key(app, sid))
    assert redis_client.sismember(store_of(app).user_key(user.id), sid)
    with count_sql() as sql, RoundTrips().watch(monkeypatch) as trips:
        assert client.get("/whoami").json == {"user_id": user.id}
    assert sql.statements == []
    assert trips.count == 1


def test_entry_lives_as_long_as_the_session(app, client, user, redis_client):
    sid = login(client)
    ttl = redis_client.pttl(key(app, sid)) / 1000
    assert 7 * 86400 - 60 < ttl <= 7 * 86400


def test_miss_reads_database_once_then_caches(app, client, user, redis_client, count_sql):
    sid = login(client)
    redis_client.delete(key(app, sid))
    with count_sql() as sql:
        assert client.get("/whoami").json == {"user_id": user.id}
    assert len(sql.reads) == 1 and sql.writes == []
    assert redis_client.exists(key(app, sid))
    with count_sql() as sql:
        client.get("/whoami")
    assert sql.statements == []


def test_revocation_is_immediate_on_every_app_server(app, client, second_client, user, redis_client):
    """Two app processes sharing the database and Redis: a revoke on one is
    seen by the other's very next request."""
    sid = login(client)
    other_server = create_app(dict(app.config))
    other_client = device(other_server)
    other_client.set_cookie(cookie_name(app), session_cookie(client, app))
    assert other_client.get("/whoami").json == {"user_id": user.id}
    login(second_client)
    with app.test_request_context():
        assert app.extensions["sessionauth"].revoke_session(sid, user) is True
    assert redis_client.get(key(app, sid)) == TOMBSTONE
    assert other_client.get("/whoami").json == {"user_id": None}
    assert client.get("/whoami").json == {"user_id": None}
    assert second_client.get("/whoami").json == {"user_id": user.id}


def test_late_populate_cannot_resurrect_a_revoked_session(app, client, user, redis_client):
    """The race: a reader misses the cache and reads the row; a revoke deletes
    row and entry; then the reader stores its copy. The tombstone wins."""
    sid = login(client)
    store = store_of(app)
    redis_client.delete(key(app, sid))
    with app.app_context():
        stale = SQLStore.load(store, sid)  # the reader's database read
        assert stale is not None
        assert app.extensions["sessionauth"].revoke_session(sid, user) is True
        store._populate(stale)  # the reader's late write
    assert redis_client.get(key(app, sid)) == TOMBSTONE
    assert client.get("/whoami").json == {"user_id": None}


def test_refresh_cannot_overwrite_a_tombstone(app, client, user, redis_client):
    sid = login(client)
    store = store_of(app)
    with app.app_context():
        record = store.load(sid)
        assert app.extensions["sessionauth"].revoke_session(sid, user) is True
        store._refresh_entry(record)
    assert redis_client.get(key(app, sid)) == TOMBSTONE


def test_extend_updates_database_and_cache(app, client, user, redis_client, count_sql, monkeypatch):
    sid = login(client)
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


def test_deactivating_a_user_purges_the_cache(app, client, user, redis_client):
    sid = login(client)
    with app.app_context():
        u = db.session.get(User, user.id)
        u.is_active = False
        db.session.commit()
    assert redis_client.get(key(app, sid)) == TOMBSTONE
    assert client.get("/whoami").json == {"user_id": None}


def test_deleting_a_user_purges_the_cache(app, client, user, redis_client):
    sid = login(client)
    with app.app_context():
        db.session.delete(db.session.get(User, user.id))
        db.session.commit()
    assert redis_client.get(key(app, sid)) == TOMBSTONE
    assert not redis_client.exists(store_of(app).user_key(user.id))
    assert client.get("/whoami").json == {"user_id": None}


def test_bulk_sql_then_revoke_sessions_purges_the_cache(app, client, second_client, user, redis_client):
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


def test_logout_and_rotation_tombstone_the_old_id(app, client, user, redis_client):
    sid = login(client)
    new_sid = login(client)  # signing in again replaces the session
    assert redis_client.get(key(app, sid)) == TOMBSTONE
    client.post("/test/logout")
    assert redis_client.get(key(app, new_sid)) == TOMBSTONE


@pytest.fixture
def dead_redis_app(backend: str, tmp_path: t.Any, request: pytest.FixtureRequest) -> t.Iterator[Flask]:
    from .conftest import database_url

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
        app.extensions["sessionauth"].create_user("alice@example.com", "correct horse battery")
    yield app
    with app.app_context():
        db.session.remove()
        db.drop_all()
        db.engine.dispose()


def test_redis_down_falls_back_to_the_database(dead_redis_app):
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
    return client


@pytest.mark.parametrize("dead_redis_app", ["fail"], indirect=True)
def test_redis_down_can_fail_closed(dead_redis_app):
    client = signed_in_elsewhere(dead_redis_app)
    resp = client.get("/whoami")
    assert resp.status_code == 503
    assert resp.headers["Retry-After"]


def test_bad_fallback_setting_is_refused(tmp_path):
    with pytest.raises(ValueError):
        create_app({"SESSIONAUTH_REDIS_URL": DEAD_REDIS, "SESSIONAUTH_REDIS_FALLBACK": "open"})


def test_management_calls_surface_redis_outage(dead_redis_app):
    client = signed_in_elsewhere(dead_redis_app)
    auth = dead_redis_app.extensions["sessionauth"]
    with dead_redis_app.test_request_context():
        user = db.session.execute(sa.select(User)).scalar_one()
        with pytest.raises(StorageUnavailable):
            auth.revoke_sessions(user)
        assert len(auth.list_sessions(user)) == 1  # nothing was deleted
    assert client.get("/whoami").json["user_id"] == user.id
