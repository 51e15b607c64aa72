"""Issue 15, item 1: every process of one deployment agrees on where sessions are cached.

Two app objects stand for two processes of one deployment: one database
(real PostgreSQL) reached through differently spelled URLs (``127.0.0.1`` vs
``localhost`` without a port, ``?application_name=``), one Redis, and keys
that may be rotating (new workers ``K2`` with ``SECRET_KEY_FALLBACKS=[K1]``,
old workers ``K1``). A revoke on either, or from ``flask sessionauth revoke``
run with either spelling, reaches the other at once; the cookie cache keeps
verifying across the spellings and the rotation. Two apps on different
databases stay apart (``tests/test_isolation.py``).
"""

from __future__ import annotations

import datetime as dt
import logging
import typing as t

import pytest
import sqlalchemy as sa
import time_machine
from flask import Flask

from tests.conftest import User
from tests.conftest import create_app
from tests.conftest import db
from tests.conftest import dispose
from tests.conftest import postgres_url
from tests.helpers import PASSWORD
from tests.helpers import UTC
from tests.helpers import StatementCounter
from tests.helpers import api_post
from tests.helpers import cache_cookie_name
from tests.helpers import cookie_name
from tests.helpers import device
from tests.helpers import login
from tests.helpers import raw_client
from tests.helpers import state_of
from tests.helpers import store_of

K1 = "the-old-secret-key"
K2 = "the-new-secret-key"
TABLE = "sessionauth_deployment"
MAX_AGE = 60
T0 = dt.datetime(2030, 5, 6, 10, 0, tzinfo=UTC)

#: How the second process spells the same database's URL.
SPELLINGS: dict[str, t.Callable[[sa.URL], sa.URL]] = {
    "same": lambda url: url,
    "localhost": lambda url: url.set(host="localhost", port=None),
    "application_name": lambda url: url.update_query_dict({"application_name": "worker-2"}),
}
#: ``(new worker, old worker)`` key settings.
KEYS: dict[str, tuple[dict[str, t.Any], dict[str, t.Any]]] = {
    "same": ({"SECRET_KEY": K1}, {"SECRET_KEY": K1}),
    "rotating": ({"SECRET_KEY": K2, "SECRET_KEY_FALLBACKS": [K1]}, {"SECRET_KEY": K1}),
}


@pytest.fixture
def deployment() -> t.Iterator[t.Callable[..., tuple[Flask, Flask]]]:
    """``make(spelling, keys, **config)``: the new worker (the canonical URL)
    and the old worker (``spelling``) of one app on one PostgreSQL database,
    alice signed up."""
    apps: list[Flask] = []

    def make(spelling: str, keys: str, **config: t.Any) -> tuple[Flask, Flask]:
        url = sa.make_url(postgres_url())
        new_keys, old_keys = KEYS[keys]
        spelled = SPELLINGS[spelling](url).render_as_string(hide_password=False)
        canonical = url.render_as_string(hide_password=False)
        new = create_app({"SQLALCHEMY_DATABASE_URI": canonical, "WTF_CSRF_ENABLED": True, **new_keys, **config})
        apps.append(new)
        with new.app_context():
            db.drop_all()
            db.create_all()
            new.extensions["sessionauth"].create_user("alice@example.com", PASSWORD)
        old = create_app({"SQLALCHEMY_DATABASE_URI": spelled, "WTF_CSRF_ENABLED": True, **old_keys, **config})
        apps.append(old)
        return new, old

    yield make
    for app in reversed(apps):
        dispose(app, drop=app is apps[0])


@pytest.fixture
def redis_deployment(
    deployment: t.Callable[..., tuple[Flask, Flask]], private_redis: t.Any
) -> t.Callable[..., tuple[Flask, Flask]]:
    return lambda spelling, keys, **config: deployment(spelling, keys, **private_redis.config, **config)


def cookies(app: Flask, client: t.Any) -> str:
    """The ``Cookie`` header ``client`` holds for ``app`` (session and cache cookies)."""
    parts = []
    for name in (cookie_name(app), cache_cookie_name(app)):
        cookie = client.get_cookie(name)
        if cookie is not None:
            parts.append(f"{name}={cookie.value}")
    return "; ".join(parts)


def get(app: Flask, path: str, header: str) -> t.Any:
    return raw_client(app).get(path, headers={"Cookie": header})


def accepted_on_me(app: Flask, header: str) -> bool:
    resp = get(app, "/me", header)
    assert resp.status_code in (200, 302, 401), resp.status_code
    return resp.status_code == 200


