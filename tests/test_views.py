"""The account pages through the test client, in every storage mode.

Covers the security checklist items that are about pages: CSRF and methods
(27), revocation scoping (15-17), sudo mode (18), password change (22-23, 25),
enumeration (26), escaping (31), open redirects.
"""

from __future__ import annotations

import datetime as dt
import re
import typing as t

import pytest
import sqlalchemy as sa
import time_machine
from flask import Flask
from markupsafe import escape

from tests.conftest import EVERY_STORAGE
from tests.conftest import db
from tests.helpers import NEW_PASSWORD
from tests.helpers import PASSWORD
from tests.helpers import UA_FIREFOX
from tests.helpers import UTC
from tests.helpers import cookie_name
from tests.helpers import device
from tests.helpers import form_post
from tests.helpers import login
from tests.helpers import page_csrf_token
from tests.helpers import page_sign_in
from tests.helpers import raw_client
from tests.helpers import session_cookie
from tests.helpers import signed_in_as
from tests.helpers import stale
from tests.helpers import text
from tests.helpers import without_tokens

pytestmark = pytest.mark.storage(*EVERY_STORAGE)
POST_ONLY = ["/account/logout", "/account/devices/revoke-others", "/account/devices/revoke-all"]


# -- sign-in ------------------------------------------------------------------------


def test_login_page_has_labelled_fields_and_csrf(client: t.Any, user: t.Any) -> None:
    resp = client.get("/account/login")
    assert resp.status_code == 200
    body = text(resp)
    for name in ("email", "password", "remember", "csrf_token"):
        assert f'name="{name}"' in body
    for name in ("email", "password", "remember"):
        assert f'<label class="sa-label" for="{name}"' in body or f'for="{name}"' in body
    assert '<meta name="csrf-token" content="' in body
    assert 'autocomplete="current-password"' in body
    # No external resources: the only absolute URL is the SVG namespace.
    assert not re.findall(r"(?:src|href)=\"(?:https?:)?//", body)
    assert "http" not in body.replace("http://www.w3.org/2000/svg", "")


def test_login_signs_in_and_redirects_home(app: Flask, client: t.Any, user: t.Any) -> None:
    resp = page_sign_in(client, "  Alice@Example.com ", remember="y")
    assert resp.status_code == 302
    assert resp.location == "/account/devices"
    assert signed_in_as(client) == user.id
    assert "Max-Age=" in resp.headers["Set-Cookie"]
    assert client.get("/account/devices").status_code == 200
    # An already signed-in visitor to the sign-in page goes home.
    assert client.get("/account/login").location == "/account/devices"


def test_login_without_remember_sets_browser_session_cookie(app: Flask, client: t.Any, user: t.Any) -> None:
    resp = page_sign_in(client)
    cookie_header = next(h for h in resp.headers.getlist("Set-Cookie") if "sessionauth" in h)
    assert "Max-Age" not in cookie_header and "Expires" not in cookie_header


def test_unknown_email_and_wrong_password_answer_identically(client: t.Any, user: t.Any) -> None:
    wrong = page_sign_in(client, "alice@example.com", "not the password")
    unknown = page_sign_in(client, "nobody@example.com", "not the password")
    assert wrong.status_code == unknown.status_code == 401
    assert "Incorrect email or password." in text(wrong)
    assert without_tokens(text(wrong)).replace("alice@example.com", "E") == without_tokens(text(unknown)).replace(
        "nobody@example.com", "E"
    )
    assert wrong.headers.get("Set-Cookie") == unknown.headers.get("Set-Cookie")
    assert signed_in_as(client) is None


def test_overlong_password_is_a_field_error_not_truncated(app: Flask, client: t.Any, user: t.Any) -> None:
    limit = app.config["SESSIONAUTH_PASSWORD_MAX_LENGTH"]
    resp = page_sign_in(client, "alice@example.com", PASSWORD + "x" * limit)
    assert resp.status_code == 400
    assert f"Use at most {limit} characters." in text(resp)
    assert 'id="password-error"' in text(resp)
    assert signed_in_as(client) is None


def test_empty_fields_are_reported_next_to_them(client: t.Any, user: t.Any) -> None:
    resp = client.post("/account/login", data={"csrf_token": page_csrf_token(client)})
    assert resp.status_code == 400
    body = text(resp)
    assert "Enter your email address." in body and "Enter your password." in body
    assert 'aria-invalid="true"' in body


