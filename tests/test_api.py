"""The JSON API under ``/api/auth``: every endpoint's every status path.

Runs on every storage backend through the conftest ``app`` fixture, with
Flask-WTF's CSRF protection on (the API needs no token: only its origin rules
stand in a cross-site page's way), through the test client only.
"""

from __future__ import annotations

import datetime as dt
import typing as t

import pytest
import time_machine
from flask import Flask
from flask_wtf import CSRFProtect

from flask_sessionauth import SessionAuth

from .conftest import PASSWORD
from .conftest import UA_CHROME
from .conftest import User
from .conftest import create_app
from .conftest import db
from .conftest import login
from .conftest import session_cookie

API = "/api/auth"
ORIGIN = "http://localhost"  # the test client's own origin
SESSION_FIELDS = {
    "id",
    "token",
    "userId",
    "expiresAt",
    "ipAddress",
    "userAgent",
    "device",
    "createdAt",
    "updatedAt",
    "lastActiveAt",
    "current",
}
POST_ENDPOINTS = [
    "revoke-session",
    "revoke-sessions",
    "revoke-other-sessions",
    "change-password",
    "sign-in/email",
    "sign-out",
]


def csrf_token(client: t.Any) -> str:
    resp = client.get(f"{API}/csrf-token")
    assert resp.status_code == 200
    return str(resp.json["csrfToken"])


def post(client: t.Any, path: str, body: t.Any = None, *, headers: dict[str, str | None] | None = None) -> t.Any:
    """A same-origin POST as a browser's ``fetch`` sends it: Origin and JSON, no token."""
    sent: dict[str, str | None] = {"Origin": ORIGIN}
    sent.update(headers or {})
    sent = {k: v for k, v in sent.items() if v is not None}
    if body is None:
        return client.post(f"{API}/{path}", headers=sent)
    return client.post(f"{API}/{path}", json=body, headers=sent)


def error_code(resp: t.Any) -> str:
    """The top-level (Better Auth) ``code``; checks the whole error shape."""
    assert resp.is_json, resp.data
    assert set(resp.json) == {"code", "message", "error"}
    assert isinstance(resp.json["message"], str) and resp.json["message"]
    # Deprecated, kept for one release: the same error nested, with the old code.
    assert set(resp.json["error"]) == {"code", "message"}
    assert resp.json["error"]["message"] == resp.json["message"]
    assert resp.json["error"]["code"].islower()
    return str(resp.json["code"])


def legacy_code(resp: t.Any) -> str:
    return str(resp.json["error"]["code"])


def stale() -> t.Any:
    """Two hours later: still signed in, but past the one-hour sudo window."""
    return time_machine.travel(dt.datetime.now(dt.timezone.utc) + dt.timedelta(hours=2), tick=True)


def signed_in(client: t.Any) -> bool:
    return client.get(f"{API}/get-session").json is not None


# -- get-session ----------------------------------------------------------------


def test_get_session_signed_out_is_null(client: t.Any) -> None:
    resp = client.get(f"{API}/get-session")
    assert resp.status_code == 200
    assert resp.is_json and resp.json is None
    assert resp.headers["Cache-Control"] == "no-store"


def test_get_session_signed_in(app: Flask, client: t.Any, user: t.Any) -> None:
    session_id = login(client)
    token = session_cookie(client, app)
    resp = client.get(f"{API}/get-session")
    assert resp.status_code == 200
    assert resp.headers["Cache-Control"] == "no-store"
    assert resp.headers["X-Content-Type-Options"] == "nosniff"
    assert "Cookie" in resp.headers["Vary"]
    data = resp.json
    assert data["user"] == {
        "id": str(user.id),
        "email": "alice@example.com",
        "name": "Alice",
        "emailVerified": False,  # the test model has none of these columns
        "image": None,
        "createdAt": None,
        "updatedAt": None,
    }
    session = data["session"]
    assert set(session) == SESSION_FIELDS
    assert session["id"] == session_id
    assert session["token"] == session_id  # Better Auth's field, the public id: never a credential
    assert session["userId"] == str(user.id)
    assert session["current"] is True
    assert session["device"] == "Chrome 131 on macOS"
    assert session["userAgent"] == UA_CHROME
    assert session["ipAddress"] == "127.0.0.1"
    for field in ("expiresAt", "createdAt", "updatedAt", "lastActiveAt"):
        assert session[field].endswith("Z")
        assert dt.datetime.fromisoformat(session[field].replace("Z", "+00:00")).tzinfo is not None
    assert token is not None and token.split(".")[1] not in resp.get_data(as_text=True)


