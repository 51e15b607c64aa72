"""Translated pages, flashes, form errors, API messages and CLI output (issue 18):
locale negotiation, the app's Flask-Babel selectors, the browser's time zone,
dates and relative times in the locale, plural forms, app-supplied catalogues,
and everything staying English without Flask-Babel."""

from __future__ import annotations

import datetime as dt
import os
import pathlib
import subprocess
import sys
import textwrap
import typing as t

import flask_babel
import pytest
from babel.messages import Catalog
from babel.messages.mofile import write_mo
from flask import Flask

from flask_sessionauth.core import messages
from flask_sessionauth.core.errors import RateLimited
from flask_sessionauth.core.location import LOCAL_NETWORK
from flask_sessionauth.core.location import describe as describe_location
from flask_sessionauth.core.presentation import format_time
from flask_sessionauth.core.presentation import relative_time
from flask_sessionauth.glue.i18n import TZ_COOKIE
from flask_sessionauth.glue.i18n import force
from tests.helpers import PASSWORD
from tests.helpers import api_post
from tests.helpers import login
from tests.helpers import page_csrf_token
from tests.helpers import text
from tests.helpers import wire_code

pytestmark = pytest.mark.storage("sqlite")
ROOT = pathlib.Path(__file__).resolve().parent.parent
NOW = dt.datetime(2026, 11, 27, 14, 5, tzinfo=dt.timezone.utc)


def devices_page(client: t.Any, language: str | None = None, **headers: str) -> t.Any:
    if language is not None:
        headers["Accept-Language"] = language
    return client.get("/account/devices", headers=headers)


@pytest.mark.parametrize(
    ("language", "lang", "direction", "phrases"),
    [
        (
            "de-DE,de;q=0.9",
            "de",
            "ltr",
            ["Wo Sie angemeldet sind", "Dieses Gerät", "Gerade aktiv", "Chrome 131 unter macOS"],
        ),
        ("ja", "ja", "ltr", ["ログイン中の場所", "このデバイス", "現在アクティブ", "Chrome 131（macOS）"]),
        ("ar", "ar", "rtl", ["الأجهزة التي سجّلت الدخول عليها", "هذا الجهاز", "نشط الآن", "Chrome 131 على macOS"]),
        ("fr-CH, fr;q=0.9", "fr", "ltr", ["Où vous êtes connecté", "Cet appareil"]),
        ("es-419", "es", "ltr", ["Dónde has iniciado sesión", "Este dispositivo"]),
    ],
)
def test_devices_page_in_the_negotiated_language(
    client: t.Any, user: t.Any, language: str, lang: str, direction: str, phrases: list[str]
) -> None:
    login(client)
    page = devices_page(client, language)
    body = text(page)
    assert page.status_code == 200
    assert f'<html lang="{lang}" dir="{direction}">' in body
    for phrase in phrases:
        assert phrase in body
    assert "Where you're signed in" not in body
    assert "Accept-Language" in page.headers["Vary"] and "Cookie" in page.headers["Vary"]


@pytest.mark.parametrize(
    ("header", "lang"),
    [
        ("", "en"),
        ("pt-BR, zh;q=0.8", "en"),  # nothing shipped matches: the source language
        ("en;q=0.1, ja", "ja"),  # quality, not order, decides
        ("de-AT", "de"),  # a region falls back to its language
        ("*", "en"),
        ("en-GB, de;q=0.5", "en"),
    ],
)
def test_accept_language_negotiation(client: t.Any, user: t.Any, header: str, lang: str) -> None:
    page = client.get("/account/login", headers={"Accept-Language": header})
    assert f'<html lang="{lang}"' in text(page)


