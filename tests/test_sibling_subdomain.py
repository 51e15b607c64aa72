"""Issue 10, items 5 and 6: a sibling subdomain attacks the account pages.

The victim app runs on ``https://app.app.test``; the attacker controls
``https://evil.app.test`` (same registrable domain ``app.test``, so it is
*same-site*: ``SameSite=Lax`` cookies go along with its form posts). It cannot
touch the ``__Host-`` session cookie, but it can set a cookie with
``Domain=app.test`` that overwrites Flask's ``session`` cookie, where the
CSRF secret lives, and then auto-submit a form with the matching token.

Real Chromium over TLS, one werkzeug HTTPS server answering both host names
(``--host-resolver-rules`` maps ``*.app.test`` to 127.0.0.1). Plus test-client
checks that every page POST refuses a foreign ``Origin``/``Sec-Fetch-Site``.
"""

from __future__ import annotations

import json
import re
import typing as t

import pytest

from tests.attack_support import build_app
from tests.attack_support import chromium
from tests.attack_support import client_at
from tests.attack_support import csrf_from
from tests.attack_support import dispose
from tests.attack_support import host_dispatcher
from tests.attack_support import page_sign_in
from tests.attack_support import raw_get
from tests.attack_support import self_signed_cert
from tests.attack_support import session_cookie_name
from tests.attack_support import sqlite_url
from tests.attack_support import text
from tests.attack_support import tls_server
from tests.attack_support import user_id
from tests.attack_support import whoami
from tests.helpers import PASSWORD

APP_HOST = "app.app.test"
EVIL_HOST = "evil.app.test"
VICTIM = "alice@example.com"
ATTACKER = "mallory@example.com"


# -- the two sites -------------------------------------------------------------------------


class EvilSite:
    """The attacker's pages on the sibling host: path → HTML."""

    def __init__(self) -> None:
        self.pages: dict[str, str] = {}

    def __call__(self, environ: dict[str, t.Any], start_response: t.Any) -> t.Any:
        page = self.pages.get(environ.get("PATH_INFO", "/"))
        if page is None:
            start_response("404 Not Found", [("Content-Type", "text/plain")])
            return [b"no such page"]
        start_response("200 OK", [("Content-Type", "text/html; charset=utf-8"), ("Cache-Control", "no-store")])
        return [page.encode()]


class Sites(t.NamedTuple):
    app: t.Any
    evil: EvilSite
    port: int

    def url(self, host: str, path: str) -> str:
        return f"https://{host}:{self.port}{path}"


@pytest.fixture(scope="module")
def sites(tmp_path_factory: pytest.TempPathFactory) -> t.Iterator[Sites]:
    directory = tmp_path_factory.mktemp("sibling")
    app = build_app(sqlite_url(directory, "victim.db"), [VICTIM, ATTACKER])
    cert, key = self_signed_cert(directory, [APP_HOST, EVIL_HOST])
    evil = EvilSite()
    try:
        with tls_server(host_dispatcher({APP_HOST: app, EVIL_HOST: evil}), cert, key) as port:
            yield Sites(app, evil, port)
    finally:
        dispose(app)


@pytest.fixture(scope="module")
def browser() -> t.Iterator[t.Any]:
    with chromium("--host-resolver-rules=MAP *.app.test 127.0.0.1", "--ignore-certificate-errors") as b:
        yield b


@pytest.fixture
def context(browser: t.Any) -> t.Iterator[t.Any]:
    ctx = browser.new_context(ignore_https_errors=True)
    try:
        yield ctx
    finally:
        ctx.close()


def attacker_csrf_pair(app: t.Any) -> tuple[str, str]:
    """What the attacker gets by loading the sign-in page on their own machine:
    their Flask ``session`` cookie and the CSRF token that matches it."""
    client = app.test_client()
    resp = client.get("/account/login", base_url=f"https://{APP_HOST}")
    token = csrf_from(text(resp))
    cookies = "\n".join(resp.headers.getlist("Set-Cookie"))
    name = re.escape(app.config["SESSION_COOKIE_NAME"])
    match = re.search(rf"(?:^|\n){name}=([^;]+)", cookies)
    assert match, cookies
    return match.group(1), token


def attack_page(sites: Sites, action: str, fields: dict[str, str], cookie_js: str) -> str:
    inputs = "".join(f'<input type="hidden" name="{k}" value="{v}">' for k, v in fields.items())
    return f"""<!doctype html><html><body>
<form id="f" method="post" action="{sites.url(APP_HOST, action)}">{inputs}</form>
<script>
{cookie_js}
document.getElementById("f").submit();
</script></body></html>"""


