"""The JSON API under ``/api/auth``: every endpoint's every status path.

Runs on every storage backend through the conftest ``app`` fixture, with
Flask-WTF's CSRF protection on (the API needs no token: only its origin rules
stand in a cross-site page's way), through the test client only.
"""

from __future__ import annotations

import datetime as dt
import typing as t

import pytest
from flask import Flask
from flask_wtf import CSRFProtect

from flask_sessionauth import SessionAuth
from tests.conftest import EVERY_STORAGE
from tests.conftest import REPLICATED_REDIS
from tests.conftest import User
from tests.conftest import create_app
from tests.conftest import db
from tests.helpers import API
from tests.helpers import API_POST_ENDPOINTS
from tests.helpers import ORIGIN
from tests.helpers import PASSWORD
from tests.helpers import UA_CHROME
from tests.helpers import api_post
from tests.helpers import api_signed_in
from tests.helpers import error_code
from tests.helpers import login
from tests.helpers import session_cookie
from tests.helpers import session_reads
from tests.helpers import stale
from tests.helpers import wire_code

pytestmark = pytest.mark.storage(*EVERY_STORAGE, *REPLICATED_REDIS)
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
    # location at sign-in and the owner's name for the device (issue 17)
    "deviceName",
    "country",
    "region",
    "city",
    "location",
}
POST_ENDPOINTS = API_POST_ENDPOINTS


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
    assert wire_code(resp) == "UNAUTHORIZED"


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


def test_list_sessions_sql_statements(  # type: ignore[no-untyped-def]
    app: Flask, client: t.Any, second_client: t.Any, user: t.Any, count_sql, storage: str
) -> None:
    login(client)
    login(second_client)
    client.get(f"{API}/list-sessions")  # settle the activity stamp
    with count_sql() as counter:
        resp = client.get(f"{API}/list-sessions")
    assert len(resp.json) == 2
    # One to validate the cookie (unless Redis has it), one to list: no
    # per-session queries, no writes.
    assert len(counter.reads) == session_reads(storage) + 1, counter.statements
    assert counter.writes == []


# -- revoke-session ----------------------------------------------------------------


@pytest.mark.parametrize("field", ["token", "id"])
def test_revoke_session_signs_other_device_out(client: t.Any, second_client: t.Any, user: t.Any, field: str) -> None:
    login(client)
    second = login(second_client)
    listed = {s["id"]: s for s in client.get(f"{API}/list-sessions").json}
    resp = api_post(client, "revoke-session", {field: listed[second][field]})
    assert resp.status_code == 200
    assert resp.json == {"status": True}
    assert not api_signed_in(second_client)
    assert second_client.get("/me").status_code != 200
    assert api_signed_in(client)


@pytest.mark.parametrize("field", ["token", "id"])
def test_revoke_session_of_another_user_changes_nothing(
    client: t.Any, app: Flask, user: t.Any, other_user: t.Any, field: str
) -> None:
    """Better Auth's answer: ``{status: true}``, and Bob's session lives on."""
    login(client)
    bob = app.test_client()
    bob_session = login(bob, "bob@example.com")
    resp = api_post(client, "revoke-session", {field: bob_session})
    assert resp.status_code == 200
    assert resp.json == {"status": True}
    assert api_signed_in(bob)
    assert [s["id"] for s in bob.get(f"{API}/list-sessions").json] == [bob_session]
    assert api_signed_in(client)


@pytest.mark.parametrize("session_id", ["A" * 22, "not-an-id", "x" * 500])
def test_revoke_session_unknown_id_changes_nothing(
    client: t.Any, second_client: t.Any, user: t.Any, session_id: str
) -> None:
    login(client)
    login(second_client)
    resp = api_post(client, "revoke-session", {"token": session_id})
    assert resp.status_code == 200
    assert resp.json == {"status": True}
    assert api_signed_in(client) and api_signed_in(second_client)


@pytest.mark.parametrize(
    "body", [{}, {"id": 5}, {"id": None}, {"id": ""}, {"token": 5}, {"token": ""}, {"token": None}, ["id"], "id"]
)
def test_revoke_session_bad_body_is_400(client: t.Any, user: t.Any, body: t.Any) -> None:
    login(client)
    resp = api_post(client, "revoke-session", body)
    assert resp.status_code == 400
    assert wire_code(resp) == "VALIDATION_ERROR"


def test_revoke_session_malformed_json_is_400(client: t.Any, user: t.Any) -> None:
    login(client)
    resp = client.post(
        f"{API}/revoke-session",
        data="{not json",
        content_type="application/json",
        headers={"Origin": ORIGIN},
    )
    assert resp.status_code == 400
    assert wire_code(resp) == "VALIDATION_ERROR"