def assert_refused_by_storage_views(app: Flask, header: str) -> None:
    """The extension's own API and pages (which always read storage) refuse it."""
    session = get(app, "/api/auth/get-session", header)
    assert session.status_code == 200 and session.json is None, session.get_data(as_text=True)[:300]
    devices = get(app, "/account/devices", header)
    assert devices.status_code == 302 and "/account/login" in devices.headers["Location"], devices.status_code


def assert_refused(app: Flask, header: str) -> None:
    for _ in range(3):
        assert not accepted_on_me(app, header), "a revoked session was accepted on /me"
        assert_refused_by_storage_views(app, header)


def sign_in_and_warm(signer: Flask, other: Flask) -> tuple[t.Any, str]:
    """Alice signs in on ``signer``; both processes serve her (and cache her session)."""
    client = device(signer)
    login(client)
    header = cookies(signer, client)
    for app in (signer, other):
        assert accepted_on_me(app, header)
        assert get(app, "/api/auth/get-session", header).json["user"]["email"] == "alice@example.com"
    return client, header


COMBINATIONS = [("localhost", "same"), ("application_name", "same"), ("same", "rotating"), ("localhost", "rotating")]


@pytest.mark.parametrize("direction", ["new revokes", "old revokes"])
@pytest.mark.parametrize(("spelling", "keys"), COMBINATIONS)
def test_sign_out_everywhere_reaches_the_other_process(
    redis_deployment: t.Callable[..., tuple[Flask, Flask]], spelling: str, keys: str, direction: str
) -> None:
    new, old = redis_deployment(spelling, keys)
    revoker, other = (new, old) if direction == "new revokes" else (old, new)
    client, header = sign_in_and_warm(revoker, other)
    resp = api_post(client, "revoke-sessions")
    assert resp.status_code == 200, resp.get_data(as_text=True)
    assert_refused(revoker, header)
    assert_refused(other, header)


@pytest.mark.parametrize(("spelling", "keys"), COMBINATIONS)
def test_cli_revoke_with_another_url_spelling_reaches_the_web_app(
    redis_deployment: t.Callable[..., tuple[Flask, Flask]], spelling: str, keys: str
) -> None:
    web, cli = redis_deployment(spelling, keys)
    _, header = sign_in_and_warm(web, cli)
    result = cli.test_cli_runner().invoke(args=["sessionauth", "revoke", "alice@example.com", "--all"])
    assert result.exit_code == 0 and "Revoked 1" in result.output, result.output
    assert_refused(web, header)


def test_rolling_back_the_key_revives_nothing(redis_deployment: t.Callable[..., tuple[Flask, Flask]]) -> None:
    """Sessions revoked under K2 stay revoked on a process started again with K1."""
    new, old = redis_deployment("same", "rotating")
    client, header = sign_in_and_warm(new, old)
    assert api_post(client, "revoke-sessions").status_code == 200
    rolled_back = create_app(dict(old.config))
    try:
        assert_refused(rolled_back, header)
    finally:
        dispose(rolled_back)


@pytest.mark.parametrize("spelling", ["localhost", "application_name"])
def test_cookie_cache_verifies_across_spellings_and_a_rotation(
    deployment: t.Callable[..., tuple[Flask, Flask]], spelling: str
) -> None:
    """An old worker's (K1) cache cookie is honoured by a new worker (K2,
    fallback K1) on another URL spelling without touching storage; after a
    revoke on the new worker, the storage views refuse it at once everywhere,
    and ordinary views within the documented max-age."""
    new, old = deployment(spelling, "rotating", SESSIONAUTH_COOKIE_CACHE_MAX_AGE=MAX_AGE)
    with time_machine.travel(T0, tick=False) as clock:
        client = device(old)
        login(client)
        header = cookies(old, client)
        assert "_cache=" in header
        assert get(new, "/whoami", header).json == {"user_id": 1}  # its first use reads the deployment id
        with new.app_context():
            counter = StatementCounter(db.engine)
        with counter:
            assert get(new, "/whoami", header).json == {"user_id": 1}
        assert counter.statements == [], "the new worker did not verify the old worker's cache cookie"

        revoker = device(new)
        revoker.set_cookie(cookie_name(new), client.get_cookie(cookie_name(old)).value)
        assert api_post(revoker, "revoke-sessions").status_code == 200
        for app in (new, old):
            assert_refused_by_storage_views(app, header)
            assert get(app, "/whoami/storage", header).json == {"user_id": None}
        clock.shift(dt.timedelta(seconds=MAX_AGE + 1))
        for app in (new, old):
            assert_refused(app, header)
            assert get(app, "/whoami", header).json == {"user_id": None}