@pytest.mark.parametrize("app_config", [{"SESSIONAUTH_RATE_LIMIT_ACCOUNT": 2}])
def test_sign_in_rate_limit_renders_form_with_retry_after(client: t.Any, user: t.Any) -> None:
    statuses = [page_sign_in(client, "alice@example.com", "wrong password").status_code for _ in range(3)]
    assert statuses[:2] == [401, 401]
    resp = page_sign_in(client, "alice@example.com", PASSWORD)
    assert resp.status_code == 429
    assert int(resp.headers["Retry-After"]) > 0
    assert 'name="password"' in text(resp) and 'role="alert"' in text(resp)
    assert signed_in_as(client) is None


def test_sign_in_during_a_storage_fault_is_503_not_a_wrong_password(app: Flask, client: t.Any, user: t.Any) -> None:
    token = page_csrf_token(client)
    with app.app_context():
        db.drop_all()  # a real fault: the tables are gone
    resp = client.post("/account/login", data={"email": "alice@example.com", "password": PASSWORD, "csrf_token": token})
    assert resp.status_code == 503
    assert "Incorrect email or password" not in text(resp)


@pytest.mark.parametrize(
    "target",
    ["https://evil.example/", "//evil.example/x", "/\\evil.example", "javascript:alert(1)", "http:/evil", "\t/x"],
)
def test_unsafe_next_is_refused(client: t.Any, user: t.Any, target: str) -> None:
    token = page_csrf_token(client, "/account/login")
    resp = client.post(
        "/account/login",
        query_string={"next": target},
        data={"email": "alice@example.com", "password": PASSWORD, "csrf_token": token},
    )
    assert resp.status_code == 302
    assert resp.location == "/account/devices"


def test_anonymous_visitor_is_sent_to_sign_in_and_back(client: t.Any, user: t.Any) -> None:
    for path in ("/account/devices", "/account/password", "/account/confirm"):
        resp = client.get(path)
        assert resp.status_code == 302
        assert resp.location.startswith("/account/login?next=")
    resp = client.get("/account/password")
    login_url = resp.location
    page = client.get(login_url)
    assert 'action="/account/login?next=/account/password"' in text(page)
    token = re.search(r'<meta name="csrf-token" content="([^"]+)"', text(page)).group(1)  # type: ignore[union-attr]
    resp = client.post(login_url, data={"email": "alice@example.com", "password": PASSWORD, "csrf_token": token})
    assert resp.location == "/account/password"


def test_signed_out_device_posting_a_stale_form_signs_in_to_the_devices_page(
    client: t.Any, second_client: t.Any, user: t.Any
) -> None:
    """A device signed out elsewhere still shows its old page; its next button press
    must lead to sign-in and then somewhere that answers GET (not a 405)."""
    login(client)
    theirs = login(second_client)
    token = page_csrf_token(second_client, "/account/devices")
    form_post(client, f"/account/devices/{theirs}/revoke")
    resp = second_client.post("/account/devices/revoke-others", data={"csrf_token": token})
    assert resp.status_code == 302 and resp.location == "/account/login"
    assert page_sign_in(second_client).location == "/account/devices"


# -- CSRF and methods -----------------------------------------------------------------


@pytest.mark.parametrize("path", POST_ONLY + ["/account/devices/AAAAAAAAAAAAAAAAAAAAAA/revoke"])
def test_get_on_state_changing_urls_is_405(client: t.Any, user: t.Any, path: str) -> None:
    login(client)
    assert client.get(path).status_code == 405
    assert signed_in_as(client) is not None


@pytest.mark.parametrize("token", [None, "", "forged.token.value"])
@pytest.mark.parametrize(
    "path",
    [*POST_ONLY, "/account/devices/{other}/revoke", "/account/password", "/account/confirm?action=revoke_all"],
)
def test_post_without_valid_csrf_token_is_400_and_changes_nothing(
    app: Flask, client: t.Any, second_client: t.Any, user: t.Any, path: str, token: str | None
) -> None:
    login(client)
    other = login(second_client)
    client.get("/account/devices")  # the Flask session now holds a CSRF secret
    data = {"password": PASSWORD, "current_password": PASSWORD, "new_password": NEW_PASSWORD}
    data["confirm_password"] = NEW_PASSWORD
    if token is not None:
        data["csrf_token"] = token
    resp = client.post(path.format(other=other), data=data)
    assert resp.status_code == 400
    assert "This form has expired" in text(resp)
    assert signed_in_as(client) == user.id
    assert signed_in_as(second_client) == user.id
    with app.app_context():
        assert app.extensions["sessionauth"].authenticate("alice@example.com", PASSWORD) is not None