@pytest.mark.parametrize(
    "header",
    [
        "x" * 20000,
        "de;q=abc, ;;;, ,",
        "de;q=1e999, ar;q=-1",
        "\u00e4\u00f6\u00fc;q=0.5",
        "../../etc/passwd",
        "de-" + "A" * 500,
        ",".join(f"l{i};q=0.{i % 10}" for i in range(2000)),
    ],
)
def test_hostile_accept_language_is_no_error(client: t.Any, user: t.Any, header: str) -> None:
    login(client)
    page = devices_page(client, header)
    assert page.status_code == 200


def test_the_apps_locale_selector_wins_and_none_falls_back(app: Flask, client: t.Any, user: t.Any) -> None:
    chosen: list[str | None] = ["es"]
    flask_babel.Babel(app, locale_selector=lambda: chosen[0])
    login(client)
    assert '<html lang="es"' in text(devices_page(client, "de"))
    chosen[0] = None  # the app has no opinion: Accept-Language decides
    assert '<html lang="de"' in text(devices_page(client, "de"))
    chosen[0] = "zz_ZZ"  # a locale nothing ships for: Accept-Language again
    assert '<html lang="ja"' in text(devices_page(client, "ja"))
    chosen[0] = "ar_EG"  # a region of a shipped language
    assert '<html lang="ar" dir="rtl"' in text(devices_page(client, "de"))


def test_the_apps_timezone_selector_wins_over_the_cookie(app: Flask, client: t.Any, user: t.Any) -> None:
    flask_babel.Babel(app, timezone_selector=lambda: "Asia/Tokyo")
    login(client)
    client.set_cookie(TZ_COOKIE, "America/New_York")
    assert "JST" in text(devices_page(client, "de"))


@pytest.mark.parametrize(("zone", "abbreviation"), [("Asia/Tokyo", "JST"), ("America/New_York", "E")])
def test_browser_time_zone_cookie(client: t.Any, user: t.Any, zone: str, abbreviation: str) -> None:
    login(client)
    assert " UTC" in text(devices_page(client, "de"))  # no JavaScript, no cookie: UTC
    client.set_cookie(TZ_COOKIE, zone)
    body = text(devices_page(client, "de"))
    assert f" {abbreviation}" in body and " UTC</time>" not in body


@pytest.mark.parametrize(
    "value",
    ["../../../etc/passwd", "/etc/localtime", "Not/AZone", "Europe/" + "x" * 200, "UTC\x00", "Europe\\Berlin", "", "."],
)
def test_hostile_time_zone_cookie_means_utc(client: t.Any, user: t.Any, value: str) -> None:
    login(client)
    client.set_cookie(TZ_COOKIE, value)
    page = devices_page(client, "de")
    assert page.status_code == 200
    assert " UTC" in text(page)


def test_flashes_form_errors_and_api_messages_translate(client: t.Any, user: t.Any) -> None:
    german = {"Accept-Language": "de"}
    resp = client.post(
        "/account/login", data={"csrf_token": page_csrf_token(client), "email": "", "password": ""}, headers=german
    )
    assert "Geben Sie Ihre E-Mail-Adresse ein." in text(resp) and "Geben Sie Ihr Passwort ein." in text(resp)
    assert "E-Mail-Adresse" in text(resp)  # the field label
    login(client)
    client.post("/account/logout", data={"csrf_token": page_csrf_token(client, "/account/devices")}, headers=german)
    assert "Sie wurden abgemeldet." in text(client.get("/account/login", headers=german))
    wrong = api_post(client, "sign-in/email", {"email": "alice@example.com", "password": "nope"}, headers=german)
    assert wire_code(wrong) == "INVALID_EMAIL_OR_PASSWORD"  # the code stays stable English
    assert wrong.json["message"] == "E-Mail-Adresse oder Passwort ist falsch."
    english = api_post(client, "sign-in/email", {"email": "alice@example.com", "password": "nope"})
    assert english.json["message"] == "Incorrect email or password."