# -- list-sessions ----------------------------------------------------------------


def test_list_sessions_requires_sign_in(client: t.Any) -> None:
    resp = client.get(f"{API}/list-sessions")
    assert resp.status_code == 401
    assert error_code(resp) == "UNAUTHORIZED"


def test_list_sessions_only_callers_newest_first(
    app: Flask, client: t.Any, second_client: t.Any, user: t.Any, other_user: t.Any
) -> None:
    first = login(client)
    second = login(second_client)
    outsider = app.test_client()
    login(outsider, "bob@example.com")
    resp = client.get(f"{API}/list-sessions")
    assert resp.status_code == 200
    sessions = resp.json
    # The second device signed in last, so it is the most recently active.
    assert [s["id"] for s in sessions] == [second, first]
    assert all(set(s) == SESSION_FIELDS for s in sessions)
    by_id = {s["id"]: s for s in sessions}
    assert by_id[first]["current"] is True and by_id[second]["current"] is False
    assert by_id[second]["device"] == "Firefox 133 on Windows"
    text = resp.get_data(as_text=True)
    for c in (client, second_client, outsider):
        assert session_cookie(c, app).split(".")[1] not in text  # type: ignore[union-attr]
    assert "secret" not in text.lower() and "hash" not in text.lower()


def test_list_sessions_sql_statements(app: Flask, client: t.Any, second_client: t.Any, user: t.Any, count_sql) -> None:  # type: ignore[no-untyped-def]
    login(client)
    login(second_client)
    client.get(f"{API}/list-sessions")  # settle the activity stamp
    with count_sql() as counter:
        resp = client.get(f"{API}/list-sessions")
    assert len(resp.json) == 2
    # One to validate the cookie, one to list: no per-session queries, no writes.
    assert len(counter.reads) == 2, counter.statements
    assert counter.writes == []


# -- revoke-session ----------------------------------------------------------------


@pytest.mark.parametrize("field", ["token", "id"])
def test_revoke_session_signs_other_device_out(client: t.Any, second_client: t.Any, user: t.Any, field: str) -> None:
    login(client)
    second = login(second_client)
    listed = {s["id"]: s for s in client.get(f"{API}/list-sessions").json}
    resp = post(client, "revoke-session", {field: listed[second][field]})
    assert resp.status_code == 200
    assert resp.json == {"status": True}
    assert not signed_in(second_client)
    assert second_client.get("/me").status_code != 200
    assert signed_in(client)


@pytest.mark.parametrize("field", ["token", "id"])
def test_revoke_session_of_another_user_changes_nothing(
    client: t.Any, app: Flask, user: t.Any, other_user: t.Any, field: str
) -> None:
    """Better Auth's answer: ``{status: true}``, and Bob's session lives on."""
    login(client)
    bob = app.test_client()
    bob_session = login(bob, "bob@example.com")
    resp = post(client, "revoke-session", {field: bob_session})
    assert resp.status_code == 200
    assert resp.json == {"status": True}
    assert signed_in(bob)
    assert [s["id"] for s in bob.get(f"{API}/list-sessions").json] == [bob_session]
    assert signed_in(client)


@pytest.mark.parametrize("session_id", ["A" * 22, "not-an-id", "x" * 500])
def test_revoke_session_unknown_id_changes_nothing(
    client: t.Any, second_client: t.Any, user: t.Any, session_id: str
) -> None:
    login(client)
    login(second_client)
    resp = post(client, "revoke-session", {"token": session_id})
    assert resp.status_code == 200
    assert resp.json == {"status": True}
    assert signed_in(client) and signed_in(second_client)


