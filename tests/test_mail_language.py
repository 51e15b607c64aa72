"""The account-protection mails in the recipient's language and time zone, on a
real SMTP server (``mailbox``): the language and zone of the request that
triggered the mail, else the app's Flask-Babel defaults, else English in UTC.

Abuse looked at: a value with markup characters (site name, device name) must
stay literal in the plain-text part and escaped in the HTML part; a hostile
``Accept-Language`` or zone cookie falls back (tests/test_i18n.py covers the
parsing); the mail is composed before it is queued, so the worker thread never
needs the request."""

from __future__ import annotations

import datetime as dt
import email.message
import typing as t
from types import SimpleNamespace

import pytest
import time_machine
from flask import Flask

from flask_sessionauth.core import signals
from flask_sessionauth.core.location import Location
from flask_sessionauth.glue.i18n import TZ_COOKIE
from tests.conftest import create_app
from tests.conftest import db
from tests.conftest import dispose
from tests.helpers import NEW_PASSWORD
from tests.helpers import PASSWORD
from tests.helpers import UA_CHROME
from tests.helpers import api_post
from tests.helpers import auth_of
from tests.helpers import device
from tests.helpers import page_sign_in
from tests.helpers import state_of
from tests.mailbox import Mailbox
from tests.mailbox import bodies

pytest.importorskip("flask_babel")

GERMAN = {"Accept-Language": "de-DE,de;q=0.9,en;q=0.5"}
GERMAN_EVERYWHERE = "Shop & Co: Sie wurden überall abgemeldet"
#: 23:22 UTC is 00:22 the next day in Berlin (CET).
SIGNED_IN_AT = dt.datetime(2026, 12, 6, 23, 22, tzinfo=dt.UTC)
#: A public address; the test resolver places it near Lyon (nothing is looked up).
LYON_IP = "81.250.0.1"


def near_lyon(ip: str) -> Location | None:
    return Location("FR", "Auvergne-Rhône-Alpes", "Lyon") if ip == LYON_IP else None


@pytest.fixture
def app_config(mailbox: Mailbox) -> dict[str, t.Any]:
    return {
        **mailbox.config(),
        "SESSIONAUTH_PUBLIC_URL": "https://app.example",
        "SESSIONAUTH_SITE_NAME": "Shop & Co",
        "SESSIONAUTH_GEOIP_RESOLVER": near_lyon,
    }


def mailed(app: Flask, mailbox: Mailbox, *subjects: str) -> list[email.message.EmailMessage]:
    """The mails with these subjects, in that order, once every queued mail was sent. By
    subject: an account's first sign-in from a device also mails that new device."""
    assert state_of(app).mailer.wait()
    # A long encoded subject is folded right after "Subject:" (Flask-Mailman): a leading space.
    found = {str(m["Subject"]).strip(): m for m in mailbox.wait_for(len(subjects))}
    assert set(subjects) <= set(found), list(found)
    return [found[s] for s in subjects]


def test_a_german_password_change_and_sign_out_everywhere_are_mailed_in_german(
    app: Flask, user: t.Any, client: t.Any, mailbox: Mailbox
) -> None:
    client.environ_base["HTTP_ACCEPT_LANGUAGE"] = GERMAN["Accept-Language"]
    page_sign_in(client)
    resp = api_post(client, "change-password", {"currentPassword": PASSWORD, "newPassword": NEW_PASSWORD})
    assert resp.status_code == 200
    api_post(client, "revoke-sessions", {})
    changed, everywhere = mailed(app, mailbox, "Shop & Co: Ihr Passwort wurde geändert", GERMAN_EVERYWHERE)
    text, html = bodies(changed)
    assert "Das Passwort Ihres Kontos bei Shop & Co wurde soeben geändert." in text  # plain text: not escaped
    assert '<html lang="de" dir="ltr">' in html and "Shop &amp; Co" in html and "Shop & Co" not in html
    assert "Sie können nicht darauf antworten." in html
    assert "überall abgemeldet (1 Gerät)." in bodies(everywhere)[0]  # the plural form for 1


