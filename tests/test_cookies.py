"""The session cookie: attributes, split token, and rejection of bad values (checklist 1-7)."""

from __future__ import annotations

import hashlib
import typing as t

import pytest
import sqlalchemy as sa
from flask import Flask

from tests.conftest import User
from tests.conftest import create_app
from tests.conftest import db
from tests.conftest import dispose
from tests.helpers import PASSWORD
from tests.helpers import cookie_name
from tests.helpers import login
from tests.helpers import raw_client
from tests.helpers import session_cookie


def test_login_cookie_attributes(app: Flask, client: t.Any, user: t.Any) -> None:
    resp = client.post("/test/login", data={"email": "alice@example.com", "password": PASSWORD})
    headers = resp.headers.getlist("Set-Cookie")
    # The session cookie, then the known-device cookie (test_known_devices).
    assert [h.partition("=")[0] for h in headers] == ["__Host-sessionauth", "__Host-sessionauth_device"]
    header = headers[0]
    name, _, rest = header.partition("=")
    assert name == "__Host-sessionauth"
    attrs = [a.strip().lower() for a in rest.split(";")]
    assert "secure" in attrs
    assert "httponly" in attrs
    assert "path=/" in attrs
    assert "samesite=lax" in attrs
    assert not any(a.startswith("domain") for a in attrs)
    assert "max-age=604800" in attrs
    assert resp.headers["Cache-Control"] == "no-store"
    assert "Cookie" in resp.headers["Vary"]


def test_insecure_cookie_has_no_host_prefix(app: Flask, user: t.Any) -> None:
    other = create_app(
        {"SQLALCHEMY_DATABASE_URI": app.config["SQLALCHEMY_DATABASE_URI"], "SESSIONAUTH_COOKIE_SECURE": False}
    )
    try:
        c = other.test_client()
        resp = c.post("/test/login", data={"email": "alice@example.com", "password": PASSWORD})
        header = resp.headers["Set-Cookie"]
        assert header.startswith("sessionauth=")
        assert "Secure" not in header
    finally:
        dispose(other)


def test_token_shape_and_uniqueness(app: Flask, user: t.Any) -> None:
    from flask_sessionauth.core import tokens

    seen = set()
    for _ in range(1000):
        tok = tokens.generate()
        assert len(tok.session_id) == 22 and len(tok.secret) == 43  # 128 and 256 bits
        assert tokens.parse(tok.value) == tok
        seen.add(tok.session_id)
    assert len(seen) == 1000


@pytest.mark.parametrize("app_config", [{"SESSIONAUTH_MAX_SESSIONS_PER_USER": None}])  # keep all 1,000 rows
def test_thousand_logins_give_unique_ids(app: Flask, user: t.Any) -> None:
    auth = app.extensions["sessionauth"]
    with app.app_context():
        u = db.session.get(User, user.id)
        ids = {auth.login_user(u).id for _ in range(1000)}
        assert db.session.query(auth.session_model).count() == 1000
    assert len(ids) == 1000


def test_table_stores_only_secret_hash(app: Flask, client: t.Any, user: t.Any) -> None:
    login(client)
    value = session_cookie(client, app)
    sid, secret = value.split(".")
    with app.app_context():
        rows = db.session.execute(sa.text("SELECT * FROM user_session")).mappings().all()
    dump = repr([dict(r) for r in rows])
    assert secret not in dump
    assert value not in dump
    assert hashlib.sha256(secret.encode()).hexdigest() in dump
    assert sid in dump


BAD_VALUES = [
    "nodot",
    "a.b.c",
    "AAAAAAAAAAAAAAAAAAAAAA.BBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBB.CC",
    "!!!!!!!!!!!!!!!!!!!!!!.BBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBB",
    "x" * 8192,
    "AAAAAAAAAAAAAAAAAAAAAA.BBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBB\x00",
    "ÄAAAAAAAAAAAAAAAAAAAAA.BBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBB",
    "",
]


@pytest.mark.parametrize("value", BAD_VALUES)
def test_malformed_cookie_is_anonymous_and_cleared(app: Flask, client: t.Any, count_sql: t.Any, value: t.Any) -> None:
    with count_sql() as counter:
        resp = raw_client(app).get("/whoami", headers={"Cookie": f"{cookie_name(app)}={value}"})
    assert resp.status_code == 200
    assert resp.json == {"user_id": None}
    assert counter.statements == []  # never reaches the database
    if value:
        assert "Max-Age=0" in resp.headers["Set-Cookie"]


def test_token_in_query_form_or_json_is_ignored(app: Flask, client: t.Any, user: t.Any) -> None:
    login(client)
    value = session_cookie(client, app)
    anon = app.test_client()
    name = cookie_name(app)
    assert anon.get(f"/whoami?{name}={value}").json == {"user_id": None}
    assert anon.get("/whoami", data={name: value}).json == {"user_id": None}
    assert anon.get("/whoami", json={name: value, "token": value}).json == {"user_id": None}
    assert anon.get("/whoami", headers={"Authorization": f"Bearer {value}"}).json == {"user_id": None}


def test_unknown_token_and_wrong_secret(app: Flask, client: t.Any, user: t.Any, count_sql: t.Any) -> None:
    sid = login(client)
    name = cookie_name(app)
    forged = f"{sid}.{'A' * 43}"
    unknown = f"{'B' * 22}.{'A' * 43}"
    for value in (forged, unknown):
        c = app.test_client()
        c.set_cookie(name, value)
        with count_sql() as counter:
            resp = c.get("/whoami")
        assert resp.json == {"user_id": None}
        assert "Max-Age=0" in resp.headers["Set-Cookie"]
        assert counter.writes == []
        assert len(counter.reads) == 1
    # the real session is untouched
    assert client.get("/whoami").json == {"user_id": user.id}


def test_cookie_tossing_fails_closed(app: Flask, client: t.Any, user: t.Any) -> None:
    login(client)
    value = session_cookie(client, app)
    name = cookie_name(app)
    resp = raw_client(app).get("/whoami", headers={"Cookie": f"{name}={value}; {name}={value}"})
    assert resp.json == {"user_id": None}
    assert "Max-Age=0" in resp.headers["Set-Cookie"]


def test_clearing_response_is_not_cacheable(app: Flask, client: t.Any) -> None:
    client.set_cookie(cookie_name(app), "garbage")
    resp = client.get("/whoami")
    assert resp.headers["Cache-Control"] == "no-store"
    assert "Cookie" in resp.headers["Vary"]


def test_ordinary_request_sets_no_cookie(app: Flask, client: t.Any, user: t.Any) -> None:
    login(client)
    resp = client.get("/whoami")
    assert "Set-Cookie" not in resp.headers
    assert "Cookie" in resp.headers["Vary"]
