"""The signed cookie cache: no storage for fresh requests, bounded revocation
delay; on SQLite and PostgreSQL, with a 60-second max-age."""

from __future__ import annotations

import datetime as dt
import string
import typing as t

import pytest
import time_machine
from flask import Flask

from flask_sessionauth import SessionAuthError
from tests.conftest import create_app
from tests.conftest import database_url
from tests.conftest import db
from tests.conftest import dispose
from tests.helpers import PASSWORD
from tests.helpers import cache_cookie
from tests.helpers import cache_cookie_name
from tests.helpers import cookie_name
from tests.helpers import login
from tests.helpers import session_cookie

pytestmark = pytest.mark.storage("cookie_cache", "cookie_cache_postgres")
MAX_AGE = 60
T0 = dt.datetime(2030, 1, 7, 12, 0, tzinfo=dt.timezone.utc)


@pytest.fixture
def app_config() -> dict[str, t.Any]:
    return {"SESSIONAUTH_COOKIE_CACHE_MAX_AGE": MAX_AGE}


def revoke(app: Flask, session_id: str, user: t.Any) -> None:
    with app.test_request_context():
        assert app.extensions["sessionauth"].revoke_session(session_id, user) is True


def test_off_by_default(backend: str, tmp_path: t.Any, user: t.Any) -> None:
    app = create_app({"SQLALCHEMY_DATABASE_URI": database_url(backend, tmp_path)})
    try:
        with app.app_context():
            db.create_all()
            app.extensions["sessionauth"].create_user("carol@example.com", PASSWORD)
        client = app.test_client()
        login(client, "carol@example.com")
        assert client.get_cookie("__Host-sessionauth_cache") is None
    finally:
        dispose(app)


def test_cache_cookie_has_the_session_cookie_attributes(app: Flask, client: t.Any, user: t.Any) -> None:
    resp = client.post("/test/login", data={"email": "alice@example.com", "password": PASSWORD})
    headers = {h.split("=", 1)[0]: h for h in resp.headers.getlist("Set-Cookie")}
    assert set(headers) == {"__Host-sessionauth", "__Host-sessionauth_cache", "__Host-sessionauth_device"}
    attrs = [a.strip().lower() for a in headers["__Host-sessionauth_cache"].split(";")[1:]]
    assert {"secure", "httponly", "path=/", "samesite=lax", f"max-age={MAX_AGE}"} <= set(attrs)
    assert not any(a.startswith("domain") for a in attrs)
    # It carries no secret: the session cookie's secret appears nowhere in it.
    secret = session_cookie(client, app).split(".")[1]
    assert secret not in headers["__Host-sessionauth_cache"]


def test_fresh_cache_cookie_skips_storage(app: Flask, client: t.Any, user: t.Any, count_sql: t.Any) -> None:
    login(client)
    with count_sql() as sql:
        assert client.get("/whoami").json == {"user_id": user.id}
    assert sql.statements == []
    with count_sql() as sql:
        assert client.get("/me").json == {"email": "alice@example.com"}
    assert len(sql.reads) == 1  # the user object only; the session came from the cookie


def test_revocation_delay_is_at_most_max_age(app: Flask, client: t.Any, second_client: t.Any, user: t.Any) -> None:
    with time_machine.travel(T0, tick=False) as traveller:
        sid = login(client)
        login(second_client)
        revoke(app, sid, user)
        traveller.shift(MAX_AGE - 1)
        # Documented delay: the device with a fresh cache cookie still gets in.
        assert client.get("/whoami").json == {"user_id": user.id}
        traveller.shift(2)
        assert client.get("/whoami").json == {"user_id": None}
        assert session_cookie(client, app) is None
        assert cache_cookie(client, app) is None
        assert second_client.get("/whoami").json == {"user_id": user.id}


def test_sensitive_actions_read_storage(app: Flask, client: t.Any, second_client: t.Any, user: t.Any) -> None:
    with time_machine.travel(T0, tick=False):
        sid = login(client)
        login(second_client)
        revoke(app, sid, user)
        # Within the max-age, but sudo mode, the account pages and the API re-check.
        assert client.get("/sudo").status_code in (302, 401)
        assert client.get("/account/devices").status_code in (302, 401)
        assert client.get("/api/auth/list-sessions").status_code == 401


def test_management_calls_for_the_current_user_read_storage(
    app: Flask, client: t.Any, second_client: t.Any, user: t.Any
) -> None:
    with time_machine.travel(T0, tick=False):
        sid = login(client)
        other = login(second_client)
        revoke(app, sid, user)
        auth = app.extensions["sessionauth"]
        cookies = (
            f"{cookie_name(app)}={session_cookie(client, app)}; {cache_cookie_name(app)}={cache_cookie(client, app)}"
        )
        with app.test_request_context("/anything", headers={"Cookie": cookies}):
            app.preprocess_request()
            with pytest.raises(SessionAuthError):
                auth.revoke_session(other)
        assert second_client.get("/whoami").json == {"user_id": user.id}


def test_tampered_cache_cookie_is_ignored(app: Flask, client: t.Any, user: t.Any, count_sql: t.Any) -> None:
    with time_machine.travel(T0, tick=False):  # the signature carries a timestamp
        login(client)
        value = cache_cookie(client, app)
        client.set_cookie(cache_cookie_name(app), value[:-2] + ("AA" if not value.endswith("AA") else "BB"))
        with count_sql() as sql:
            assert client.get("/whoami").json == {"user_id": user.id}
        assert len(sql.reads) == 1
        assert cache_cookie(client, app) == value  # the genuine one was issued again