@pytest.mark.parametrize(
    "body", [{}, {"id": 5}, {"id": None}, {"id": ""}, {"token": 5}, {"token": ""}, {"token": None}, ["id"], "id"]
)
def test_revoke_session_bad_body_is_400(client: t.Any, user: t.Any, body: t.Any) -> None:
    login(client)
    resp = post(client, "revoke-session", body)
    assert resp.status_code == 400
    assert error_code(resp) == "VALIDATION_ERROR"


def test_revoke_session_malformed_json_is_400(client: t.Any, user: t.Any) -> None:
    login(client)
    resp = client.post(
        f"{API}/revoke-session",
        data="{not json",
        content_type="application/json",
        headers={"Origin": ORIGIN},
    )
    assert resp.status_code == 400
    assert error_code(resp) == "VALIDATION_ERROR"


def test_revoke_session_requires_sign_in(client: t.Any) -> None:
    resp = post(client, "revoke-session", {"id": "A" * 22})
    assert resp.status_code == 401
    assert error_code(resp) == "UNAUTHORIZED"


def test_revoke_own_session_signs_out(app: Flask, client: t.Any, user: t.Any) -> None:
    own = login(client)
    resp = post(client, "revoke-session", {"id": own})
    assert resp.status_code == 200
    assert "Max-Age=0" in resp.headers["Set-Cookie"]
    assert not signed_in(client)


# -- revoke-sessions / revoke-other-sessions --------------------------------------------


def test_revoke_sessions_fresh(client: t.Any, second_client: t.Any, user: t.Any) -> None:
    login(client)
    login(second_client)
    resp = post(client, "revoke-sessions")
    assert resp.status_code == 200
    assert resp.json == {"status": True, "revoked": 2}
    assert "Max-Age=0" in resp.headers["Set-Cookie"]
    assert resp.headers["Clear-Site-Data"] == '"cache"'
    assert not signed_in(client)
    assert not signed_in(second_client)


def test_revoke_other_sessions_fresh(client: t.Any, second_client: t.Any, user: t.Any) -> None:
    login(client)
    login(second_client)
    resp = post(client, "revoke-other-sessions", {})
    assert resp.status_code == 200
    assert resp.json == {"status": True, "revoked": 1}
    assert signed_in(client)
    assert not signed_in(second_client)


@pytest.mark.parametrize("path", ["revoke-sessions", "revoke-other-sessions"])
def test_sudo_endpoints_need_fresh_login(client: t.Any, second_client: t.Any, user: t.Any, path: str) -> None:
    login(client)
    login(second_client)
    with stale():
        resp = post(client, path)
        assert resp.status_code == 403
        assert error_code(resp) == "SESSION_NOT_FRESH"
        assert signed_in(second_client)
        assert signed_in(client)


@pytest.mark.parametrize("path", ["revoke-sessions", "revoke-other-sessions"])
def test_sudo_endpoints_accept_password(
    app: Flask, client: t.Any, second_client: t.Any, user: t.Any, path: str
) -> None:
    login(client)
    login(second_client)
    with stale():
        wrong = post(client, path, {"password": "wrong password!"})
        assert wrong.status_code == 400
        assert error_code(wrong) == "INVALID_PASSWORD"
        assert signed_in(second_client)
        bad = post(client, path, {"password": 12345678})
        assert bad.status_code == 400 and error_code(bad) == "VALIDATION_ERROR"
        before = session_cookie(client, app)
        resp = post(client, path, {"password": PASSWORD})
        assert resp.status_code == 200
        assert not signed_in(second_client)
        if path == "revoke-other-sessions":
            # Re-entering the password rotated the token; the device stays signed in.
            assert session_cookie(client, app) not in (None, before)
            assert signed_in(client)
        else:
            assert not signed_in(client)


@pytest.mark.parametrize("path", ["revoke-sessions", "revoke-other-sessions"])
def test_sudo_endpoints_require_sign_in(client: t.Any, path: str) -> None:
    resp = post(client, path)
    assert resp.status_code == 401
    assert error_code(resp) == "UNAUTHORIZED"