def test_sign_in_post_without_csrf_is_400(client: t.Any, user: t.Any) -> None:
    client.get("/account/login")
    resp = client.post("/account/login", data={"email": "alice@example.com", "password": PASSWORD})
    assert resp.status_code == 400
    assert signed_in_as(client) is None


# -- devices page -------------------------------------------------------------------------


def test_devices_page_lists_each_session_and_marks_this_device(
    client: t.Any, second_client: t.Any, user: t.Any
) -> None:
    mine = login(client)
    theirs = login(second_client)
    body = text(client.get("/account/devices"))
    assert 'id="session-list"' in body
    assert body.count("data-session-id=") == 2
    # This device first, with the badge, then the other one.
    assert body.index(f'data-session-id="{mine}"') < body.index(f'data-session-id="{theirs}"')
    assert body.count(">This device<") == 1
    card = body[body.index(f'data-session-id="{mine}"') : body.index(f'data-session-id="{theirs}"')]
    assert "This device" in card and "Chrome 131 on macOS" in card
    assert "Firefox 133 on Windows" in body
    assert "203.0.113.7" in body
    assert 'aria-label="Sign out Firefox 133 on Windows"' in body
    assert f'action="/account/devices/{theirs}/revoke"' in body
    assert "Sign out of all other devices" in body and "Sign out everywhere" in body
    assert re.search(r'<time datetime="[^"]+" title="\d{4}-\d\d-\d\d \d\d:\d\d UTC">Active now</time>', body)


def test_devices_page_shows_last_activity_as_relative_time(client: t.Any, second_client: t.Any, user: t.Any) -> None:
    login(second_client)
    start = dt.datetime.now(UTC)
    with time_machine.travel(start + dt.timedelta(hours=3, minutes=10), tick=False):
        login(client)
        body = text(client.get("/account/devices"))
        assert "Last active <time" in body and "3 hours ago</time>" in body
    with time_machine.travel(start + dt.timedelta(days=2), tick=False):
        body = text(client.get("/account/devices"))
        assert "2 days ago</time>" in body or "yesterday</time>" in body


def test_only_this_device_state(client: t.Any, user: t.Any) -> None:
    login(client)
    body = text(client.get("/account/devices"))
    assert "This is the only device signed in to your account." in body
    assert "/account/devices/revoke-others" not in body
    assert "/account/devices/revoke-all" in body


def test_user_agent_is_escaped(app: Flask, user: t.Any) -> None:
    payload = '<script>alert("owned")</script><img src=x onerror=alert(1)>'
    attacker = device(app, payload, "198.51.100.9")
    login(attacker)
    victim = device(app)
    login(victim)
    body = text(victim.get("/account/devices"))
    assert "<script>alert" not in body and "<img src=x" not in body
    assert str(escape(payload)) in body
    assert "Unknown device" in body


def test_no_secret_or_hash_in_any_page(app: Flask, client: t.Any, second_client: t.Any, user: t.Any) -> None:
    login(client)
    login(second_client)
    pages = [client.get(p) for p in ("/account/devices", "/account/password", "/account/confirm")]
    pages.append(second_client.get("/account/devices"))
    pages.append(app.test_client().get("/account/login"))
    bodies = "\n".join(text(p) for p in pages)
    with app.app_context():
        model = app.extensions["sessionauth"].session_model
        hashes = db.session.execute(sa.select(model.secret_hash)).scalars().all()
        password_hash = db.session.execute(sa.text("select password_hash from users")).scalar_one()
    secrets = [session_cookie(c, app).split(".", 1)[1] for c in (client, second_client)]  # type: ignore[union-attr]
    assert len(hashes) == 2
    for value in [*hashes, *secrets, password_hash]:
        assert value not in bodies


# -- revoking -------------------------------------------------------------------------------