def test_arabic_uses_all_six_plural_forms() -> None:
    with force("ar"):
        phrases = [messages.signed_out_everywhere(n) for n in (0, 1, 2, 3, 11, 100)]
        waits = [str(RateLimited(n).message) for n in (1, 2, 5)]
    assert len(set(phrases)) == 6, phrases
    assert "جهاز واحد" in phrases[1] and "جهازان" in phrases[2] and "3 أجهزة" in phrases[3]
    assert "11 جهازًا" in phrases[4] and "100 جهاز" in phrases[5]
    assert "ثانية واحدة" in waits[0] and "ثانيتين" in waits[1] and "5 ثوانٍ" in waits[2]
    with force("ja"):  # one form for every number
        assert messages.more_devices(1) == "ほか 1 台のデバイス" and messages.more_devices(7) == "ほか 7 台のデバイス"


@pytest.mark.parametrize(
    ("locale", "near", "country", "local"),
    [
        ("en", "near Lyon, France", "in France", "Local network"),  # core's own English names, as before
        ("de", "in der Nähe von Lyon, Frankreich", "Frankreich", "Lokales Netzwerk"),
        ("ja", "フランス、Lyon 付近", "フランス", "ローカル ネットワーク"),
        ("ar", "بالقرب من Lyon، فرنسا", "في فرنسا", "شبكة محلية"),
    ],
)
def test_locations_read_in_the_language_with_cldr_country_names(
    locale: str, near: str, country: str, local: str
) -> None:
    with force(locale, "Europe/Paris"):  # a zone: Babel formats even English
        assert describe_location("FR", "Auvergne-Rhône-Alpes", "Lyon") == near
        assert describe_location("FR") == country
        assert describe_location(LOCAL_NETWORK) == local
        assert describe_location("QQ") in ("in QQ", "QQ", "في QQ")  # a code nobody names: the code


@pytest.mark.parametrize(
    ("locale", "zone", "ago", "clock"),
    [
        ("de", "UTC", "vor 3 Stunden", "14:05 UTC"),
        ("fr", "Europe/Paris", "il y a 3 heures", "15:05 CET"),
        ("ja", "Asia/Tokyo", "3 時間前", "23:05 JST"),
        ("en", "UTC", "3 hours ago", "14:05 UTC"),
    ],
)
def test_relative_times_and_clock_times_in_locale_and_zone(locale: str, zone: str, ago: str, clock: str) -> None:
    with force(locale, zone):
        assert relative_time(NOW - dt.timedelta(hours=3), NOW, 300) == ago
        assert format_time(NOW) == clock


def test_an_apps_catalogue_overrides_and_adds_languages(
    app: Flask, client: t.Any, user: t.Any, tmp_path: t.Any
) -> None:
    for locale, translations in (("de", {"Devices": "Sitzungen"}), ("pt_BR", {"Devices": "Dispositivos conectados"})):
        catalog = Catalog(locale=locale, domain="sessionauth")
        for msgid, msgstr in translations.items():
            catalog.add(msgid, msgstr)
        (tmp_path / locale / "LC_MESSAGES").mkdir(parents=True)
        with open(tmp_path / locale / "LC_MESSAGES" / "sessionauth.mo", "wb") as f:
            write_mo(f, catalog)
    app.config["SESSIONAUTH_TRANSLATION_DIRECTORIES"] = [str(tmp_path)]
    login(client)
    german = text(devices_page(client, "de"))
    assert "<span>Sitzungen</span>" in german and "Wo Sie angemeldet sind" in german  # the rest: shipped
    brazilian = text(devices_page(client, "pt-BR"))
    assert '<html lang="pt-BR"' in brazilian and "Dispositivos conectados" in brazilian