def test_sudo_password_is_rate_limited(client: t.Any, user: t.Any) -> None:
    login(client)
    with stale():
        statuses = [
            post(client, "revoke-other-sessions", {"password": "wrong password!"}).status_code for _ in range(6)
        ]
        assert statuses[:5] == [400] * 5
        assert statuses[5] == 429
        resp = post(client, "revoke-other-sessions", {"password": PASSWORD})
        assert resp.status_code == 429
        assert error_code(resp) == "TOO_MANY_REQUESTS"
        assert int(resp.headers["Retry-After"]) >= 1
        assert resp.headers["X-Retry-After"] == resp.headers["Retry-After"]  # Better Auth's header


@pytest.mark.parametrize("app_config", [{"SESSIONAUTH_FRESH_AGE": 0}])
def test_fresh_age_zero_turns_sudo_mode_off(client: t.Any, second_client: t.Any, user: t.Any) -> None:
    """As Better Auth's ``freshAge: 0``: no freshness check at all."""
    login(client)
    login(second_client)
    with stale():
        resp = post(client, "revoke-other-sessions")
        assert resp.status_code == 200 and resp.json["status"] is True
        assert not signed_in(second_client)
        assert signed_in(client)


# -- change-password --------------------------------------------------------------------


def test_change_password(app: Flask, client: t.Any, second_client: t.Any, user: t.Any) -> None:
    login(client)
    login(second_client)
    before = session_cookie(client, app)
    resp = post(
        client,
        "change-password",
        {"currentPassword": PASSWORD, "newPassword": "a brand new password", "revokeOtherSessions": True},
    )
    assert resp.status_code == 200
    assert set(resp.json) == {"token", "session", "user"}
    assert resp.json["token"] is None  # never a credential in a body
    assert resp.json["session"]["current"] is True
    assert session_cookie(client, app) not in (None, before)  # rotated
    assert resp.json["session"]["id"] == client.get(f"{API}/get-session").json["session"]["id"]
    assert not signed_in(second_client)
    # The new password works, the old one does not.
    fresh = app.test_client()
    assert fresh.post("/test/login", data={"email": "alice@example.com", "password": PASSWORD}).status_code == 401
    login(fresh, password="a brand new password")


def test_change_password_keeps_other_sessions_by_default(client: t.Any, second_client: t.Any, user: t.Any) -> None:
    login(client)
    login(second_client)
    resp = post(client, "change-password", {"currentPassword": PASSWORD, "newPassword": "a brand new password"})
    assert resp.status_code == 200
    assert signed_in(second_client)


def test_change_password_wrong_current(app: Flask, client: t.Any, second_client: t.Any, user: t.Any) -> None:
    login(client)
    login(second_client)
    body = {"currentPassword": "not my password", "newPassword": "a brand new password", "revokeOtherSessions": True}
    resp = post(client, "change-password", body)
    assert resp.status_code == 400
    assert error_code(resp) == "INVALID_PASSWORD"
    assert signed_in(second_client)
    login(app.test_client())  # the old password still works


@pytest.mark.parametrize(("new_password", "code"), [("short", "PASSWORD_TOO_SHORT"), ("x" * 257, "PASSWORD_TOO_LONG")])
def test_change_password_policy(client: t.Any, user: t.Any, new_password: str, code: str) -> None:
    login(client)
    resp = post(client, "change-password", {"currentPassword": PASSWORD, "newPassword": new_password})
    assert resp.status_code == 400
    assert error_code(resp) == code
    assert legacy_code(resp) == "password_policy"


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"newPassword": "a brand new password"},
        {"currentPassword": PASSWORD},
        {"currentPassword": PASSWORD, "newPassword": 12345678},
        {"currentPassword": PASSWORD, "newPassword": "a brand new password", "revokeOtherSessions": "yes"},
    ],
)
def test_change_password_bad_body(client: t.Any, user: t.Any, body: dict[str, t.Any]) -> None:
    login(client)
    resp = post(client, "change-password", body)
    assert resp.status_code == 400
    assert error_code(resp) == "VALIDATION_ERROR"