def plant_session_js(value: str, name: str) -> str:
    # Path=/account is longer than the victim's own host-only cookie (Path=/), so
    # the browser sends the attacker's first and Flask reads that one. (A
    # ``__Host-`` name cannot be planted this way at all: the browser refuses it.)
    return f'document.cookie = "{name}={value}; Domain=app.test; Path=/account; Secure; SameSite=Lax";'


def whoami_in(page: t.Any, sites: Sites) -> t.Any:
    page.goto(sites.url(APP_HOST, "/whoami"))
    return json.loads(page.inner_text("body"))["user_id"]


def sign_in_in_browser(page: t.Any, sites: Sites, email: str = VICTIM) -> None:
    page.goto(sites.url(APP_HOST, "/account/login"))
    page.fill("#email", email)
    page.fill("#password", PASSWORD)
    with page.expect_navigation():
        page.click("button[type=submit]")
    assert whoami_in(page, sites) == user_id(sites.app, email)


# -- item 5 in Chromium ----------------------------------------------------------------------


@pytest.mark.browser
@pytest.mark.slow
def test_sibling_subdomain_cannot_sign_the_victim_in_as_the_attacker(sites: Sites, context: t.Any) -> None:
    """Login CSRF: the victim opens a page on evil.app.test; it plants the
    attacker's Flask session cookie for Domain=app.test and auto-submits the
    sign-in form with the attacker's credentials. The victim must not end up
    signed in as the attacker."""
    value, token = attacker_csrf_pair(sites.app)
    sites.evil.pages["/login-csrf"] = attack_page(
        sites,
        "/account/login",
        {"email": ATTACKER, "password": PASSWORD, "csrf_token": token},
        plant_session_js(value, sites.app.config["SESSION_COOKIE_NAME"]),
    )
    page = context.new_page()
    page.goto(sites.url(EVIL_HOST, "/login-csrf"))
    page.wait_for_url(re.compile(rf"https://{re.escape(APP_HOST)}:\d+/.*"))
    page.wait_for_load_state()
    signed_in_as = whoami_in(page, sites)
    assert signed_in_as != user_id(sites.app, ATTACKER), "the sibling subdomain signed the victim in as the attacker"
    assert signed_in_as is None


@pytest.mark.browser
@pytest.mark.slow
@pytest.mark.parametrize("action", ["/account/logout", "/account/devices/revoke-all"])
def test_sibling_subdomain_cannot_sign_the_victim_out(sites: Sites, context: t.Any, action: str) -> None:
    """Forced sign-out: the signed-in victim (fresh session, so revoke-all needs
    no password) opens the attacker's page, which plants the attacker's session
    cookie and auto-submits sign-out / sign-out-everywhere with the matching
    token. The victim must stay signed in, on this device and on another."""
    other_device = sites.app.test_client()
    page_sign_in(other_device)
    assert whoami(other_device) == user_id(sites.app, VICTIM)

    page = context.new_page()
    sign_in_in_browser(page, sites)
    value, token = attacker_csrf_pair(sites.app)
    path = "/forced-" + action.rsplit("/", 1)[1]
    sites.evil.pages[path] = attack_page(
        sites, action, {"csrf_token": token}, plant_session_js(value, sites.app.config["SESSION_COOKIE_NAME"])
    )
    page.goto(sites.url(EVIL_HOST, path))
    page.wait_for_url(re.compile(rf"https://{re.escape(APP_HOST)}:\d+/.*"))
    page.wait_for_load_state()

    alice = user_id(sites.app, VICTIM)
    here, elsewhere = whoami_in(page, sites), whoami(other_device)
    assert (here, elsewhere) == (alice, alice), (
        f"the sibling subdomain's POST {action} signed the victim out: "
        f"this browser {'in' if here == alice else 'OUT'}, other device {'in' if elsewhere == alice else 'OUT'}"
    )


@pytest.mark.browser
@pytest.mark.slow
def test_control_the_same_forms_without_the_planted_cookie_are_refused(sites: Sites, context: t.Any) -> None:
    """Harness check (passes today): without overwriting Flask's session cookie
    the attacker's token does not match and both forged posts fail, so the
    two tests above fail because of the cookie overwrite, not the setup."""
    page = context.new_page()
    sign_in_in_browser(page, sites)
    _, token = attacker_csrf_pair(sites.app)
    sites.evil.pages["/control-logout"] = attack_page(sites, "/account/logout", {"csrf_token": token}, "")
    page.goto(sites.url(EVIL_HOST, "/control-logout"))
    page.wait_for_url(re.compile(rf"https://{re.escape(APP_HOST)}:\d+/.*"))
    page.wait_for_load_state()
    assert whoami_in(page, sites) == user_id(sites.app, VICTIM)

    fresh = context.browser.new_context(ignore_https_errors=True)
    try:
        other = fresh.new_page()
        sites.evil.pages["/control-login"] = attack_page(
            sites, "/account/login", {"email": ATTACKER, "password": PASSWORD, "csrf_token": token}, ""
        )
        other.goto(sites.url(EVIL_HOST, "/control-login"))
        other.wait_for_url(re.compile(rf"https://{re.escape(APP_HOST)}:\d+/.*"))
        other.wait_for_load_state()
        assert whoami_in(other, sites) is None
    finally:
        fresh.close()


