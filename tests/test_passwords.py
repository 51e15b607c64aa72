"""Password hashing, policy, upgrades, change and enumeration resistance (checklist 22-26)."""

from __future__ import annotations

import typing as t

import pytest
from flask import Flask
from passlib.hash import bcrypt
from passlib.hash import pbkdf2_sha256

from flask_sessionauth import InvalidPassword
from flask_sessionauth import PasswordPolicyError
from flask_sessionauth import login_failed
from flask_sessionauth import password_changed
from tests.conftest import User
from tests.conftest import db
from tests.helpers import PASSWORD
from tests.helpers import in_request
from tests.helpers import login
from tests.helpers import session_cookie
from tests.helpers import user_row


def stored_hash(app: Flask, user_id: int) -> str:
    return str(user_row(app, user_id).password_hash)


def change(
    app: Flask, client: t.Any, current: str, new: str, revoke: bool = False, confirm: str | None = None
) -> t.Any:
    """Run change_password inside a request carrying ``client``'s cookie."""
    with in_request(app, client):
        auth = app.extensions["sessionauth"]
        u = db.session.get(User, auth.get_session().user_id)
        result = auth.change_password(u, current, new, revoke_other_sessions=revoke, confirm_password=confirm)
        response = app.process_response(app.make_response("ok"))
    # hand the rotated cookie back to the client, as a browser would
    for header in response.headers.getlist("Set-Cookie"):
        name, _, rest = header.partition("=")
        client.set_cookie(name, rest.split(";")[0])
    return result


def test_default_context_is_argon2id_with_owasp_parameters() -> None:
    from flask_sessionauth.core.config import DEFAULTS
    from flask_sessionauth.core.passwords import PasswordHasher

    hasher = PasswordHasher(
        DEFAULTS["SESSIONAUTH_PASSWORD_SCHEMES"], DEFAULTS["SESSIONAUTH_PASSWORD_CONTEXT_OPTIONS"], 8, 256
    )
    h = hasher.hash("a perfectly fine password")
    assert h.startswith("$argon2id$")
    assert "m=19456,t=2,p=1" in h
    assert hasher.verify("a perfectly fine password", h) == (True, None)


def test_wrong_current_password_changes_nothing(app: Flask, client: t.Any, second_client: t.Any, user: t.Any) -> None:
    login(client)
    login(second_client)
    before = stored_hash(app, user.id)
    with pytest.raises(InvalidPassword):
        change(app, client, "not my password", "another good password", revoke=True)
    assert stored_hash(app, user.id) == before
    assert second_client.get("/whoami").json == {"user_id": user.id}
    assert client.get("/whoami").json == {"user_id": user.id}


def test_change_password_with_revoke_ends_others_and_rotates_current(
    app: Flask, client: t.Any, second_client: t.Any, user: t.Any
) -> None:
    old_sid = login(client)
    login(second_client)
    events = []
    with password_changed.connected_to(lambda s, **kw: events.append(kw["revoked"]), app):
        rotated = change(app, client, PASSWORD, "brand new password", revoke=True)
    assert rotated is not None and rotated.id != old_sid
    assert events == [1]
    assert second_client.get("/whoami").json == {"user_id": None}
    assert client.get("/whoami").json == {"user_id": user.id}
    assert session_cookie(client, app).startswith(rotated.id + ".")
    assert (
        client.post("/test/login", data={"email": "alice@example.com", "password": "brand new password"}).status_code
        == 200
    )


def test_change_password_without_revoke_keeps_others(
    app: Flask, client: t.Any, second_client: t.Any, user: t.Any
) -> None:
    login(client)
    login(second_client)
    change(app, client, PASSWORD, "brand new password")
    assert second_client.get("/whoami").json == {"user_id": user.id}
    assert client.get("/whoami").json == {"user_id": user.id}


@pytest.mark.parametrize(
    ("new", "confirm", "message"),
    [
        ("short", None, "at least 8"),
        ("x" * 257, None, "at most 256"),
        ("long enough password", "different password", "do not match"),
    ],
)
def test_change_password_policy(
    app: Flask, client: t.Any, user: t.Any, new: t.Any, confirm: t.Any, message: t.Any
) -> None:
    login(client)
    before = stored_hash(app, user.id)
    with pytest.raises(PasswordPolicyError, match=message):
        change(app, client, PASSWORD, new, confirm=confirm)
    assert stored_hash(app, user.id) == before