def test_change_password_requires_sign_in(client: t.Any) -> None:
    resp = post(client, "change-password", {"currentPassword": PASSWORD, "newPassword": "a brand new password"})
    assert resp.status_code == 401
    assert error_code(resp) == "UNAUTHORIZED"


def test_change_password_rate_limited(client: t.Any, user: t.Any) -> None:
    login(client)
    body = {"currentPassword": "not my password", "newPassword": "a brand new password"}
    statuses = [post(client, "change-password", body).status_code for _ in range(6)]
    assert statuses == [400] * 5 + [429]
    resp = post(client, "change-password", body)
    assert error_code(resp) == "TOO_MANY_REQUESTS"
    assert int(resp.headers["Retry-After"]) >= 1


# -- sign-in/email and sign-out -------------------------------------------------------------


def test_sign_in_email(app: Flask, client: t.Any, user: t.Any) -> None:
    resp = post(client, "sign-in/email", {"email": " Alice@Example.com ", "password": PASSWORD})
    assert resp.status_code == 200
    assert set(resp.json) == {"redirect", "token", "session", "user"}
    assert resp.json["redirect"] is False and resp.json["token"] is None
    assert resp.json["user"]["email"] == "alice@example.com"
    assert resp.json["session"]["token"] == resp.json["session"]["id"]
    assert resp.json["session"]["current"] is True
    token = session_cookie(client, app)
    assert token is not None and token.split(".")[1] not in resp.get_data(as_text=True)
    assert "Max-Age=" in resp.headers["Set-Cookie"]
    assert client.get(f"{API}/get-session").json["session"]["id"] == resp.json["session"]["id"]


@pytest.mark.parametrize("app_config", [{"SESSIONAUTH_EXPIRES_IN": 500 * 86400, "SESSIONAUTH_UPDATE_AGE": 86400}])
def test_cookie_max_age_is_capped_at_400_days(client: t.Any, user: t.Any) -> None:
    """Browsers cap cookies at 400 days; the cookie never claims more (Better Auth's cookies test)."""
    resp = post(client, "sign-in/email", {"email": "alice@example.com", "password": PASSWORD})
    assert resp.status_code == 200
    assert f"Max-Age={400 * 86400};" in resp.headers["Set-Cookie"]


def test_sign_in_without_remember_me_is_browser_session(client: t.Any, user: t.Any) -> None:
    resp = post(client, "sign-in/email", {"email": "alice@example.com", "password": PASSWORD, "rememberMe": False})
    assert resp.status_code == 200
    assert "Max-Age" not in resp.headers["Set-Cookie"]


def test_sign_in_again_replaces_session(client: t.Any, user: t.Any) -> None:
    first = login(client)
    resp = post(client, "sign-in/email", {"email": "alice@example.com", "password": PASSWORD})
    assert resp.json["session"]["id"] != first
    assert [s["id"] for s in client.get(f"{API}/list-sessions").json] == [resp.json["session"]["id"]]


def test_sign_in_failures_look_the_same(client: t.Any, user: t.Any) -> None:
    wrong = post(client, "sign-in/email", {"email": "alice@example.com", "password": "wrong password!"})
    unknown = post(client, "sign-in/email", {"email": "nobody@example.com", "password": "wrong password!"})
    assert wrong.status_code == unknown.status_code == 401
    assert wrong.json == unknown.json
    assert error_code(wrong) == "INVALID_EMAIL_OR_PASSWORD"
    assert not signed_in(client)


def test_sign_in_inactive_user(app: Flask, client: t.Any, user: t.Any) -> None:
    with app.app_context():
        db.session.get(User, user.id).is_active = False
        db.session.commit()
    resp = post(client, "sign-in/email", {"email": "alice@example.com", "password": PASSWORD})
    assert resp.status_code == 401
    assert error_code(resp) == "INVALID_EMAIL_OR_PASSWORD"


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"email": "alice@example.com"},
        {"password": PASSWORD},
        {"email": ["alice@example.com"], "password": PASSWORD},
        {"email": "alice@example.com", "password": PASSWORD, "rememberMe": "no"},
    ],
)
def test_sign_in_bad_body(client: t.Any, user: t.Any, body: dict[str, t.Any]) -> None:
    resp = post(client, "sign-in/email", body)
    assert resp.status_code == 400
    assert error_code(resp) == "VALIDATION_ERROR"