# -- item 6 in Chromium ----------------------------------------------------------------------


@pytest.mark.browser
@pytest.mark.slow
def test_look_alike_cookie_from_a_sibling_does_not_sign_the_victim_out(sites: Sites, context: t.Any) -> None:
    """The sibling sets ``x__Host-sessionauth`` (a different cookie: its name only
    *contains* the session cookie's). The victim must stay signed in."""
    page = context.new_page()
    sign_in_in_browser(page, sites)
    sites.evil.pages["/look-alike"] = (
        "<!doctype html><script>"
        'document.cookie = "x__Host-sessionauth=1; Domain=app.test; Path=/; Secure; SameSite=Lax";'
        "</script><p>done</p>"
    )
    page.goto(sites.url(EVIL_HOST, "/look-alike"))
    page.wait_for_selector("p")
    names = [c["name"] for c in context.cookies(sites.url(APP_HOST, "/"))]
    assert "x__Host-sessionauth" in names and "__Host-sessionauth" in names, names  # the attack is in place

    assert whoami_in(page, sites) == user_id(sites.app, VICTIM), "a look-alike cookie name signed the victim out"
    assert whoami_in(page, sites) == user_id(sites.app, VICTIM)


# -- item 5 through the test client: every page POST checks Origin / Sec-Fetch-Site --------


SELF = f"https://{APP_HOST}"
FOREIGN_HEADERS = [
    {"Origin": f"https://{EVIL_HOST}"},
    {"Origin": "https://evil.example"},
    {"Origin": "null"},
    {"Sec-Fetch-Site": "cross-site"},
    {"Sec-Fetch-Site": "same-site"},
    {"Origin": SELF, "Sec-Fetch-Site": "cross-site"},
]
FOREIGN_IDS = [
    "sibling-origin",
    "foreign-origin",
    "null-origin",
    "fetch-cross-site",
    "fetch-same-site",
    "own-origin-cross-site",
]


@pytest.fixture
def victim_app(tmp_path: t.Any) -> t.Iterator[t.Any]:
    app = build_app(sqlite_url(tmp_path), [VICTIM, ATTACKER])
    yield app
    dispose(app)


def client_of(app: t.Any) -> t.Any:
    return client_at(app, SELF)


def signed_in_client(app: t.Any) -> t.Any:
    c = client_of(app)
    resp = page_sign_in(c, origin=SELF)
    assert resp.status_code == 302, text(resp)
    return c


def foreign_post(
    client: t.Any,
    path: str,
    headers: dict[str, str],
    data: dict[str, str] | None = None,
    page: str = "/account/devices",
) -> t.Any:
    """A form POST with a valid CSRF token from this very browser, but sent by another site."""
    token = csrf_from(text(client.get(page)))
    return client.post(path, data={"csrf_token": token, **(data or {})}, headers=headers)


def refused(resp: t.Any) -> bool:
    return resp.status_code in (400, 403)


@pytest.mark.parametrize("headers", FOREIGN_HEADERS, ids=FOREIGN_IDS)
def test_sign_in_post_from_another_site_is_refused(victim_app: t.Any, headers: dict[str, str]) -> None:
    c = client_of(victim_app)
    resp = foreign_post(c, "/account/login", headers, {"email": ATTACKER, "password": PASSWORD}, page="/account/login")
    assert refused(resp), f"sign-in POST with {headers} answered {resp.status_code}"
    assert whoami(c) is None
    # Control: the same post from the site itself signs in.
    ok = foreign_post(
        c, "/account/login", {"Origin": SELF}, {"email": ATTACKER, "password": PASSWORD}, page="/account/login"
    )
    assert ok.status_code == 302


@pytest.mark.parametrize("headers", FOREIGN_HEADERS, ids=FOREIGN_IDS)
@pytest.mark.parametrize("path", ["/account/logout", "/account/devices/revoke-all", "/account/devices/revoke-others"])
def test_sign_out_posts_from_another_site_are_refused(victim_app: t.Any, headers: dict[str, str], path: str) -> None:
    c = signed_in_client(victim_app)
    other = signed_in_client(victim_app)
    resp = foreign_post(c, path, headers)
    assert refused(resp), f"POST {path} with {headers} answered {resp.status_code}"
    alice = user_id(victim_app, VICTIM)
    assert whoami(c) == alice
    assert whoami(other) == alice