def test_sign_out_one_other_device(client: t.Any, second_client: t.Any, user: t.Any) -> None:
    login(client)
    theirs = login(second_client)
    resp = form_post(client, f"/account/devices/{theirs}/revoke")
    assert resp.status_code == 302 and resp.location == "/account/devices"
    assert signed_in_as(second_client) is None
    assert signed_in_as(client) == user.id
    body = text(client.get("/account/devices"))
    assert "Firefox 133 on Windows has been signed out." in body
    assert theirs not in body


def test_revoking_another_users_session_is_404_and_changes_nothing(
    app: Flask, client: t.Any, user: t.Any, other_user: t.Any
) -> None:
    login(client)
    bob = device(app, UA_FIREFOX, "203.0.113.8")
    bobs = login(bob, "bob@example.com")
    for target in (bobs, "not-a-session-id", "A" * 22):
        resp = form_post(client, f"/account/devices/{target}/revoke")
        assert resp.status_code == 404
        assert bobs not in text(resp)
    assert signed_in_as(bob) == other_user.id
    assert signed_in_as(client) == user.id


def test_signing_out_this_device_from_its_card(client: t.Any, user: t.Any) -> None:
    mine = login(client)
    resp = form_post(client, f"/account/devices/{mine}/revoke")
    assert resp.status_code == 302 and resp.location == "/account/login"
    assert signed_in_as(client) is None


def test_logout_ends_the_session(app: Flask, client: t.Any, user: t.Any) -> None:
    login(client)
    old = session_cookie(client, app)
    resp = form_post(client, "/account/logout")
    assert resp.status_code == 302 and resp.location == "/account/login"
    assert "Clear-Site-Data" in resp.headers
    assert signed_in_as(client) is None
    replay = raw_client(app)
    assert replay.get("/whoami", headers={"Cookie": f"{cookie_name(app)}={old}"}).json["user_id"] is None


# -- sudo mode --------------------------------------------------------------------------------


def test_fresh_session_signs_out_other_devices_at_once(client: t.Any, second_client: t.Any, user: t.Any) -> None:
    login(client)
    login(second_client)
    resp = form_post(client, "/account/devices/revoke-others")
    assert resp.status_code == 302 and resp.location == "/account/devices"
    assert signed_in_as(second_client) is None
    assert signed_in_as(client) == user.id
    assert "Signed out of 1 device." in text(client.get("/account/devices"))


def test_stale_session_confirms_password_then_signs_out_others(
    app: Flask, client: t.Any, second_client: t.Any, user: t.Any
) -> None:
    login(client)
    login(second_client)
    with stale(app):
        resp = form_post(client, "/account/devices/revoke-others")
        assert resp.status_code == 302
        assert resp.location == "/account/confirm?action=revoke_others"
        assert signed_in_as(second_client) == user.id  # nothing happened yet

        page = client.get(resp.location)
        assert page.status_code == 200
        assert "To sign out of all other devices, enter your password." in text(page)
        assert 'action="/account/confirm?action=revoke_others"' in text(page)

        wrong = form_post(client, resp.location, {"password": "wrong password"}, page=resp.location)
        assert wrong.status_code == 401
        assert "The password is incorrect." in text(wrong)
        assert signed_in_as(second_client) == user.id

        before = session_cookie(client, app)
        done = form_post(client, resp.location, {"password": PASSWORD}, page=resp.location)
        assert done.status_code == 302 and done.location == "/account/devices"
        assert session_cookie(client, app) != before  # entering the password rotated the token
        assert signed_in_as(second_client) is None
        assert signed_in_as(client) == user.id
        # Now fresh: no second prompt.
        login(second_client)
        assert form_post(client, "/account/devices/revoke-others").location == "/account/devices"


def test_stale_session_confirms_password_then_signs_out_everywhere(
    app: Flask, client: t.Any, second_client: t.Any, user: t.Any
) -> None:
    login(client)
    login(second_client)
    with stale(app):
        resp = form_post(client, "/account/devices/revoke-all")
        assert resp.location == "/account/confirm?action=revoke_all"
        done = form_post(client, resp.location, {"password": PASSWORD}, page=resp.location)
        assert done.status_code == 302 and done.location == "/account/login"
        assert done.headers["Clear-Site-Data"] == '"cache"'  # this device signed out too
        assert signed_in_as(client) is None
        assert signed_in_as(second_client) is None
        assert "You have been signed out everywhere (2 devices)." in text(client.get("/account/login"))