def test_sign_in_rate_limited(client: t.Any, user: t.Any) -> None:
    body = {"email": "alice@example.com", "password": "wrong password!"}
    statuses = [post(client, "sign-in/email", body).status_code for _ in range(6)]
    assert statuses == [401] * 5 + [429]
    resp = post(client, "sign-in/email", {"email": "alice@example.com", "password": PASSWORD})
    assert resp.status_code == 429
    assert error_code(resp) == "TOO_MANY_REQUESTS"
    assert int(resp.headers["Retry-After"]) >= 1
    assert not signed_in(client)


def test_sign_out(app: Flask, client: t.Any, user: t.Any) -> None:
    login(client)
    old = session_cookie(client, app)
    resp = post(client, "sign-out")
    assert resp.status_code == 200
    assert resp.json == {"success": True}
    assert "Max-Age=0" in resp.headers["Set-Cookie"]
    assert resp.headers["Clear-Site-Data"]
    assert not signed_in(client)
    replay = app.test_client()
    replay.set_cookie(app.extensions["sessionauth"].state_for(app).settings.cookie_name, str(old))
    assert not signed_in(replay)


def test_sign_out_when_signed_out(client: t.Any) -> None:
    resp = post(client, "sign-out")
    assert resp.status_code == 200
    assert resp.json == {"success": True}


# -- routing errors ----------------------------------------------------------------------
# (origin rules, CORS and the GET aliases: tests/test_api_origins.py)


@pytest.mark.parametrize("path", POST_ENDPOINTS)
def test_get_on_post_endpoint_is_405_json(client: t.Any, path: str) -> None:
    resp = client.get(f"{API}/{path}")
    assert resp.status_code == 405
    assert error_code(resp) == "METHOD_NOT_ALLOWED"
    assert "POST" in resp.headers["Allow"]


def test_unknown_api_path_is_404_json(client: t.Any) -> None:
    resp = client.get(f"{API}/no-such-endpoint")
    assert resp.status_code == 404
    assert error_code(resp) == "NOT_FOUND"
    assert legacy_code(resp) == "not_found"
    assert resp.headers["Cache-Control"] == "no-store"


def test_csrf_token_endpoint(client: t.Any) -> None:
    resp = client.get(f"{API}/csrf-token")
    assert resp.status_code == 200
    assert resp.headers["Cache-Control"] == "no-store"
    assert isinstance(resp.json["csrfToken"], str) and resp.json["csrfToken"]


# -- configuration ------------------------------------------------------------------------


@pytest.mark.parametrize("app_config", [{"SESSIONAUTH_API_PREFIX": "/auth-api"}])
def test_custom_prefix(client: t.Any, user: t.Any) -> None:
    login(client)
    assert client.get("/auth-api/list-sessions").status_code == 200
    assert client.get(f"{API}/list-sessions").status_code == 404
    spec = client.get("/auth-api/openapi.json").json
    assert spec["servers"] == [{"url": "/auth-api"}]


@pytest.mark.parametrize("app_config", [{"SESSIONAUTH_REGISTER_API": False}])
def test_api_can_be_turned_off(app: Flask, client: t.Any) -> None:
    assert "sessionauth_api" not in app.blueprints
    assert client.get(f"{API}/get-session").status_code == 404


def _csrf_protected_app(tmp_path: t.Any, csrf_first: bool) -> Flask:
    """An app with Flask-WTF's app-wide CSRFProtect, set up before or after us."""
    app = Flask(__name__)
    app.config.update(
        SECRET_KEY="test-secret-key",
        SQLALCHEMY_DATABASE_URI=f"sqlite:///{tmp_path / 'csrf.db'}",
        SESSIONAUTH_PASSWORD_CONTEXT_OPTIONS={"argon2__memory_cost": 1024, "argon2__time_cost": 1},
    )
    csrf = CSRFProtect()
    if csrf_first:
        csrf.init_app(app)
    db.init_app(app)
    SessionAuth(app, db=db, user_model=User)
    if not csrf_first:
        csrf.init_app(app)

    @app.post("/form")
    def form() -> str:
        return "posted"

    with app.app_context():
        db.create_all()
        app.extensions["sessionauth"].create_user("alice@example.com", PASSWORD)
    return app


