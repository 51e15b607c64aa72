"""Issue 10, items 16-21: what a user migrating an existing Flask app runs into.

16. A Flask-Login ``user_loader`` registered after ``use_flask_login`` lets a
    legacy Flask-Login session cookie (``_user_id`` in Flask's session) back in.
17. A missing table looks like an outage (503 "temporarily unavailable", nothing
    logged); a missing ``SECRET_KEY`` fails only on the first page.
18. Sign-out sends ``Clear-Site-Data: "cookies"`` by default, wiping the app's
    own cookies and the "You have been signed out." flash.
19. Mounted under a prefix, ``next`` and the post-login redirect lose it.
20. Secure cookies on plain HTTP to a non-loopback host fail silently.
21. A stale no-JS revoke is a bare 404; the 503 for a failed sign-out says
    "Sign-in is temporarily unavailable".
"""

from __future__ import annotations

import logging
import re
import typing as t
import urllib.parse

import flask_login
import pytest
import sqlalchemy as sa
from werkzeug.exceptions import NotFound
from werkzeug.middleware.dispatcher import DispatcherMiddleware

from tests.attack_support import DEAD_REDIS_URL
from tests.attack_support import OUTAGE_MESSAGE
from tests.attack_support import all_logs
from tests.attack_support import api_post
from tests.attack_support import build_app
from tests.attack_support import chromium
from tests.attack_support import csrf_from
from tests.attack_support import dispose
from tests.attack_support import page_post
from tests.attack_support import page_sign_in
from tests.attack_support import same_origin
from tests.attack_support import session_cookie_name
from tests.attack_support import sqlite_url
from tests.attack_support import text
from tests.attack_support import user_id
from tests.attack_support import whoami
from tests.conftest import User
from tests.conftest import create_app
from tests.conftest import db
from tests.helpers import PASSWORD
from tests.helpers import device
from tests.helpers import login
from tests.live import live_server

EMAIL = "alice@example.com"


def visible(html: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html))


# -- 16: Flask-Login legacy cookies --------------------------------------------------------------


def flask_login_app(tmp_path: t.Any, loader_after: bool) -> t.Any:
    from flask_sessionauth.flask_login import use_flask_login

    app = build_app(sqlite_url(tmp_path), [EMAIL, "bob@example.com"])
    manager = flask_login.LoginManager()
    manager.init_app(app)

    def load(uid: str) -> t.Any:
        return db.session.get(User, int(uid))

    if not loader_after:
        manager.user_loader(load)
    use_flask_login(app, manager)
    if loader_after:
        manager.user_loader(load)  # the app's own loader, registered later (import order)

    @app.get("/fl/me")
    @flask_login.login_required
    def fl_me() -> t.Any:
        return str(flask_login.current_user.email)

    return app