def test_confirm_returns_to_fresh_login_required_page(app: Flask, client: t.Any, user: t.Any) -> None:
    login(client)
    with stale(app):
        resp = client.get("/sudo")
        assert resp.status_code == 302
        assert resp.location == "/account/confirm?next=/sudo"
        done = form_post(client, resp.location, {"password": PASSWORD}, page=resp.location)
        assert done.location == "/sudo"
        assert text(client.get("/sudo")) == "sudo ok"


def test_confirm_ignores_unsafe_next_and_unknown_action(app: Flask, client: t.Any, user: t.Any) -> None:
    login(client)
    path = "/account/confirm?next=//evil.example&action=drop_tables"
    page = client.get(path)
    assert "evil.example" not in text(page) and "drop_tables" not in text(page)
    done = form_post(client, path, {"password": PASSWORD}, page=path)
    assert done.location == "/account/devices"


# -- password change ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("fields", "field", "message"),
    [
        ({"current_password": "wrong password"}, "current_password", "The current password is incorrect."),
        ({"new_password": "short", "confirm_password": "short"}, "new_password", "Use at least 8 characters."),
        ({"confirm_password": "something else"}, "confirm_password", "The passwords do not match."),
        ({"new_password": "x" * 300, "confirm_password": "x" * 300}, "new_password", "Use at most 256 characters."),
        ({"current_password": ""}, "current_password", "Enter your current password."),
    ],
)
def test_password_form_errors_are_shown_next_to_fields(
    app: Flask, client: t.Any, second_client: t.Any, user: t.Any, fields: dict[str, str], field: str, message: str
) -> None:
    login(client)
    login(second_client)
    data = {"current_password": PASSWORD, "new_password": NEW_PASSWORD, "confirm_password": NEW_PASSWORD}
    data.update(fields)
    data["revoke_other_sessions"] = "y"
    resp = form_post(client, "/account/password", data, page="/account/password")
    assert resp.status_code == 400
    body = text(resp)
    error = re.search(rf'<p class="sa-error" id="{field}-error">.*?</p>', body, re.S)
    assert error and message in error.group(0)
    assert f'aria-describedby="{field}-error"' in body or f'{field}-error"' in body
    # Nothing changed: old password still valid, other device still signed in.
    assert signed_in_as(second_client) == user.id
    with app.app_context():
        assert app.extensions["sessionauth"].authenticate("alice@example.com", PASSWORD) is not None


def test_password_change_with_checkbox_signs_out_other_devices(
    app: Flask, client: t.Any, second_client: t.Any, user: t.Any
) -> None:
    login(client)
    login(second_client)
    before = session_cookie(client, app)
    data = {
        "current_password": PASSWORD,
        "new_password": NEW_PASSWORD,
        "confirm_password": NEW_PASSWORD,
        "revoke_other_sessions": "y",
    }
    resp = form_post(client, "/account/password", data, page="/account/password")
    assert resp.status_code == 302 and resp.location == "/account/devices"
    assert session_cookie(client, app) != before
    assert signed_in_as(client) == user.id
    assert signed_in_as(second_client) is None
    body = text(client.get("/account/devices"))
    assert "Your password has been changed and all other devices were signed out." in body
    assert body.count("data-session-id=") == 1
    with app.app_context():
        auth = app.extensions["sessionauth"]
        assert auth.authenticate("alice@example.com", NEW_PASSWORD) is not None
        assert auth.authenticate("alice@example.com", PASSWORD) is None


def test_password_change_without_checkbox_keeps_other_devices(
    app: Flask, client: t.Any, second_client: t.Any, user: t.Any
) -> None:
    login(client)
    login(second_client)
    data = {"current_password": PASSWORD, "new_password": NEW_PASSWORD, "confirm_password": NEW_PASSWORD}
    resp = form_post(client, "/account/password", data, page="/account/password")
    assert resp.status_code == 302
    assert signed_in_as(client) == user.id
    assert signed_in_as(second_client) == user.id
    assert "Your password has been changed." in text(client.get("/account/devices"))