def test_long_password_is_never_truncated(app: Flask, user: t.Any) -> None:
    auth = app.extensions["sessionauth"]
    with app.app_context():
        long_pw = "a" * 200
        h = auth.hash_password(long_pw)
        u = db.session.get(User, user.id)
        u.password_hash = h
        db.session.commit()
        assert auth.authenticate("alice@example.com", long_pw) is not None
        assert auth.authenticate("alice@example.com", "a" * 199) is None
        assert auth.authenticate("alice@example.com", "a" * 201) is None
        with pytest.raises(PasswordPolicyError):
            auth.hash_password("a" * 257)


def test_legacy_bcrypt_hash_with_long_password_never_errors(app: Flask, client: t.Any, user: t.Any) -> None:
    with app.app_context():
        u = db.session.get(User, user.id)
        u.password_hash = bcrypt.hash("b" * 72)
        db.session.commit()
        auth = app.extensions["sessionauth"]
        # bcrypt would ignore bytes past 72; we must not accept the 100-byte variant silently
        # nor raise: the answer is a plain failure.
        assert auth.authenticate("alice@example.com", "b" * 100) is None
        assert auth.authenticate("alice@example.com", "b" * 300) is None
    resp = client.post("/test/login", data={"email": "alice@example.com", "password": "b" * 300})
    assert resp.status_code == 401


def test_deprecated_scheme_is_upgraded_on_login(app: Flask, client: t.Any, user: t.Any) -> None:
    with app.app_context():
        u = db.session.get(User, user.id)
        u.password_hash = pbkdf2_sha256.hash(PASSWORD)
        db.session.commit()
    login(client)
    assert stored_hash(app, user.id).startswith("$argon2id$")
    # and the upgraded hash still verifies
    assert (
        app.test_client().post("/test/login", data={"email": "alice@example.com", "password": PASSWORD}).status_code
        == 200
    )


def test_weaker_argon2_parameters_are_upgraded(app: Flask, user: t.Any) -> None:
    from passlib.hash import argon2

    weak = argon2.using(type="ID", memory_cost=512, time_cost=1, parallelism=1).hash(PASSWORD)
    with app.app_context():
        u = db.session.get(User, user.id)
        u.password_hash = weak
        db.session.commit()
        assert app.extensions["sessionauth"].authenticate("alice@example.com", PASSWORD) is not None
        assert "m=1024" in db.session.get(User, user.id).password_hash


def test_unknown_email_and_wrong_password_same_answer_and_both_hash(
    app: Flask, user: t.Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    auth = app.extensions["sessionauth"]
    calls = []
    with app.app_context():
        context = auth.hasher.context
        real_verify, real_dummy = context.verify_and_update, context.dummy_verify
        monkeypatch.setattr(
            context, "verify_and_update", lambda *a, **k: calls.append("verify") or real_verify(*a, **k)
        )
        monkeypatch.setattr(context, "dummy_verify", lambda *a, **k: calls.append("dummy") or real_dummy(*a, **k))
    c = app.test_client()
    unknown = c.post("/test/login", data={"email": "nobody@example.com", "password": "whatever password"})
    wrong = c.post("/test/login", data={"email": "alice@example.com", "password": "whatever password"})
    assert (unknown.status_code, unknown.data) == (wrong.status_code, wrong.data)
    assert calls == ["dummy", "verify"]


def test_login_failed_signal(app: Flask, user: t.Any) -> None:
    seen = []
    with login_failed.connected_to(lambda s, **kw: seen.append(kw["reason"]), app):
        c = app.test_client()
        c.post("/test/login", data={"email": "nobody@example.com", "password": "whatever password"})
        c.post("/test/login", data={"email": "alice@example.com", "password": "whatever password"})
    assert seen == ["unknown", "password"]


def test_email_matched_case_insensitively(app: Flask, client: t.Any, user: t.Any) -> None:
    assert client.post("/test/login", data={"email": "  ALICE@Example.COM ", "password": PASSWORD}).status_code == 200


def test_malformed_stored_hash_fails_closed(app: Flask, user: t.Any) -> None:
    with app.app_context():
        u = db.session.get(User, user.id)
        u.password_hash = "not-a-hash"
        db.session.commit()
        assert app.extensions["sessionauth"].authenticate("alice@example.com", PASSWORD) is None
