"""The account pages' finish: the site's own name, a word for a device signed out from
elsewhere, and the sign-in card's spacing measured in a real browser."""

from __future__ import annotations

import datetime as dt
import typing as t

import pytest
import time_machine
from flask import Flask

from tests.conftest import EVERY_STORAGE
from tests.helpers import UA_FIREFOX
from tests.helpers import auth_of
from tests.helpers import device
from tests.helpers import page_sign_in
from tests.helpers import session_ids
from tests.helpers import text
from tests.live import live_app
from tests.live import live_server

SIGNED_OUT_ELSEWHERE = "You were signed out of this device."


# -- SESSIONAUTH_SITE_NAME ---------------------------------------------------------------


def test_site_name_defaults_to_account(app: Flask) -> None:
    page = text(device(app).get("/account/login"))
    assert "<title>Sign in · Account</title>" in page


@pytest.mark.parametrize("app_config", [{"SESSIONAUTH_SITE_NAME": "Acme & <b>Co</b>"}])
def test_site_name_replaces_account_in_title_and_header_escaped(app: Flask, user: t.Any) -> None:
    c = device(app)
    login_page = text(c.get("/account/login"))
    assert "<title>Sign in · Acme &amp; &lt;b&gt;Co&lt;/b&gt;</title>" in login_page
    assert "<b>Co</b>" not in login_page  # a name is text, never markup
    page_sign_in(c)
    devices = text(c.get("/account/devices"))
    brand = devices.split('class="sa-brand"', 1)[1].split("</a>", 1)[0]
    assert "Acme &amp; &lt;b&gt;Co&lt;/b&gt;" in brand
    assert "· Acme &amp;" in devices.split("<title>", 1)[1].split("</title>", 1)[0]


# -- signed out from elsewhere ----------------------------------------------------------


@pytest.mark.storage(*EVERY_STORAGE)
def test_device_signed_out_elsewhere_is_told_so_once(app: Flask, user: t.Any) -> None:
    phone, laptop = device(app), device(app, UA_FIREFOX, "203.0.113.7")
    page_sign_in(phone)
    (phone_session,) = session_ids(app)
    page_sign_in(laptop)
    with app.test_request_context():
        assert auth_of(app).revoke_session(phone_session, user)

    resp = phone.get("/account/devices", follow_redirects=True)
    assert resp.request.path == "/account/login"
    assert SIGNED_OUT_ELSEWHERE in text(resp)
    assert SIGNED_OUT_ELSEWHERE not in text(phone.get("/account/login")), "said once, not on every visit"
    assert SIGNED_OUT_ELSEWHERE not in text(laptop.get("/account/devices")), "the other device is still signed in"


def test_expired_session_is_told_so(app: Flask, user: t.Any) -> None:
    c = device(app)
    page_sign_in(c)
    with time_machine.travel(dt.datetime.now(dt.timezone.utc) + dt.timedelta(days=30), tick=False):
        resp = c.get("/account/devices", follow_redirects=True)
    assert resp.request.path == "/account/login"
    assert SIGNED_OUT_ELSEWHERE in text(resp)


def test_no_notice_for_a_new_visitor_a_sign_out_here_or_a_malformed_cookie(app: Flask, user: t.Any) -> None:
    assert SIGNED_OUT_ELSEWHERE not in text(device(app).get("/account/devices", follow_redirects=True))

    c = device(app)
    page_sign_in(c)
    token = c.get("/account/devices").get_data(as_text=True).split('name="csrf_token" value="', 1)[1].split('"', 1)[0]
    signed_out = c.post("/account/logout", data={"csrf_token": token}, follow_redirects=True)
    assert "You have been signed out." in text(signed_out)
    assert SIGNED_OUT_ELSEWHERE not in text(signed_out)

    forged = device(app)
    forged.set_cookie("__Host-sessionauth", "not-a-token", secure=True)
    assert SIGNED_OUT_ELSEWHERE not in text(forged.get("/account/devices", follow_redirects=True))


def test_api_calls_with_a_revoked_cookie_leave_no_page_notice_behind(app: Flask, user: t.Any) -> None:
    """The JSON API answers 401 and writes nothing into the app's Flask session."""
    c = device(app)
    page_sign_in(c)
    with app.test_request_context():
        auth_of(app).revoke_sessions(user)
    resp = c.get("/api/auth/list-sessions")
    assert resp.status_code == 401
    assert not any("session=" in h and "sessionauth" not in h for h in resp.headers.getlist("Set-Cookie"))


# -- the sign-in card in Chromium --------------------------------------------------------

MEASURE = """() => {
  const px = (el, prop) => parseFloat(getComputedStyle(el)[prop]);
  const card = document.querySelector('.sa-card--auth');
  const form = card.querySelector('.sa-form');
  const item = card.querySelector('.sa-links li:last-child');
  const link = item.querySelector('a');
  const inner = card.getBoundingClientRect().bottom - px(card, 'borderBottomWidth');
  return {
    item_gap: inner - item.getBoundingClientRect().bottom,
    link_gap: inner - link.getBoundingClientRect().bottom,
    form_padding: px(form, 'paddingBottom'),
  };
}"""


@pytest.mark.browser
@pytest.mark.parametrize("width", [1280, 375])
def test_sign_in_card_keeps_its_padding_below_the_last_link(browser_device: t.Any, tmp_path: t.Any, width: int) -> None:
    app = live_app(
        str(tmp_path / "live.db"),
        SESSIONAUTH_LOGIN_LINKS=[("Create an account", "/signup"), ("Forgot your password?", "/forgot")],
    )
    with live_server(app) as base:
        page = browser_device(viewport={"width": width, "height": 900}).page
        page.goto(f"{base}/account/login")
        measured = page.evaluate(MEASURE)
    padding = measured["form_padding"]
    assert padding >= 16
    # The same space under the links as under the button when there are none.
    assert abs(measured["item_gap"] - padding) < 0.5, measured
    assert measured["link_gap"] >= padding, measured


INSETS = """() => {
  const form = document.querySelector('.sa-card--auth .sa-form').getBoundingClientRect();
  return [...document.querySelectorAll('.sa-card--auth > p')].map((p) => {
    const box = p.getBoundingClientRect();
    return { id: p.id || p.className, left: box.left - form.left, right: form.right - box.right };
  });
}"""


@pytest.mark.browser
@pytest.mark.parametrize("width", [1280, 375])
def test_sign_in_cards_lines_keep_the_forms_inset(browser_device: t.Any, tmp_path: t.Any, width: int) -> None:
    """The "signed out from" notice and the forgot-password link line up with the form,
    never touching the card's border (they did at every width)."""
    app = live_app(str(tmp_path / "live.db"))
    with app.test_request_context(environ_base={"HTTP_USER_AGENT": UA_FIREFOX}):
        issued = auth_of(app).login_user(auth_of(app).find_user("alice@example.com"))
        auth_of(app).revoke_session(issued.id, auth_of(app).find_user("alice@example.com"))
    with live_server(app) as base:
        page = browser_device(viewport={"width": width, "height": 900}).page
        page.context.add_cookies([{"name": "sessionauth", "value": issued.token, "url": base}])
        page.goto(f"{base}/account/devices")
        assert page.url.startswith(f"{base}/account/login")
        lines = page.evaluate(INSETS)
    assert {line["id"] for line in lines} >= {"sa-signed-out-from", "sa-muted sa-auth-foot"}, lines
    for line in lines:
        assert line["left"] >= -0.5 and line["right"] >= -0.5, lines