def test_password_page_checkbox_is_offered_checked(client: t.Any, user: t.Any) -> None:
    login(client)
    body = text(client.get("/account/password"))
    checkbox = re.search(r'<input [^>]*name="revoke_other_sessions"[^>]*>', body)
    assert checkbox and " checked " in checkbox.group(0) and 'type="checkbox"' in checkbox.group(0)
    assert '<label class="sa-check__label" for="revoke_other_sessions">Sign out of other devices</label>' in body
    for name in ("current_password", "new_password", "confirm_password"):
        assert f'for="{name}"' in body


# -- headers, static files, overrides -----------------------------------------------------------------


def test_account_pages_send_security_headers(client: t.Any, user: t.Any) -> None:
    pages = [client.get("/account/login")]
    login(client)
    pages += [client.get(p) for p in ("/account/devices", "/account/password", "/account/confirm")]
    pages.append(client.post("/account/logout"))  # the 400 error page too
    for resp in pages:
        csp = resp.headers["Content-Security-Policy"]
        for directive in (
            "default-src 'none'",
            "style-src 'self'",
            "script-src 'self'",
            "form-action 'self'",
            "base-uri 'none'",
            "frame-ancestors 'none'",
        ):
            assert directive in csp
        assert "unsafe-inline" not in csp
        assert resp.headers["X-Frame-Options"] == "DENY"
        assert resp.headers["Referrer-Policy"] == "same-origin"
        assert resp.headers["X-Content-Type-Options"] == "nosniff"
        assert resp.headers["Cache-Control"] == "no-store"


def test_pages_use_no_inline_style_or_script(client: t.Any, user: t.Any) -> None:
    """The CSP forbids them, so any would silently break the page."""
    login(client)
    for path in ("/account/devices", "/account/password", "/account/confirm"):
        body = text(client.get(path))
        assert " style=" not in body and "<style" not in body
        assert "<script>" not in body and " on" + "click=" not in body


def test_static_files_are_served_by_the_blueprint(client: t.Any, user: t.Any) -> None:
    resp = client.get("/account/static/sessionauth/sessionauth.css")
    assert resp.status_code == 200
    assert resp.mimetype == "text/css"
    assert "prefers-color-scheme: dark" in text(resp)
    assert "Content-Security-Policy" not in resp.headers
    resp.close()
    icon = client.get("/account/static/sessionauth/icons/phone.svg")
    assert icon.status_code == 200 and icon.mimetype == "image/svg+xml"
    icon.close()


def test_an_app_overrides_one_template_and_the_base(app: Flask, client: t.Any, user: t.Any, tmp_path: t.Any) -> None:
    (tmp_path / "sessionauth").mkdir()
    (tmp_path / "sessionauth" / "login.html").write_text(
        "{% extends sessionauth_base %}{% block content %}MY LOGIN{% endblock %}"
    )
    (tmp_path / "layout.html").write_text("<html><body>APP LAYOUT {% block content %}{% endblock %}</body></html>")
    app.template_folder = str(tmp_path)
    app.__dict__.pop("jinja_loader", None)
    app.jinja_env.loader = app.create_global_jinja_loader()
    app.config["SESSIONAUTH_BASE_TEMPLATE"] = "layout.html"
    assert text(client.get("/account/login")) == "<html><body>APP LAYOUT MY LOGIN</body></html>"
    login(client)
    body = text(client.get("/account/devices"))
    assert body.startswith("<html><body>APP LAYOUT") and 'id="session-list"' in body


def test_login_required_runs_async_views_through_ensure_sync(app: Flask, client: t.Any, user: t.Any) -> None:
    """Sync views are called directly (no ``ensure_sync`` per request); a
    coroutine view still goes through ``app.ensure_sync``."""
    import asyncio
    import inspect

    from flask_sessionauth import login_required as login_required_

    calls: list[t.Any] = []

    def ensure_sync(func: t.Any) -> t.Any:
        if not inspect.iscoroutinefunction(func):
            return func
        calls.append(func)
        return lambda *a, **k: asyncio.run(func(*a, **k))

    @app.get("/async-me")
    @login_required_
    async def async_me() -> str:
        return "async ok"

    app.ensure_sync = ensure_sync  # type: ignore[method-assign]
    assert client.get("/async-me").status_code in (302, 401)
    login(client)
    resp = client.get("/async-me")
    assert resp.status_code == 200 and resp.get_data(as_text=True) == "async ok"
    assert any(getattr(f, "__name__", "") == "async_me" for f in calls)