@pytest.mark.parametrize("loader_after", [True, False], ids=["loader-after-bridge", "loader-before-bridge"])
def test_legacy_flask_login_cookie_is_refused_whatever_the_registration_order(
    tmp_path: t.Any, loader_after: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A Flask-Login app's user model has UserMixin; give the shared test model its
    # members for this test (``is_active`` stays the column).
    for name in ("is_authenticated", "is_anonymous", "get_id", "__eq__", "__ne__"):
        monkeypatch.setattr(User, name, flask_login.UserMixin.__dict__[name], raising=False)
    app = flask_login_app(tmp_path, loader_after)
    try:
        legacy = device(app)
        with legacy.session_transaction() as session:  # what Flask-Login left in the cookie before the switch
            session["_user_id"] = str(user_id(app, "bob@example.com"))
            session["_fresh"] = True
            session["_id"] = "x"
        resp = legacy.get("/fl/me")
        assert resp.status_code != 200, (
            f"a legacy Flask-Login session cookie (not listed, not revocable) signed in as {text(resp)!r}"
        )
        # Control: a real flask-sessionauth sign-in works through Flask-Login's API.
        real = device(app)
        login(real)
        assert text(real.get("/fl/me")) == EMAIL
    finally:
        dispose(app)


# -- 17: mistakes are not outages -----------------------------------------------------------------


TABLE_MISSING = re.compile(r"missing|no such table|does not exist|create_all|migrat", re.IGNORECASE)


def missing_table_logs(records: t.Any) -> list[str]:
    return [
        m
        for m in records.messages(logging.WARNING)
        if re.search(r"user_session|sessionauth_throttle", m) and TABLE_MISSING.search(m)
    ]


@pytest.fixture
def no_extension_tables(tmp_path: t.Any) -> t.Iterator[t.Any]:
    """The app's own users table exists; ``db.create_all()`` was never run after
    adding the extension, so its two tables are missing."""
    app = build_app(sqlite_url(tmp_path), [EMAIL])
    app.config["PROPAGATE_EXCEPTIONS"] = False
    with app.app_context():
        db.session.execute(sa.text("DROP TABLE user_session"))
        db.session.execute(sa.text("DROP TABLE sessionauth_throttle"))
        db.session.commit()
    yield app
    dispose(app)


def test_missing_table_on_sign_in_is_logged_and_not_called_an_outage(no_extension_tables: t.Any) -> None:
    c = device(no_extension_tables)
    token = csrf_from(text(c.get("/account/login")))
    with all_logs() as records:
        resp = c.post(
            "/account/login", data={"email": EMAIL, "password": PASSWORD, "csrf_token": token}, headers=same_origin()
        )
    problems = []
    if OUTAGE_MESSAGE in text(resp):
        problems.append(f"the answer ({resp.status_code}) says {OUTAGE_MESSAGE!r} for a missing table")
    if not missing_table_logs(records):
        problems.append(f"no log record says a table is missing: {records.messages(logging.WARNING)}")
    assert not problems, "; ".join(problems)
    assert c.get("/whoami").status_code != 200 or whoami(c) is None


def test_missing_table_on_a_signed_in_request_is_logged_and_not_called_an_outage(no_extension_tables: t.Any) -> None:
    c = device(no_extension_tables)
    cookie = "AAAAAAAAAAAAAAAAAAAAAA." + "B" * 43
    c.set_cookie(session_cookie_name(no_extension_tables), cookie)
    with all_logs() as records:
        resp = c.get("/account/devices")
    problems = []
    if OUTAGE_MESSAGE in text(resp):
        problems.append(f"the answer ({resp.status_code}) says {OUTAGE_MESSAGE!r} for a missing table")
    found = missing_table_logs(records)
    if not found:
        problems.append(f"no log record says a table is missing: {records.messages(logging.WARNING)}")
    assert not problems, "; ".join(problems)
    assert not any(cookie in m or "B" * 43 in m for m in records.texts()), "the log contains the cookie"


def test_an_outage_is_still_called_an_outage_and_logged_with_its_cause() -> None:
    """The other side of item 17: a database that cannot be reached (nothing
    listens on port 1) answers the outage message (passes today) and logs why
    (fails today: nothing is logged)."""
    app = create_app(
        {
            "SQLALCHEMY_DATABASE_URI": "postgresql+psycopg://postgres@127.0.0.1:1/none?connect_timeout=1",
            "PROPAGATE_EXCEPTIONS": False,
        }
    )
    try:
        c = device(app)
        c.set_cookie(session_cookie_name(app), "AAAAAAAAAAAAAAAAAAAAAA." + "B" * 43)
        with all_logs() as records:
            resp = c.get("/me")
        assert resp.status_code == 503
        assert OUTAGE_MESSAGE in text(resp)
        causes = [m for m in records.texts(logging.WARNING) if re.search(r"connect|refused|127\.0\.0\.1", m, re.I)]
        assert causes, f"the outage left no log record with its cause: {records.messages(logging.WARNING)}"
    finally:
        dispose(app, drop=False)


def test_missing_secret_key_fails_at_init_app(tmp_path: t.Any) -> None:
    with pytest.raises(Exception, match="SECRET_KEY"):
        create_app({"SECRET_KEY": None, "SQLALCHEMY_DATABASE_URI": sqlite_url(tmp_path)})


# -- 18: sign-out keeps the app's cookies and the flash -------------------------------------------


@pytest.mark.parametrize("how", ["page", "api"])
def test_sign_out_does_not_clear_all_cookies_by_default(tmp_path: t.Any, how: str) -> None:
    app = build_app(sqlite_url(tmp_path), [EMAIL])
    try:
        c = device(app)
        page_sign_in(c)
        resp = page_post(c, "/account/logout") if how == "page" else api_post(c, "sign-out")
        assert resp.status_code in (200, 302)
        header = resp.headers.get("Clear-Site-Data", "")
        assert '"cookies"' not in header and '"*"' not in header, f"sign-out sends Clear-Site-Data: {header}"
    finally:
        dispose(app)


@pytest.mark.browser
@pytest.mark.slow
def test_signed_out_message_and_app_cookies_survive_sign_out_in_chromium(tmp_path: t.Any) -> None:
    app = build_app(sqlite_url(tmp_path), [EMAIL], SESSIONAUTH_COOKIE_SECURE=False)
    try:
        with live_server(app) as base_url, chromium() as browser:
            context = browser.new_context()
            try:
                context.add_cookies([{"name": "cart", "value": "3-items", "url": base_url + "/"}])
                page = context.new_page()
                page.goto(base_url + "/account/login")
                page.fill("#email", EMAIL)
                page.fill("#password", PASSWORD)
                with page.expect_navigation():
                    page.click("form.sa-form button[type=submit]")
                with page.expect_navigation():
                    page.click(".sa-topbar__user button[type=submit]")
                page.wait_for_load_state()
                body = page.inner_text("body")
                names = {c["name"] for c in context.cookies(base_url)}
            finally:
                context.close()
        problems = []
        if "You have been signed out." not in body:
            problems.append("the 'You have been signed out.' flash is not shown after signing out")
        if "cart" not in names:
            problems.append(f"sign-out deleted the app's own 'cart' cookie (left: {sorted(names)})")
        assert not problems, "; ".join(problems)
    finally:
        dispose(app)


# -- 19: mounted under a prefix -------------------------------------------------------------------


def _location(resp: t.Any) -> urllib.parse.SplitResult:
    assert resp.status_code in (301, 302, 303), (resp.status_code, text(resp)[:300])
    return urllib.parse.urlsplit(resp.headers["Location"])


@pytest.mark.parametrize("mount", ["DispatcherMiddleware", "SCRIPT_NAME"])
def test_next_and_post_login_redirect_keep_the_mount_prefix(tmp_path: t.Any, mount: str) -> None:
    app = build_app(sqlite_url(tmp_path), [EMAIL])
    try:
        c = device(app)
        if mount == "DispatcherMiddleware":
            app.wsgi_app = DispatcherMiddleware(NotFound(), {"/shop": app.wsgi_app})  # type: ignore[method-assign]

            def get(path: str) -> t.Any:
                return c.get(path)

            def post(path: str, data: dict[str, str]) -> t.Any:
                return c.post(path, data=data, headers=same_origin())
        else:

            def strip(path: str) -> str:
                assert path.startswith("/shop/"), path
                return path[len("/shop") :]

            def get(path: str) -> t.Any:
                return c.get(strip(path), base_url="http://localhost/shop/")

            def post(path: str, data: dict[str, str]) -> t.Any:
                return c.post(strip(path), data=data, base_url="http://localhost/shop/", headers=same_origin())

        to_login = _location(get("/shop/me?tab=orders"))
        assert to_login.path == "/shop/account/login", to_login
        next_target = urllib.parse.parse_qs(to_login.query).get("next", [None])[0]
        login_url = to_login.path + ("?" + to_login.query if to_login.query else "")
        page = get(login_url)
        token = csrf_from(text(page))
        after = _location(post(login_url, {"email": EMAIL, "password": PASSWORD, "csrf_token": token}))
        problems = []
        if next_target != "/shop/me?tab=orders":
            problems.append(f"the sign-in redirect's next is {next_target!r}, not '/shop/me?tab=orders'")
        if after.path != "/shop/me":
            problems.append(f"after signing in the browser is sent to {after.path!r} (outside /shop)")
        assert not problems, "; ".join(problems)
    finally:
        dispose(app)


# -- 20: secure cookies over plain http to a LAN host ---------------------------------------------


INSECURE_HINT = re.compile(r"COOKIE_SECURE|secure cookie|over plain http|not https|HTTPS", re.IGNORECASE)


def test_secure_cookies_over_http_to_a_lan_host_are_reported(tmp_path: t.Any) -> None:
    app = build_app(sqlite_url(tmp_path), [EMAIL])  # SESSIONAUTH_COOKIE_SECURE defaults to True
    app.debug = True
    try:
        lan = device(app, remote_addr="192.168.1.20")
        local = device(app)
        assert not INSECURE_HINT.search(visible(text(local.get("/account/login")))), "control: localhost page"
        with all_logs() as records:
            page = lan.get("/account/login", base_url="http://myapp.lan")
            token = csrf_from(text(page))
            lan.post(
                "/account/login",
                data={"email": EMAIL, "password": PASSWORD, "csrf_token": token},
                base_url="http://myapp.lan",
                headers=same_origin("http://myapp.lan"),
            )
        problems = []
        if not [m for m in records.messages(logging.WARNING) if INSECURE_HINT.search(m)]:
            problems.append("nothing logged about Secure cookies on a plain-http, non-loopback request")
        if not INSECURE_HINT.search(visible(text(page))):
            problems.append("the debug-mode sign-in page over http://myapp.lan does not say the cookie cannot be set")
        assert not problems, "; ".join(problems)
    finally:
        dispose(app)


# -- 21: stale revoke, and what a failed sign-out says -----------------------------------------------


def test_stale_revoke_without_javascript_shows_the_devices_page(tmp_path: t.Any) -> None:
    app = build_app(sqlite_url(tmp_path), [EMAIL])
    try:
        mine = device(app)
        page_sign_in(mine)
        other = device(app, remote_addr="203.0.113.7")
        other_id = login(other)
        stale_form_token = csrf_from(text(mine.get("/account/devices")))  # the page as it was loaded
        assert api_post(mine, "revoke-session", {"id": other_id}).status_code == 200  # another tab did it

        resp = mine.post(
            f"/account/devices/{other_id}/revoke", data={"csrf_token": stale_form_token}, headers=same_origin()
        )
        if resp.status_code in (302, 303):
            assert urllib.parse.urlsplit(resp.headers["Location"]).path == "/account/devices"
            resp = mine.get("/account/devices")
        body = text(resp)
        problems = []
        if "Where you're signed in" not in body:
            problems.append(f"a stale revoke answered {resp.status_code} {visible(body)[:120]!r}, not the devices page")
        if 'class="sa-flash' not in body:
            problems.append("no message says the device was already signed out")
        assert not problems, "; ".join(problems)
        assert whoami(mine) == user_id(app, EMAIL)
    finally:
        dispose(app)


@pytest.mark.parametrize("how", ["page", "api"])
def test_failed_sign_out_during_a_redis_outage_says_sign_out_failed(tmp_path: t.Any, how: str) -> None:
    app = build_app(sqlite_url(tmp_path), [EMAIL], SESSIONAUTH_REDIS_URL=DEAD_REDIS_URL)
    try:
        c = device(app)
        page_sign_in(c)
        assert whoami(c) == user_id(app, EMAIL)  # reads fall back to the database
        resp = page_post(c, "/account/logout") if how == "page" else api_post(c, "sign-out")
        assert resp.status_code == 503, (resp.status_code, text(resp)[:300])
        message = visible(text(resp)) if how == "page" else resp.json["error"]["message"]
        problems = []
        if OUTAGE_MESSAGE in message:
            problems.append(f"the failed sign-out says {OUTAGE_MESSAGE!r}")
        if not re.search(r"sign(ing)?[ -]?out|signed out", message, re.IGNORECASE):
            problems.append(f"the message does not say the sign-out failed: {message[:200]!r}")
        assert not problems, "; ".join(problems)
        assert whoami(c) == user_id(app, EMAIL)  # nothing was reported done
    finally:
        dispose(app)