def test_revoke_session_requires_sign_in(client: t.Any) -> None:
    resp = api_post(client, "revoke-session", {"id": "A" * 22})
    assert resp.status_code == 401
    assert wire_code(resp) == "UNAUTHORIZED"


def test_revoke_own_session_signs_out(app: Flask, client: t.Any, user: t.Any) -> None:
    own = login(client)
    resp = api_post(client, "revoke-session", {"id": own})
    assert resp.status_code == 200
    assert "Max-Age=0" in resp.headers["Set-Cookie"]
    assert not api_signed_in(client)


# -- revoke-sessions / revoke-other-sessions --------------------------------------------


def test_revoke_sessions_fresh(client: t.Any, second_client: t.Any, user: t.Any) -> None:
    login(client)
    login(second_client)
    resp = api_post(client, "revoke-sessions")
    assert resp.status_code == 200
    assert resp.json == {"status": True, "revoked": 2}
    assert "Max-Age=0" in resp.headers["Set-Cookie"]
    assert resp.headers["Clear-Site-Data"] == '"cache"'
    assert not api_signed_in(client)
    assert not api_signed_in(second_client)


def test_revoke_other_sessions_fresh(client: t.Any, second_client: t.Any, user: t.Any) -> None:
    login(client)
    login(second_client)
    resp = api_post(client, "revoke-other-sessions", {})
    assert resp.status_code == 200
    assert resp.json == {"status": True, "revoked": 1}
    assert api_signed_in(client)
    assert not api_signed_in(second_client)


@pytest.mark.parametrize("path", ["revoke-sessions", "revoke-other-sessions"])
def test_sudo_endpoints_need_fresh_login(
    app: Flask, client: t.Any, second_client: t.Any, user: t.Any, path: str
) -> None:
    login(client)
    login(second_client)
    with stale(app):
        resp = api_post(client, path)
        assert resp.status_code == 403
        assert wire_code(resp) == "SESSION_NOT_FRESH"
        assert api_signed_in(second_client)
        assert api_signed_in(client)


@pytest.mark.parametrize("path", ["revoke-sessions", "revoke-other-sessions"])
def test_sudo_endpoints_accept_password(
    app: Flask, client: t.Any, second_client: t.Any, user: t.Any, path: str
) -> None:
    login(client)
    login(second_client)
    with stale(app):
        wrong = api_post(client, path, {"password": "wrong password!"})
        assert wrong.status_code == 400
        assert wire_code(wrong) == "INVALID_PASSWORD"
        assert api_signed_in(second_client)
        bad = api_post(client, path, {"password": 12345678})
        assert bad.status_code == 400 and wire_code(bad) == "VALIDATION_ERROR"
        before = session_cookie(client, app)
        resp = api_post(client, path, {"password": PASSWORD})
        assert resp.status_code == 200
        assert not api_signed_in(second_client)
        if path == "revoke-other-sessions":
            # Re-entering the password rotated the token; the device stays signed in.
            assert session_cookie(client, app) not in (None, before)
            assert api_signed_in(client)
        else:
            assert not api_signed_in(client)


@pytest.mark.parametrize("path", ["revoke-sessions", "revoke-other-sessions"])
def test_sudo_endpoints_require_sign_in(client: t.Any, path: str) -> None:
    resp = api_post(client, path)
    assert resp.status_code == 401
    assert wire_code(resp) == "UNAUTHORIZED"


def test_sudo_password_is_rate_limited(app: Flask, client: t.Any, user: t.Any) -> None:
    login(client)
    with stale(app):
        statuses = [
            api_post(client, "revoke-other-sessions", {"password": "wrong password!"}).status_code for _ in range(6)
        ]
        assert statuses[:5] == [400] * 5
        assert statuses[5] == 429
        resp = api_post(client, "revoke-other-sessions", {"password": PASSWORD})
        assert resp.status_code == 429
        assert wire_code(resp) == "TOO_MANY_REQUESTS"
        assert int(resp.headers["Retry-After"]) >= 1
        assert resp.headers["X-Retry-After"] == resp.headers["Retry-After"]  # Better Auth's header


@pytest.mark.parametrize("app_config", [{"SESSIONAUTH_FRESH_AGE": 0}])
def test_fresh_age_zero_turns_sudo_mode_off(app: Flask, client: t.Any, second_client: t.Any, user: t.Any) -> None:
    """As Better Auth's ``freshAge: 0``: no freshness check at all."""
    login(client)
    login(second_client)
    with stale(app):
        resp = api_post(client, "revoke-other-sessions")
        assert resp.status_code == 200 and resp.json["status"] is True
        assert not api_signed_in(second_client)
        assert api_signed_in(client)