@pytest.mark.parametrize("csrf_first", [True, False])
def test_with_app_wide_csrf_protect(tmp_path: t.Any, csrf_first: bool) -> None:
    """The API blueprint is exempt from an app-wide ``CSRFProtect`` whichever
    was set up first (Better Auth's client sends no token); the app's own
    routes stay protected, and the API's origin rules still apply."""
    app = _csrf_protected_app(tmp_path, csrf_first)
    client = app.test_client()
    forged = post(
        client,
        "sign-in/email",
        {"email": "alice@example.com", "password": PASSWORD},
        headers={"X-CSRFToken": "forged"},  # ignored, like any other header
    )
    assert forged.status_code == 200
    ok = post(client, "sign-in/email", {"email": "alice@example.com", "password": PASSWORD})
    assert ok.status_code == 200
    assert signed_in(client)
    assert post(client, "revoke-other-sessions").status_code == 200
    assert client.post("/form", headers={"Origin": ORIGIN}).status_code == 400  # CSRFProtect still guards the app
    refused = post(client, "sign-out", headers={"Origin": "https://evil.example"})
    assert refused.status_code == 403 and error_code(refused) == "INVALID_ORIGIN"
    assert signed_in(client)
    with app.app_context():
        db.session.remove()
        db.drop_all()
        db.engine.dispose()


def test_create_app_factory_registers_api() -> None:
    app = create_app()
    assert "sessionauth_api" in app.blueprints
    rules = {rule.rule for rule in app.url_map.iter_rules() if rule.endpoint.startswith("sessionauth_api.")}
    assert {f"{API}/{path}" for path in [*POST_ENDPOINTS, "get-session", "list-sessions", "csrf-token"]} <= rules
    aliases = {"list-sessions", "revoke-session", "revoke-sessions", "revoke-other-sessions", "change-password"}
    assert {f"{API}/user/{path}" for path in aliases} <= rules


@pytest.mark.parametrize(
    "body",
    [
        {"email": "alice@example.com\u0000", "password": PASSWORD},
        {"email": "\ud800@example.com", "password": PASSWORD},
        {"email": "alice@example.com", "password": "\ud800 wrong \u0000 password"},
        {"email": "alice@example.com", "password": "x" * 10_000},
    ],
)
def test_sign_in_hostile_strings_are_plain_failures(client: t.Any, user: t.Any, body: dict[str, str]) -> None:
    """NULs, lone surrogates (legal in JSON) and huge values never reach the
    database or hasher in a way that fails: the answer is an ordinary 401."""
    resp = post(client, "sign-in/email", body)
    assert resp.status_code == 401
    assert error_code(resp) == "INVALID_EMAIL_OR_PASSWORD"


def test_oversized_body_is_413(client: t.Any, user: t.Any) -> None:
    login(client)
    resp = post(client, "revoke-session", {"id": "A" * 22, "padding": "x" * 20_000})
    assert resp.status_code == 413
    assert error_code(resp) == "PAYLOAD_TOO_LARGE"
    assert signed_in(client)


def test_get_session_sql_statements(app: Flask, client: t.Any, user: t.Any, count_sql) -> None:  # type: ignore[no-untyped-def]
    login(client)
    client.get(f"{API}/get-session")
    with count_sql() as counter:
        resp = client.get(f"{API}/get-session")
    assert resp.json["user"]["email"] == "alice@example.com"
    # The cookie's session (one statement, joined with the user's is_active) and the user.
    assert len(counter.reads) == 2, counter.statements
    assert counter.writes == []
    anonymous = app.test_client()
    with count_sql() as counter:
        assert anonymous.get(f"{API}/get-session").json is None
    assert counter.statements == []
