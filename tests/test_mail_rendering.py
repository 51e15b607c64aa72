"""The account-protection mails as a phone and a dark-mode reader see them, in a
real Chromium: the HTML part fits a 390 px screen (its own viewport, long values
wrap) and a reader with a dark scheme gets light text on a dark background."""

from __future__ import annotations

import email.message
import pathlib
import typing as t

import pytest
from flask import Flask

from tests.conftest import create_app
from tests.conftest import dispose
from tests.helpers import NEW_PASSWORD
from tests.helpers import PASSWORD
from tests.helpers import UA_FIREFOX
from tests.helpers import auth_of
from tests.helpers import device
from tests.helpers import login
from tests.helpers import state_of

TEMPLATES = pathlib.Path(__file__).resolve().parent.parent / "templates" / "sessionauth" / "email"

LAYOUT = """() => {
  const root = document.documentElement, body = getComputedStyle(document.body);
  const muted = document.querySelector('.sa-mail-muted');
  return {
    client: root.clientWidth, scroll: root.scrollWidth,
    color: body.color, background: body.backgroundColor,
    muted: muted ? getComputedStyle(muted).color : null,
    link: getComputedStyle(document.querySelector('a') || document.body).color,
  };
}"""


def luminance(css: str) -> float:
    """Relative luminance (WCAG) of an ``rgb(...)`` value."""
    channels = [int(c) / 255 for c in css[css.index("(") + 1 : css.index(")")].split(",")[:3]]
    linear = [c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4 for c in channels]
    return 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]


def contrast(a: str, b: str) -> float:
    high, low = sorted((luminance(a), luminance(b)), reverse=True)
    return (high + 0.05) / (low + 0.05)


@pytest.fixture
def mails(tmp_path: pathlib.Path) -> t.Iterator[dict[str, email.message.EmailMessage]]:
    """A new-device mail (a long IPv6 address in it) and a password-changed mail, as sent."""
    sent: list[email.message.EmailMessage] = []
    app: Flask = create_app(
        {
            "SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path / 'mail.db'}",
            "SESSIONAUTH_MAIL_SEND": sent.append,
            "SESSIONAUTH_PUBLIC_URL": "https://accounts.example.com",
        }
    )
    with app.app_context():
        app.extensions["sqlalchemy"].create_all()
        auth_of(app).create_user("alice@example.com", PASSWORD)
    login(device(app, UA_FIREFOX, "2001:4860:4860:1234:5678:9abc:def0:1234"))
    with app.test_request_context():
        user = auth_of(app).find_user("alice@example.com")
        auth_of(app).change_password(user, PASSWORD, NEW_PASSWORD, confirm_password=NEW_PASSWORD)
    assert state_of(app).mailer.wait()
    yield {"new_device": sent[0], "password_changed": sent[-1]}
    dispose(app)


def test_every_html_mail_uses_the_layout() -> None:
    for template in TEMPLATES.glob("[!_]*.html"):
        assert template.read_text().startswith('{% extends "sessionauth/email/_layout.html" %}'), template.name


@pytest.mark.browser
@pytest.mark.parametrize("scheme", ["light", "dark"])
@pytest.mark.parametrize("which", ["new_device", "password_changed"])
def test_a_mail_fits_a_phone_and_reads_in_both_schemes(
    browser_device: t.Any, mails: dict[str, email.message.EmailMessage], which: str, scheme: str
) -> None:
    part = mails[which].get_body(preferencelist=("html",))
    assert part is not None
    page = browser_device(viewport={"width": 390, "height": 700}, is_mobile=True, color_scheme=scheme).page
    page.set_content(part.get_content())
    measured = page.evaluate(LAYOUT)
    assert measured["client"] == 390, measured  # laid out for the phone, not a 980 px desktop
    assert measured["scroll"] <= measured["client"], measured  # nothing wider than the screen
    assert contrast(measured["color"], measured["background"]) >= 7, measured
    assert contrast(measured["muted"], measured["background"]) >= 4.5, measured
    assert contrast(measured["link"], measured["background"]) >= 4.5, measured
    text_is_light = luminance(measured["color"]) > luminance(measured["background"])
    assert text_is_light == (scheme == "dark"), measured
