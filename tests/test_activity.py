"""Issue 17.3: the security activity log (events table, page, API, CLI, Python
API, structured log, retention) and the new-device decision.

Abuse considered: a user agent chosen to look known (the new-device flag is a
heuristic, documented as such); a failed sign-in for no account vs a wrong
password (both write one event, with no identity stored); the log leaking
tokens or passwords (checked in every record); writing an event failing (the
action still succeeds); another user's events (never listed); a forged cookie
naming a session id (the sign-in page shows only device name and time, and
only for the id the cookie named).
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import typing as t

import pytest
import sqlalchemy as sa
import time_machine
from flask import Flask

from flask_sessionauth import new_device_sign_in
from flask_sessionauth import password_reset
from flask_sessionauth import session_renamed
from flask_sessionauth import session_reported
from tests.conftest import User
from tests.conftest import db
from tests.helpers import API
from tests.helpers import NEW_PASSWORD
from tests.helpers import PASSWORD
from tests.helpers import UA_CHROME
from tests.helpers import UA_FIREFOX
from tests.helpers import UA_IPHONE
from tests.helpers import api_post
from tests.helpers import auth_of
from tests.helpers import cookie_name
from tests.helpers import device
from tests.helpers import form_post
from tests.helpers import login
from tests.helpers import session_cookie
from tests.helpers import text

pytestmark = pytest.mark.storage("sqlite", "postgres", "redis")

T0 = dt.datetime(2030, 1, 1, 12, 0, tzinfo=dt.timezone.utc)
EVENTS = "sessionauth_event"


@pytest.fixture
def clock() -> t.Iterator[t.Any]:
    with time_machine.travel(T0, tick=False) as traveller:
        yield traveller


def events(client: t.Any, **query: t.Any) -> list[dict[str, t.Any]]:
    resp = client.get(f"{API}/list-activity", query_string=query)
    assert resp.status_code == 200, resp.data
    return t.cast(list[dict[str, t.Any]], resp.json)


def kinds(client: t.Any) -> list[str]:
    return [e["kind"] for e in events(client)]


def rows(app: Flask) -> list[t.Any]:
    with app.app_context():
        return list(db.session.execute(sa.text(f"SELECT * FROM {EVENTS} ORDER BY id")).mappings())


@pytest.fixture
def new_devices(app: Flask) -> t.Iterator[list[t.Any]]:
    sent: list[t.Any] = []

    def receive(sender: t.Any, **payload: t.Any) -> None:
        sent.append(payload)

    new_device_sign_in.connect(receive, app)
    yield sent
    new_device_sign_in.disconnect(receive, app)


def test_sign_in_is_recorded_with_device_ip_and_session(app: Flask, client: t.Any, user: t.Any) -> None:
    session_id = login(client)
    [event] = events(client)
    assert event["kind"] == "sign_in"
    assert event["device"] == "Chrome 131 on macOS"
    assert event["ipAddress"] == "127.0.0.1"
    assert event["sessionId"] == session_id
    assert event["newDevice"] is True
    assert event["createdAt"].endswith("Z")
    assert {"country", "region", "city"} <= set(event)


def test_new_device_decision(app: Flask, user: t.Any, new_devices: list[t.Any], clock: t.Any) -> None:
    """New unless the account signed in with the same browser family, OS family
    and country within SESSIONAUTH_KNOWN_DEVICE_DAYS (90)."""
    laptop = device(app, UA_CHROME)
    login(laptop)
    assert len(new_devices) == 1 and new_devices[0]["session"].user_id == user.id
    laptop.post("/test/logout")
    login(device(app, UA_CHROME.replace("Chrome/131", "Chrome/140"), "198.51.100.1"))  # another version: known
    assert len(new_devices) == 1
    login(device(app, UA_FIREFOX))
    assert len(new_devices) == 2
    assert new_devices[1]["session"].user_agent == UA_FIREFOX
    # 91 days on with no session alive: the old sign-ins no longer count.
    with app.app_context():
        auth_of(app).revoke_sessions(user)
    clock.shift(dt.timedelta(days=91))
    login(device(app, UA_IPHONE))
    login(device(app, UA_CHROME))
    assert len(new_devices) == 4


def test_a_live_session_makes_its_device_known(app: Flask, user: t.Any, new_devices: list[t.Any]) -> None:
    """Sessions from before the log existed count (their rows are alive)."""
    login(device(app, UA_FIREFOX))
    with app.app_context():
        db.session.execute(sa.text(f"DELETE FROM {EVENTS}"))
        db.session.commit()
    login(device(app, UA_FIREFOX))
    assert len(new_devices) == 1


def test_failed_passwords_are_recorded_without_the_identity(app: Flask, client: t.Any, user: t.Any) -> None:
    assert client.post("/test/login", data={"email": "alice@example.com", "password": "nope"}).status_code == 401
    assert client.post("/test/login", data={"email": "nobody@example.com", "password": "nope"}).status_code == 401
    login(client)
    assert kinds(client) == ["sign_in", "sign_in_failed"]
    failed = [r for r in rows(app) if r["kind"] == "sign_in_failed"]
    # No account: a row all the same (the same write on both paths), for nobody.
    assert [r["user_id"] for r in failed] == [user.id, None]
    assert not any("nobody@" in str(v) or "nope" in str(v) for r in failed for v in r.values())


def test_sign_out_revocations_password_and_sudo(app: Flask, client: t.Any, second_client: t.Any, user: t.Any) -> None:
    login(client)
    other = login(second_client)
    assert form_post(client, f"/account/devices/{other}/revoke").status_code == 302
    revoked = events(client, kind="session_revoked")
    assert [(e["targetSessionId"], e["targetDevice"], e["reason"]) for e in revoked] == [
        (other, "Firefox 133 on Windows", "revoke")
    ]
    assert revoked[0]["device"] == "Chrome 131 on macOS" and revoked[0]["label"].startswith("Device signed out")
    assert client.post("/test/reauth", data={"password": PASSWORD}).status_code == 200
    resp = api_post(
        client,
        "change-password",
        {"currentPassword": PASSWORD, "newPassword": NEW_PASSWORD, "revokeOtherSessions": True},
    )
    assert resp.status_code == 200
    login(second_client, password=NEW_PASSWORD)
    second_client.post("/test/logout")
    assert kinds(client)[:3] == ["sign_out", "sign_in", "password_changed"]
    assert "sudo_confirmed" in kinds(client)


def test_reaching_a_limit_is_recorded_once(app: Flask, client: t.Any, user: t.Any) -> None:
    """Recorded by the failure that fills the counter; the refused attempts
    after it write nothing (a locked-out client costs reads only)."""
    auth_of(app).state_for(app).limiter.limits["pair"] = 2
    statuses = [client.post("/test/login", data={"email": user.email, "password": "x"}).status_code for _ in range(5)]
    assert statuses == [401, 401, 429, 429, 429]
    limited = [(r["kind"], r["reason"], r["user_id"]) for r in rows(app) if r["kind"] == "rate_limited"]
    assert limited == [("rate_limited", "pair", user.id)]


def test_deactivation_is_recorded(app: Flask, client: t.Any, user: t.Any) -> None:
    login(client)
    with app.app_context():
        db.session.get(User, user.id).is_active = False
        db.session.commit()
    assert [r["kind"] for r in rows(app)] == ["sign_in", "user_deactivated"]


def test_listing_pages_and_other_users(app: Flask, client: t.Any, user: t.Any, other_user: t.Any) -> None:
    for _ in range(3):
        login(client)
        client.post("/test/logout")
    login(client)
    login(device(app), "bob@example.com")
    resp = client.get(f"{API}/list-activity", query_string={"limit": 2})
    assert resp.headers["X-Total-Count"] == "7"  # 4 sign-ins, 3 sign-outs; none of Bob's
    assert len(resp.json) == 2
    older = events(client, limit=2, offset=6)
    assert len(older) == 1 and older[0]["kind"] == "sign_in"
    ids = [e["id"] for e in events(client)]
    assert ids == sorted(ids, reverse=True)
    assert events(client, kind="no-such-kind") == []
    assert device(app).get(f"{API}/list-activity").status_code == 401
    with app.app_context():
        mine = auth_of(app).list_activity(user)
        assert len(mine) == 7 and mine[0].kind == "sign_in"
        assert len(auth_of(app).list_activity(user, limit=1, kind="sign_out")) == 1


def test_activity_page(app: Flask, client: t.Any, user: t.Any) -> None:
    assert client.get("/account/activity").status_code == 302
    login(client)
    client.post("/test/logout")
    login(client)
    devices = text(client.get("/account/devices"))
    assert 'href="/account/activity"' in devices
    page = text(client.get("/account/activity"))
    assert page.count('data-event-kind="sign_in"') == 2 and 'data-event-kind="sign_out"' in page
    assert "Chrome 131 on macOS" in page and "<script" not in page.split("</header>", 1)[1].split("</main>")[0]
    filtered = text(client.get("/account/activity?kind=sign_out"))
    assert 'data-event-kind="sign_in"' not in filtered and 'data-event-kind="sign_out"' in filtered
    app.config["SESSIONAUTH_DEVICES_PER_PAGE"] = 1
    auth_of(app).state_for(app).devices_per_page = 1
    first = text(client.get("/account/activity"))
    assert first.count("data-event-kind") == 1 and "page=2" in first
    assert text(client.get("/account/activity?page=99")).count("data-event-kind") == 0


def test_signed_out_device_sees_when_and_from_where(
    app: Flask, client: t.Any, second_client: t.Any, user: t.Any, clock: t.Any
) -> None:
    login(client)
    other = login(second_client)
    form_post(client, f"/account/devices/{other}/revoke")
    resp = second_client.get("/account/devices", follow_redirects=True)
    page = text(resp)
    assert "You were signed out of this device." in page
    assert "Chrome 131 on macOS signed this device out on 2030-01-01 12:00 UTC." in page
    assert "127.0.0.1" not in page  # the device name and time only
    # Once.
    assert "signed this device out" not in text(second_client.get("/account/login"))


def test_a_cookie_naming_another_session_shows_nothing_else(
    app: Flask, client: t.Any, second_client: t.Any, user: t.Any
) -> None:
    """A forged cookie names a session id it cannot prove: only the fixed
    sentence shows for an id the log does not know; and a known id gives
    nothing beyond a device name and a time."""
    login(client)
    stranger = device(app, UA_IPHONE)
    stranger.set_cookie(cookie_name(app), "A" * 32 + "." + "B" * 43)
    page = text(stranger.get("/account/devices", follow_redirects=True))
    assert "signed this device out" not in page


def test_events_go_to_the_log_without_secrets(
    app: Flask, client: t.Any, user: t.Any, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="flask_sessionauth.events")
    login(client)
    token = session_cookie(client, app)
    client.post("/test/reauth", data={"password": PASSWORD})
    client.post("/test/login", data={"email": user.email, "password": "wrong horse"})
    client.post("/test/logout")
    records = [r for r in caplog.records if r.name == "flask_sessionauth.events"]
    assert {getattr(r, "event_kind", None) for r in records} >= {"sign_in", "sudo_confirmed", "sign_in_failed"}
    sign_in = next(r for r in records if getattr(r, "event_kind", None) == "sign_in")
    assert sign_in.event_user_id == user.id and sign_in.event_ip_address == "127.0.0.1"  # type: ignore[attr-defined]
    assert token
    secret = token.split(".", 1)[1]
    for record in records:
        dumped = json.dumps(vars(record), default=str)
        for forbidden in (token, secret, PASSWORD, "wrong horse", "secret_hash"):
            assert forbidden not in dumped


def test_a_failing_event_write_never_fails_the_action(
    app: Flask, client: t.Any, second_client: t.Any, user: t.Any, caplog: pytest.LogCaptureFixture
) -> None:
    with app.app_context():
        db.session.execute(sa.text(f"DROP TABLE {EVENTS}"))
        db.session.commit()
    caplog.set_level(logging.ERROR, logger="flask_sessionauth.events")
    login(client)
    other = login(second_client)
    assert form_post(client, f"/account/devices/{other}/revoke").status_code == 302
    assert client.post("/test/reauth", data={"password": PASSWORD}).status_code == 200
    assert client.get("/me").status_code == 200
    assert client.post("/test/logout").status_code == 200
    errors = [r for r in caplog.records if r.name == "flask_sessionauth.events" and r.levelno >= logging.ERROR]
    assert errors and all("could not" in r.getMessage() for r in errors)


def test_retention_and_cli(app: Flask, client: t.Any, user: t.Any, clock: t.Any) -> None:
    login(client)
    client.post("/test/logout")
    runner = app.test_cli_runner()
    table = runner.invoke(args=["sessionauth", "activity", "alice@example.com"])
    assert table.exit_code == 0, table.output
    assert "WHEN" in table.output and "Signed in" in table.output and "Chrome 131 on macOS" in table.output
    limited = runner.invoke(args=["sessionauth", "activity", "alice@example.com", "--limit", "1", "--json"])
    listed = json.loads(limited.output)
    assert [e["kind"] for e in listed] == ["sign_out"]
    assert runner.invoke(args=["sessionauth", "activity", "nobody@example.com"]).exit_code == 1
    clock.shift(dt.timedelta(days=89))
    login(client)
    clock.shift(dt.timedelta(days=2))
    assert runner.invoke(args=["sessionauth", "cleanup"]).exit_code == 0
    assert [r["kind"] for r in rows(app)] == ["sign_in"]


def test_signals_sent_by_other_features_are_recorded(app: Flask, client: t.Any, user: t.Any) -> None:
    """``session_reported``, ``session_renamed`` and ``password_reset`` come from
    other features (mail, location); a huge chosen name is cut, never an error."""
    session_id = login(client)
    with app.test_request_context("/"):
        session_renamed.send(app, user_id=user.id, session_id=session_id, name="x" * 10_000)
        session_reported.send(app, user_id=user.id, session_id=session_id)
        password_reset.send(app, user=user, revoked=0)
    listed = events(client)
    assert [e["kind"] for e in listed[:3]] == ["password_reset", "session_reported", "session_renamed"]
    assert listed[2]["targetDevice"] == "x" * 120


@pytest.mark.parametrize("app_config", [{"SESSIONAUTH_MAX_SESSIONS_PER_USER": 1}])
def test_a_session_evicted_by_the_cap_is_recorded(app: Flask, user: t.Any, app_config: t.Any) -> None:
    phone = device(app, UA_IPHONE)
    evicted = login(phone)
    laptop = device(app)
    login(laptop)
    [event] = events(laptop, kind="session_revoked")
    assert (event["reason"], event["targetSessionId"], event["targetDevice"]) == (
        "evicted",
        evicted,
        "Safari 17 on iPhone",
    )