@pytest.mark.parametrize(
    "headers", FOREIGN_HEADERS[:2] + FOREIGN_HEADERS[3:4], ids=["sibling-origin", "foreign-origin", "fetch-cross-site"]
)
def test_revoke_one_device_from_another_site_is_refused(victim_app: t.Any, headers: dict[str, str]) -> None:
    c = signed_in_client(victim_app)
    other = signed_in_client(victim_app)
    sessions = c.get("/api/auth/list-sessions").json
    target = next(s["id"] for s in sessions if not s["current"])
    resp = foreign_post(c, f"/account/devices/{target}/revoke", headers)
    assert refused(resp), f"revoke POST with {headers} answered {resp.status_code}"
    assert whoami(other) == user_id(victim_app, VICTIM)


@pytest.mark.parametrize(
    "headers", FOREIGN_HEADERS[:2] + FOREIGN_HEADERS[3:4], ids=["sibling-origin", "foreign-origin", "fetch-cross-site"]
)
def test_password_change_and_confirm_from_another_site_are_refused(victim_app: t.Any, headers: dict[str, str]) -> None:
    c = signed_in_client(victim_app)
    new = "attacker chosen password"
    resp = foreign_post(
        c,
        "/account/password",
        headers,
        {"current_password": PASSWORD, "new_password": new, "confirm_password": new, "revoke_other_sessions": "y"},
        page="/account/password",
    )
    assert refused(resp), f"password POST with {headers} answered {resp.status_code}"
    fresh = client_of(victim_app)
    assert page_sign_in(fresh, origin=SELF).status_code == 302, "the password was changed by a cross-site POST"

    resp = foreign_post(c, "/account/confirm", headers, {"password": PASSWORD}, page="/account/confirm")
    assert refused(resp), f"confirm POST with {headers} answered {resp.status_code}"


def test_csrf_token_from_before_sign_in_is_dead_after_it(victim_app: t.Any) -> None:
    """Item 5: the CSRF secret is rotated when a session is created, so a token
    an attacker planted (or read) before sign-in is worthless afterwards."""
    c = client_of(victim_app)
    before = csrf_from(text(c.get("/account/login")))
    resp = c.post(
        "/account/login", data={"email": VICTIM, "password": PASSWORD, "csrf_token": before}, headers={"Origin": SELF}
    )
    assert resp.status_code == 302
    resp = c.post("/account/logout", data={"csrf_token": before}, headers={"Origin": SELF})
    assert resp.status_code in (400, 403), f"a pre-sign-in CSRF token still works after sign-in ({resp.status_code})"
    assert whoami(c) == user_id(victim_app, VICTIM)


def test_csrf_token_from_before_a_rotation_is_dead_after_it(victim_app: t.Any) -> None:
    """Item 5: likewise when the session is rotated (password confirmed)."""
    c = signed_in_client(victim_app)
    before = csrf_from(text(c.get("/account/confirm")))
    resp = c.post("/account/confirm", data={"password": PASSWORD, "csrf_token": before}, headers={"Origin": SELF})
    assert resp.status_code == 302
    resp = c.post("/account/logout", data={"csrf_token": before}, headers={"Origin": SELF})
    assert resp.status_code in (400, 403), f"a CSRF token from before the rotation still works ({resp.status_code})"
    assert whoami(c) == user_id(victim_app, VICTIM)


# -- item 6 through the test client ------------------------------------------------------


@pytest.mark.parametrize("name", ["x__Host-sessionauth", "a.__Host-sessionauth", "X__Host-sessionauth"])
def test_look_alike_cookie_names_do_not_sign_the_user_out(victim_app: t.Any, name: str) -> None:
    c = signed_in_client(victim_app)
    real = session_cookie_name(victim_app)
    token = c.get_cookie(real, domain=APP_HOST).value
    for header in (f"{name}=1; {real}={token}", f"{real}={token}; {name}=1"):
        resp = raw_get(victim_app, "/whoami", header, base_url=SELF)
        assert resp.json["user_id"] == user_id(victim_app, VICTIM), f"{header!r} was treated as cookie tossing"
        assert not any(v.startswith(f"{real}=;") for v in resp.headers.getlist("Set-Cookie")), (
            "the session cookie was cleared"
        )
    # Control: a real second session cookie still fails closed.
    tossed = raw_get(victim_app, "/whoami", f"{real}={token}; {real}=x.y", base_url=SELF)
    assert tossed.json["user_id"] is None