# -- change-password --------------------------------------------------------------------


def test_change_password(app: Flask, client: t.Any, second_client: t.Any, user: t.Any) -> None:
    login(client)
    login(second_client)
    before = session_cookie(client, app)
    resp = api_post(
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
    assert not api_signed_in(second_client)
    # The new password works, the old one does not.
    fresh = app.test_client()
    assert fresh.post("/test/login", data={"email": "alice@example.com", "password": PASSWORD}).status_code == 401
    login(fresh, password="a brand new password")


def test_change_password_keeps_other_sessions_by_default(client: t.Any, second_client: t.Any, user: t.Any) -> None:
    login(client)
    login(second_client)
    resp = api_post(client, "change-password", {"currentPassword": PASSWORD, "newPassword": "a brand new password"})
    assert resp.status_code == 200
    assert api_signed_in(second_client)


def test_change_password_wrong_current(app: Flask, client: t.Any, second_client: t.Any, user: t.Any) -> None:
    login(client)
    login(second_client)
    body = {"currentPassword": "not my password", "newPassword": "a brand new password", "revokeOtherSessions": True}
    resp = api_post(client, "change-password", body)
    assert resp.status_code == 400
    assert wire_code(resp) == "INVALID_PASSWORD"
    assert api_signed_in(second_client)
    login(app.test_client())  # the old password still works


@pytest.mark.parametrize(("new_password", "code"), [("short", "PASSWORD_TOO_SHORT"), ("x" * 257, "PASSWORD_TOO_LONG")])
def test_change_password_policy(client: t.Any, user: t.Any, new_password: str, code: str) -> None:
    login(client)
    resp = api_post(client, "change-password", {"currentPassword": PASSWORD, "newPassword": new_password})
    assert resp.status_code == 400
    assert wire_code(resp) == code
    assert error_code(resp) == "password_policy"


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
    resp = api_post(client, "change-password", body)
    assert resp.status_code == 400
    assert wire_code(resp) == "VALIDATION_ERROR"


def test_change_password_requires_sign_in(client: t.Any) -> None:
    resp = api_post(client, "change-password", {"currentPassword": PASSWORD, "newPassword": "a brand new password"})
    assert resp.status_code == 401
    assert wire_code(resp) == "UNAUTHORIZED"


def test_change_password_rate_limited(client: t.Any, user: t.Any) -> None:
    login(client)
    body = {"currentPassword": "not my password", "newPassword": "a brand new password"}
    statuses = [api_post(client, "change-password", body).status_code for _ in range(6)]
    assert statuses == [400] * 5 + [429]
    resp = api_post(client, "change-password", body)
    assert wire_code(resp) == "TOO_MANY_REQUESTS"
    assert int(resp.headers["Retry-After"]) >= 1


# -- sign-in/email and sign-out -------------------------------------------------------------


def test_sign_in_email(app: Flask, client: t.Any, user: t.Any) -> None:
    resp = api_post(client, "sign-in/email", {"email": " Alice@Example.com ", "password": PASSWORD})
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
    resp = api_post(client, "sign-in/email", {"email": "alice@example.com", "password": PASSWORD})
    assert resp.status_code == 200
    assert f"Max-Age={400 * 86400};" in resp.headers["Set-Cookie"]


def test_sign_in_without_remember_me_is_browser_session(client: t.Any, user: t.Any) -> None:
    resp = api_post(client, "sign-in/email", {"email": "alice@example.com", "password": PASSWORD, "rememberMe": False})
    assert resp.status_code == 200
    assert "Max-Age" not in resp.headers["Set-Cookie"]


def test_sign_in_again_replaces_session(client: t.Any, user: t.Any) -> None:
    first = login(client)
    resp = api_post(client, "sign-in/email", {"email": "alice@example.com", "password": PASSWORD})
    assert resp.json["session"]["id"] != first
    assert [s["id"] for s in client.get(f"{API}/list-sessions").json] == [resp.json["session"]["id"]]


def test_sign_in_failures_look_the_same(client: t.Any, user: t.Any) -> None:
    wrong = api_post(client, "sign-in/email", {"email": "alice@example.com", "password": "wrong password!"})
    unknown = api_post(client, "sign-in/email", {"email": "nobody@example.com", "password": "wrong password!"})
    assert wrong.status_code == unknown.status_code == 401
    assert wrong.json == unknown.json
    assert wire_code(wrong) == "INVALID_EMAIL_OR_PASSWORD"
    assert not api_signed_in(client)


def test_sign_in_inactive_user(app: Flask, client: t.Any, user: t.Any) -> None:
    with app.app_context():
        db.session.get(User, user.id).is_active = False
        db.session.commit()
    resp = api_post(client, "sign-in/email", {"email": "alice@example.com", "password": PASSWORD})
    assert resp.status_code == 401
    assert wire_code(resp) == "INVALID_EMAIL_OR_PASSWORD"


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
    resp = api_post(client, "sign-in/email", body)
    assert resp.status_code == 400
    assert wire_code(resp) == "VALIDATION_ERROR"


def test_sign_in_rate_limited(client: t.Any, user: t.Any) -> None:
    body = {"email": "alice@example.com", "password": "wrong password!"}
    statuses = [api_post(client, "sign-in/email", body).status_code for _ in range(6)]
    assert statuses == [401] * 5 + [429]
    resp = api_post(client, "sign-in/email", {"email": "alice@example.com", "password": PASSWORD})
    assert resp.status_code == 429
    assert wire_code(resp) == "TOO_MANY_REQUESTS"
    assert int(resp.headers["Retry-After"]) >= 1
    assert not api_signed_in(client)


def test_sign_out(app: Flask, client: t.Any, user: t.Any) -> None:
    login(client)
    old = session_cookie(client, app)
    resp = api_post(client, "sign-out")
    assert resp.status_code == 200
    assert resp.json == {"success": True}
    assert "Max-Age=0" in resp.headers["Set-Cookie"]
    assert resp.headers["Clear-Site-Data"]
    assert not api_signed_in(client)
    replay = app.test_client()
    replay.set_cookie(app.extensions["sessionauth"].state_for(app).settings.cookie_name, str(old))
    assert not api_signed_in(replay)


def test_sign_out_when_signed_out(client: t.Any) -> None:
    resp = api_post(client, "sign-out")
    assert resp.status_code == 200
    assert resp.json == {"success": True}


# -- routing errors ----------------------------------------------------------------------
# (origin rules, CORS and the GET aliases: tests/test_api_origins.py)


@pytest.mark.parametrize("path", POST_ENDPOINTS)
def test_get_on_post_endpoint_is_405_json(client: t.Any, path: str) -> None:
    resp = client.get(f"{API}/{path}")
    assert resp.status_code == 405
    assert wire_code(resp) == "METHOD_NOT_ALLOWED"
    assert "POST" in resp.headers["Allow"]


def test_unknown_api_path_is_404_json(client: t.Any) -> None:
    resp = client.get(f"{API}/no-such-endpoint")
    assert resp.status_code == 404
    assert wire_code(resp) == "NOT_FOUND"
    assert error_code(resp) == "not_found"
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
    forged = api_post(
        client,
        "sign-in/email",
        {"email": "alice@example.com", "password": PASSWORD},
        headers={"X-CSRFToken": "forged"},  # ignored, like any other header
    )
    assert forged.status_code == 200
    ok = api_post(client, "sign-in/email", {"email": "alice@example.com", "password": PASSWORD})
    assert ok.status_code == 200
    assert api_signed_in(client)
    assert api_post(client, "revoke-other-sessions").status_code == 200
    assert client.post("/form", headers={"Origin": ORIGIN}).status_code == 400  # CSRFProtect still guards the app
    refused = api_post(client, "sign-out", headers={"Origin": "https://evil.example"})
    assert refused.status_code == 403 and wire_code(refused) == "INVALID_ORIGIN"
    assert api_signed_in(client)
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
    resp = api_post(client, "sign-in/email", body)
    assert resp.status_code == 401
    assert wire_code(resp) == "INVALID_EMAIL_OR_PASSWORD"


def test_oversized_body_is_413(client: t.Any, user: t.Any) -> None:
    login(client)
    resp = api_post(client, "revoke-session", {"id": "A" * 22, "padding": "x" * 20_000})
    assert resp.status_code == 413
    assert wire_code(resp) == "PAYLOAD_TOO_LARGE"
    assert api_signed_in(client)


def test_get_session_sql_statements(app: Flask, client: t.Any, user: t.Any, count_sql, storage: str) -> None:  # type: ignore[no-untyped-def]
    login(client)
    client.get(f"{API}/get-session")
    with count_sql() as counter:
        resp = client.get(f"{API}/get-session")
    assert resp.json["user"]["email"] == "alice@example.com"
    # One statement: the cookie's session joined with its user's columns, or
    # (Redis has the session) the user alone.
    assert len(counter.reads) == 1, counter.statements
    assert counter.writes == []
    anonymous = app.test_client()
    with count_sql() as counter:
        assert anonymous.get(f"{API}/get-session").json is None
    assert counter.statements == []