def test_cache_cookie_of_another_session_is_ignored(
    app: Flask, client: t.Any, second_client: t.Any, user: t.Any, other_user: t.Any, count_sql: t.Any
) -> None:
    login(client)
    login(second_client, "bob@example.com")
    client.set_cookie(cache_cookie_name(app), cache_cookie(second_client, app))
    with count_sql() as sql:
        assert client.get("/whoami").json == {"user_id": user.id}
    assert len(sql.reads) == 1


def test_expired_cache_cookie_falls_back_to_storage(app: Flask, client: t.Any, user: t.Any, count_sql: t.Any) -> None:
    with time_machine.travel(T0, tick=False) as traveller:
        login(client)
        first = cache_cookie(client, app)
        traveller.shift(MAX_AGE + 1)
        with count_sql() as sql:
            assert client.get("/whoami").json == {"user_id": user.id}
        assert len(sql.reads) == 1
        assert cache_cookie(client, app) not in (None, first)


@pytest.mark.parametrize("keep_old_key", [True, False])
def test_key_rotation(app: Flask, client: t.Any, user: t.Any, count_sql: t.Any, keep_old_key: t.Any) -> None:
    login(client)
    app.config["SECRET_KEY"] = "a-brand-new-key"
    if keep_old_key:
        app.config["SECRET_KEY_FALLBACKS"] = ["test-secret-key"]
    with count_sql() as sql:
        assert client.get("/whoami").json == {"user_id": user.id}
    # The old key still verifies when listed as a fallback; otherwise storage is read.
    assert len(sql.reads) == (0 if keep_old_key else 1)


def test_logout_clears_the_cache_cookie(app: Flask, client: t.Any, user: t.Any) -> None:
    login(client)
    assert cache_cookie(client, app) is not None
    client.post("/test/logout")
    assert cache_cookie(client, app) is None
    assert client.get("/whoami").json == {"user_id": None}


def test_static_files_leave_the_cache_cookie_alone(app: Flask, client: t.Any, user: t.Any) -> None:
    login(client)
    value = cache_cookie(client, app)
    resp = client.get("/account/static/sessionauth/sessionauth.css")
    assert resp.status_code == 200
    assert "Set-Cookie" not in resp.headers
    assert cache_cookie(client, app) == value


def test_compact_mac_binds_key_identity_and_session_secret() -> None:
    """Trick #13's format: keyed BLAKE2b over the payload and the secret's
    hash, under a key derived from the secret key *and* the storage identity;
    fallback keys verify; the cookie carries neither the secret nor its hash."""
    import datetime as dt_

    from flask_sessionauth.core import tokens
    from flask_sessionauth.core.records import SessionRecord
    from flask_sessionauth.storage.cookie_cache import CookieCache

    token = tokens.generate()
    now = dt_.datetime.now(dt_.timezone.utc).replace(microsecond=0)
    record = SessionRecord(
        token.session_id, 7, tokens.hash_secret(token.secret), True, now, now, now, None, now, "10.0.0.1", "UA ~ .x"
    )
    cache = CookieCache("sid", 60, "sqlite:///a.db|user_session|users")
    cache.set_keys(("key",))
    value = cache.dump(record)
    assert record.secret_hash not in value and token.secret not in value
    loaded = cache.load(value, token)
    assert loaded is not None and tuple(loaded) == tuple(record)
    other = CookieCache("sid", 60, "sqlite:///b.db|user_session|users")
    other.set_keys(("key",))
    assert other.load(value, token) is None  # same SECRET_KEY, another database
    rotated = CookieCache("sid", 60, "sqlite:///a.db|user_session|users")
    rotated.set_keys(("new-key", "key"))
    assert rotated.load(value, token) is not None  # a fallback key still verifies
    assert cache.load(value, tokens.generate()) is None  # another session cookie
    assert cache.load(value.replace("~7~", "~8~"), token) is None  # tampered payload


def test_only_the_exact_mac_spelling_verifies(app: Flask, client: t.Any, user: t.Any, count_sql: t.Any) -> None:
    """Issue 15, item 8: base64url has other spellings of the same 16 bytes
    (padding, other values of the 4 unused trailing bits, characters the
    lenient decoder skips); a cache cookie carrying one is not genuine, so the
    request reads storage (and is issued the genuine cookie again)."""
    alphabet = string.ascii_uppercase + string.ascii_lowercase + string.digits + "-_"
    with time_machine.travel(T0, tick=False):
        login(client)
        value = cache_cookie(client, app)
        payload, mac = value.rsplit(".", 1)
        with count_sql() as sql:
            assert client.get("/whoami").json == {"user_id": user.id}
        assert len(sql.reads) == 0  # control: the genuine cookie skips storage
        last = alphabet.index(mac[-1])
        variants = [mac + "==", mac + "=", mac[:5] + "!" + mac[5:], mac[:5] + "*" + mac[5:], mac + "$"]
        variants += [mac[:-1] + alphabet[last ^ low] for low in range(1, 16)]  # same bytes, other trailing bits
        for variant in variants:
            client.set_cookie(cache_cookie_name(app), f"{payload}.{variant}")
            with count_sql() as sql:
                assert client.get("/whoami").json == {"user_id": user.id}
            assert len(sql.reads) == 1, variant
            assert cache_cookie(client, app) == value