def test_cli_follows_locale_option_then_lang(app: Flask, user: t.Any, monkeypatch: pytest.MonkeyPatch) -> None:
    runner = app.test_cli_runner()
    for variable in ("LC_ALL", "LC_MESSAGES", "LANG"):
        monkeypatch.delenv(variable, raising=False)
    assert "has no active sessions" in runner.invoke(args=["sessionauth", "list", "alice@example.com"]).output
    german = runner.invoke(args=["sessionauth", "--locale", "de", "list", "alice@example.com"])
    assert "alice@example.com hat keine aktiven Sitzungen." in german.output
    monkeypatch.setenv("LANG", "ja_JP.UTF-8")
    japanese = runner.invoke(args=["sessionauth", "list", "alice@example.com"])
    assert "alice@example.com には有効なセッションがありません。" in japanese.output
    monkeypatch.setenv("LANG", "C.UTF-8")
    assert "has no active sessions" in runner.invoke(args=["sessionauth", "list", "alice@example.com"]).output


def test_cli_times_in_the_timezone_option(app: Flask, client: t.Any, user: t.Any) -> None:
    login(client)
    result = app.test_cli_runner().invoke(
        args=["sessionauth", "--locale", "de", "--timezone", "Asia/Tokyo", "list", "alice@example.com"]
    )
    assert result.exit_code == 0, result.output
    assert "GERÄT" in result.output and "JST" in result.output and "UTC" not in result.output


BLOCKER = textwrap.dedent(
    """
    import sys

    class Block:
        def find_spec(self, name, path=None, target=None):
            if name == "flask_babel" or name.startswith("flask_babel."):
                raise ImportError("blocked for the test: " + name)

    sys.meta_path.insert(0, Block())
    """
)

WITHOUT_BABEL = BLOCKER + textwrap.dedent(
    """
    import sqlalchemy as sa
    from flask import Flask
    from flask_sqlalchemy import SQLAlchemy
    from flask_sessionauth import SessionAuth
    from flask_sessionauth.glue import i18n

    assert not i18n.ENABLED
    db = SQLAlchemy()

    class User(db.Model):
        id = sa.Column(sa.Integer, primary_key=True)
        email = sa.Column(sa.String(320), unique=True)
        password_hash = sa.Column(sa.String(255))

    app = Flask(__name__)
    app.config.update(SECRET_KEY="x", SQLALCHEMY_DATABASE_URI="sqlite://", SESSIONAUTH_COOKIE_SECURE=False)
    db.init_app(app)
    SessionAuth(app, db=db, user_model=User)
    with app.app_context():
        db.create_all()
    client = app.test_client()
    page = client.get("/account/login", headers={"Accept-Language": "de"})
    body = page.get_data(as_text=True)
    assert page.status_code == 200, page.status_code
    assert '<html lang="en" dir="ltr">' in body and "Sign in to your account" in body
    client.set_cookie("sa_tz", "Asia/Tokyo")
    wrong = client.post("/api/auth/sign-in/email", json={"email": "a@b.c", "password": "x"},
                        headers={"Accept-Language": "ar", "Origin": "http://localhost"})
    assert wrong.json["message"] == "Incorrect email or password.", wrong.json
    print("ENGLISH OK")
    """
)


def test_without_flask_babel_everything_stays_english() -> None:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    result = subprocess.run(
        [sys.executable, "-c", WITHOUT_BABEL], capture_output=True, text=True, env=env, cwd=ROOT, timeout=120
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert "ENGLISH OK" in result.stdout


def test_english_pages_are_unchanged_by_default(client: t.Any, user: t.Any) -> None:
    login(client)
    body = text(devices_page(client))
    assert '<html lang="en" dir="ltr">' in body
    assert "Where you're signed in" in body and "Active now" in body and "Chrome 131 on macOS" in body
    assert PASSWORD not in body


def test_api_errors_vary_by_language(client: t.Any, user: t.Any) -> None:
    french = api_post(
        client, "sign-in/email", {"email": "alice@example.com", "password": "nope"}, headers={"Accept-Language": "fr"}
    )
    assert french.json["message"] == "Adresse e-mail ou mot de passe incorrect."
    assert "Accept-Language" in french.headers["Vary"]