class Located:
    """A session row as if signed in near Lyon (the location columns' values), for
    the signal a job outside any request sends."""

    country, region, city, device_name = "FR", "Auvergne-Rhône-Alpes", "Lyon", None

    def __init__(self, row: t.Any) -> None:
        self._row = row

    def __getattr__(self, name: str) -> t.Any:
        return getattr(self._row, name)


def test_a_new_device_mail_reads_in_the_requests_language_zone_and_country_names(
    app: Flask, user: t.Any, mailbox: Mailbox
) -> None:
    browser = device(app, UA_CHROME, LYON_IP)  # the account's first sign-in: a new device
    browser.environ_base["HTTP_ACCEPT_LANGUAGE"] = GERMAN["Accept-Language"]
    browser.set_cookie(TZ_COOKIE, "Europe/Berlin")
    with time_machine.travel(SIGNED_IN_AT, tick=False):
        page_sign_in(browser)
    (message,) = mailed(app, mailbox, "Shop & Co: neue Anmeldung von Chrome 131 unter macOS")
    text, html = bodies(message)
    assert "Gerät: Chrome 131 unter macOS" in text
    assert "Ort: in der Nähe von Lyon, Frankreich" in text  # CLDR's German name of FR
    assert "00:22 CET" in text  # the browser's zone, not UTC
    assert "Das war ich nicht" in text and "/account/report-device?token=" in text
    assert ">Das war ich nicht</a>: Melden Sie dieses Gerät ab" in html


def test_arabic_mails_are_right_to_left_with_every_plural_form(
    app: Flask, user: t.Any, client: t.Any, mailbox: Mailbox
) -> None:
    client.environ_base["HTTP_ACCEPT_LANGUAGE"] = "ar"
    page_sign_in(client)
    api_post(client, "revoke-sessions", {})
    (message,) = mailed(app, mailbox, "Shop & Co: تم تسجيل خروجك من كل مكان")
    text, html = bodies(message)
    assert '<html lang="ar" dir="rtl">' in html
    assert "(جهاز واحد)" in text  # Arabic says "one device" in words


def test_outside_a_request_the_apps_default_language_and_zone_apply(
    storage_config: dict[str, t.Any], mailbox: Mailbox
) -> None:
    defaults = {"BABEL_DEFAULT_LOCALE": "fr", "BABEL_DEFAULT_TIMEZONE": "Asia/Tokyo"}
    app = create_app({**storage_config, **mailbox.config(), **defaults})
    try:
        with app.app_context():
            db.drop_all()
            db.create_all()
            auth = auth_of(app)
            user = auth.create_user("alice@example.com", PASSWORD)
            auth.set_password(user, NEW_PASSWORD)  # a job, the Python API: no request
            row = SimpleNamespace(id="s1", user_agent=UA_CHROME, ip_address=None, created_at=SIGNED_IN_AT)
            signals.new_device_sign_in.send(app, user=user, session=Located(row))
        changed, new_device = mailed(
            app,
            mailbox,
            "Account : votre mot de passe a été modifié",
            "Account : nouvelle connexion depuis Chrome 131 sur macOS",
        )
        assert "Le mot de passe de votre compte sur Account vient d’être modifié." in bodies(changed)[0]
        text = bodies(new_device)[0]
        assert "Lieu : près de Lyon, France" in text and "08:22 JST" in text  # the default zone
    finally:
        dispose(app, drop=True)


def test_without_a_language_the_mail_stays_english(app: Flask, user: t.Any, client: t.Any, mailbox: Mailbox) -> None:
    client.environ_base["HTTP_ACCEPT_LANGUAGE"] = "xx-YY, *;q=0.1"  # nothing shipped: English
    page_sign_in(client)
    api_post(client, "change-password", {"currentPassword": PASSWORD, "newPassword": NEW_PASSWORD})
    (message,) = mailed(app, mailbox, "Shop & Co: your password was changed")
    assert '<html lang="en" dir="ltr">' in bodies(message)[1]