def test_an_explicit_deployment_id_needs_no_table(redis_deployment: t.Callable[..., tuple[Flask, Flask]]) -> None:
    """``SESSIONAUTH_DEPLOYMENT_ID`` set everywhere: the table is never read."""
    new, old = redis_deployment("localhost", "rotating", SESSIONAUTH_DEPLOYMENT_ID="shop-production")
    with new.app_context():
        db.session.execute(sa.text(f"DROP TABLE IF EXISTS {TABLE}"))
        db.session.commit()
    client, header = sign_in_and_warm(new, old)
    assert api_post(client, "revoke-sessions").status_code == 200
    assert_refused(old, header)


def test_a_missing_deployment_table_is_a_configuration_error(
    redis_deployment: t.Callable[..., tuple[Flask, Flask]], caplog: pytest.LogCaptureFixture
) -> None:
    new, _ = redis_deployment("same", "same")
    with new.app_context():
        db.session.execute(sa.text(f"DROP TABLE IF EXISTS {TABLE}"))
        db.session.commit()
    fresh = create_app(dict(new.config))  # a process started after the table went
    try:
        with caplog.at_level(logging.ERROR, logger="flask_sessionauth"):
            resp = device(fresh).post("/test/login", data={"email": "alice@example.com", "password": PASSWORD})
        assert resp.status_code == 503, resp.status_code
        assert "not set up correctly" in resp.get_data(as_text=True)
        logged = " ".join(r.getMessage() for r in caplog.records)
        assert TABLE in logged and "db.create_all()" in logged, logged
        with fresh.app_context():
            db.create_all()  # the fix: the same process recovers, nothing was remembered
        client = device(fresh)
        login(client)
        assert accepted_on_me(new, cookies(fresh, client))
    finally:
        dispose(fresh)


def test_two_processes_creating_the_id_at_once_agree(
    redis_deployment: t.Callable[..., tuple[Flask, Flask]],
) -> None:
    """The race of two first requests: the old worker's INSERT of the id comes
    after the new worker's (injected between its read and its write); both
    end up with the one stored id."""
    new, old = redis_deployment("localhost", "rotating")
    with new.app_context():
        assert db.session.execute(sa.text(f"SELECT count(*) FROM {TABLE}")).scalar_one() == 1  # create_all stored it
        db.session.execute(sa.text(f"DELETE FROM {TABLE}"))  # as a migration without the row leaves it
        db.session.commit()
    with old.app_context():
        engine = db.engine

    raced: list[str] = []

    def competitor(_conn: t.Any, _cursor: t.Any, statement: str, *args: t.Any) -> None:
        if not raced and statement.lstrip().upper().startswith("INSERT") and TABLE in statement:
            with new.app_context():
                raced.append(store_of(new).key("x"))  # the new worker stores its id first

    sa.event.listen(engine, "before_cursor_execute", competitor)
    try:
        with old.app_context():
            old_key = store_of(old).key("x")
    finally:
        sa.event.remove(engine, "before_cursor_execute", competitor)
    assert raced == [old_key]
    with new.app_context():
        assert store_of(new).key("x") == old_key
        rows = db.session.execute(sa.text(f"SELECT count(*) FROM {TABLE}")).scalar_one()
    assert rows == 1
    assert state_of(new).limiter.counters.prefix == state_of(old).limiter.counters.prefix


def test_a_fresh_process_can_deactivate_a_user_before_the_id_is_stored(tmp_path: t.Any, private_redis: t.Any) -> None:
    """SQLite, a table a migration created without its row, and a process
    whose first use of Redis is deactivating a user (inside the ORM flush,
    which holds the database's write lock): nothing was ever cached, so the
    rows go alone, at once, and the id is stored by the next sign-in."""
    url = f"sqlite:///{tmp_path / 'app.db'}"
    plain = create_app({"SQLALCHEMY_DATABASE_URI": url})  # no Redis: caches nothing
    with plain.app_context():
        db.create_all()
        db.session.execute(sa.text(f"DELETE FROM {TABLE}"))
        db.session.commit()
        plain.extensions["sessionauth"].create_user("alice@example.com", PASSWORD)
    login(device(plain))
    admin = create_app({"SQLALCHEMY_DATABASE_URI": url, **private_redis.config})
    try:
        with admin.app_context():
            model = state_of(admin).model
            alice = db.session.execute(sa.select(User).where(User.email == "alice@example.com")).scalar_one()
            alice.is_active = False
            db.session.commit()
            assert db.session.execute(sa.select(sa.func.count()).select_from(model)).scalar_one() == 0
            assert db.session.execute(sa.text(f"SELECT count(*) FROM {TABLE}")).scalar_one() == 0
    finally:
        dispose(admin)
        dispose(plain)
