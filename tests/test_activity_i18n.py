"""The security activity log in the reader's language and time zone: event labels, the
kind filter, the dates (Babel, the browser's zone), the sign-in page's "signed out
from" line and the CLI's table.

Abuse looked at: a hostile ``Accept-Language`` or zone cookie falls back to English in
UTC (tests/test_i18n.py); a device name in the "signed out from" line is a value,
escaped, never part of the translated sentence."""

from __future__ import annotations

import datetime as dt
import typing as t

import pytest
import time_machine
from flask import Flask

from flask_sessionauth.glue.i18n import TZ_COOKIE
from tests.helpers import NEW_PASSWORD
from tests.helpers import PASSWORD
from tests.helpers import api_post
from tests.helpers import form_post
from tests.helpers import login
from tests.helpers import page_sign_in
from tests.helpers import text

pytest.importorskip("flask_babel")
pytestmark = pytest.mark.storage("sqlite")

#: 23:22 UTC is 00:22 the next day in Berlin (CET).
AT = dt.datetime(2026, 12, 6, 23, 22, tzinfo=dt.UTC)
IN_BERLIN = "07.12.26, 00:22"


def in_german(client: t.Any) -> t.Any:
    client.environ_base["HTTP_ACCEPT_LANGUAGE"] = "de-DE,de;q=0.9,en;q=0.5"
    client.set_cookie(TZ_COOKIE, "Europe/Berlin")
    return client


def test_the_activity_page_in_german_shows_german_event_labels_and_dates(client: t.Any, user: t.Any) -> None:
    in_german(client)
    with time_machine.travel(AT, tick=False):
        page_sign_in(client)  # the account's first sign-in: a new device
        resp = api_post(client, "change-password", {"currentPassword": PASSWORD, "newPassword": NEW_PASSWORD})
        assert resp.status_code == 200
        body = text(client.get("/account/activity"))
    assert '<html lang="de" dir="ltr">' in body
    for phrase in (
        "Sicherheitsaktivität",
        "Angemeldet (neues Gerät)",
        "Passwort geändert",
        '<span class="sa-badge">Neues Gerät</span>',
        "<span>Aktivität</span>",  # the tab
        '<option value="">Alle Ereignisse</option>',
        '<option value="sign_in_failed">Falsches Passwort</option>',
        "Filtern",
    ):
        assert phrase in body, phrase
    assert body.count(f"{IN_BERLIN} CET") == 2  # both events, in the browser's zone
    assert "<bdi>Chrome 131 unter macOS</bdi>" in body
    for english in ("Signed in", "Password changed", "Security activity", "All events", "UTC"):
        assert english not in body, english


def test_the_signed_out_from_line_reads_in_german(app: Flask, client: t.Any, second_client: t.Any, user: t.Any) -> None:
    with time_machine.travel(AT, tick=False):
        login(client)
        other = login(in_german(second_client))
        form_post(client, f"/account/devices/{other}/revoke")
        page = text(second_client.get("/account/devices", follow_redirects=True))
    assert f"Chrome 131 unter macOS hat dieses Gerät am {IN_BERLIN} CET abgemeldet." in page


def test_the_cli_activity_table_in_german(app: Flask, client: t.Any, user: t.Any) -> None:
    with time_machine.travel(AT, tick=False):
        login(client)
    result = app.test_cli_runner().invoke(
        args=["sessionauth", "--locale", "de", "--timezone", "Europe/Berlin", "activity", "alice@example.com"]
    )
    assert result.exit_code == 0, result.output
    header = result.output.splitlines()[0].split()
    assert header[:3] == ["WANN", "EREIGNIS", "GERÄT"]
    assert "Angemeldet (neues Gerät)" in result.output and "Chrome 131 unter macOS" in result.output
    assert f"{IN_BERLIN} CET" in result.output and "UTC" not in result.output
