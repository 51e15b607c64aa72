"""Sliding expiry, write budget, absolute lifetime, remember-me, fixation,
logout (checklist 8-14), through the test client in every storage mode.

The rules themselves, with a fixed clock and no app, are in
``test_lifecycle_rules.py``; statement counts per storage mode in ``test_counts.py``.
"""

from __future__ import annotations

import datetime as dt
import typing as t

import pytest
import sqlalchemy as sa
import time_machine
from flask import Flask

from tests.conftest import EVERY_STORAGE
from tests.conftest import REPLICATED_REDIS
from tests.conftest import User
from tests.conftest import db
from tests.helpers import PASSWORD
from tests.helpers import UTC
from tests.helpers import cookie_name
from tests.helpers import login
from tests.helpers import max_age
from tests.helpers import session_cookie
from tests.helpers import session_reads
from tests.helpers import session_row
from tests.helpers import set_cookies

pytestmark = pytest.mark.storage(*EVERY_STORAGE, *REPLICATED_REDIS)
T0 = dt.datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


def test_login_while_signed_in_issues_new_token_and_deletes_old(app: Flask, client: t.Any, user: t.Any) -> None:
    first = login(client)
    old_cookie = session_cookie(client, app)
    second = login(client)
    assert first != second
    assert session_cookie(client, app) != old_cookie
    assert session_row(app, first) is None
    assert session_row(app, second) is not None
    stale = app.test_client()
    stale.set_cookie(cookie_name(app), old_cookie)
    assert stale.get("/whoami").json == {"user_id": None}


def test_session_expires_after_seven_days_without_use(app: Flask, client: t.Any, user: t.Any) -> None:
    with time_machine.travel(T0, tick=False) as traveller:
        login(client)
        traveller.move_to(T0 + dt.timedelta(days=7, seconds=-1))
        # still valid one second before expiry (and this request slides it)
        assert client.get("/whoami").json == {"user_id": user.id}
    with time_machine.travel(T0, tick=False) as traveller:
        sid = login(client)
        traveller.move_to(T0 + dt.timedelta(days=7, seconds=1))
        resp = client.get("/whoami")
        assert resp.json == {"user_id": None}
        assert "Max-Age=0" in resp.headers["Set-Cookie"]
        assert session_row(app, sid) is not None  # rejected without a write; cleanup removes it


def test_refresh_after_update_age_writes_once(
    app: Flask, storage: str, client: t.Any, user: t.Any, count_sql: t.Any
) -> None:
    with time_machine.travel(T0, tick=False) as traveller:
        sid = login(client)
        traveller.move_to(T0 + dt.timedelta(days=1, hours=12))
        with count_sql() as counter:
            resp = client.get("/whoami")
        assert resp.json == {"user_id": user.id}
        assert len(counter.writes) == 1
        assert len(counter.reads) == session_reads(storage, cache_fresh=False)
        now = T0 + dt.timedelta(days=1, hours=12)
        assert session_row(app, sid).expires_at == now + dt.timedelta(days=7)
        assert max_age(resp) == 7 * 24 * 3600
        assert resp.headers["Cache-Control"] == "no-store"
        # later the same day: no write at all (activity stamp is fresh too)
        traveller.move_to(now + dt.timedelta(minutes=2))
        with count_sql() as counter:
            resp = client.get("/whoami")
        assert resp.json == {"user_id": user.id}
        assert counter.writes == []
        assert "Set-Cookie" not in resp.headers


def test_ordinary_request_performs_no_write(
    app: Flask, storage: str, client: t.Any, user: t.Any, count_sql: t.Any
) -> None:
    with time_machine.travel(T0, tick=False) as traveller:
        login(client)
        traveller.move_to(T0 + dt.timedelta(minutes=1))
        reads = session_reads(storage, cache_fresh=True)
        with count_sql() as counter:
            assert client.get("/me").json == {"email": "alice@example.com"}
        assert counter.writes == []
        # One read either way: the session joined with its user's columns,
        # or (served from Redis / the cookie cache) the user object alone.
        assert len(counter.reads) == max(reads, 1)
        with count_sql() as counter:
            assert client.get("/whoami").json == {"user_id": user.id}
        assert counter.writes == []
        assert len(counter.reads) == reads


def test_activity_stamp_at_most_once_per_resolution(app: Flask, client: t.Any, user: t.Any, count_sql: t.Any) -> None:
    with time_machine.travel(T0, tick=False) as traveller:
        sid = login(client)
        traveller.move_to(T0 + dt.timedelta(minutes=6))
        with count_sql() as counter:
            client.get("/whoami")
            client.get("/whoami")
        assert len(counter.writes) == 1
        assert session_row(app, sid).last_active_at == T0 + dt.timedelta(minutes=6)
        assert session_row(app, sid).expires_at == T0 + dt.timedelta(days=7)  # not extended


@pytest.mark.parametrize("app_config", [{"SESSIONAUTH_ACTIVITY_RESOLUTION": 0}])
def test_activity_resolution_zero_turns_stamp_off(app: Flask, client: t.Any, user: t.Any, count_sql: t.Any) -> None:
    with time_machine.travel(T0, tick=False) as traveller:
        login(client)
        traveller.move_to(T0 + dt.timedelta(hours=5))
        with count_sql() as counter:
            client.get("/whoami")
        assert counter.writes == []


def test_refresh_only_after_secret_verified(app: Flask, client: t.Any, user: t.Any, count_sql: t.Any) -> None:
    with time_machine.travel(T0, tick=False) as traveller:
        sid = login(client)
        traveller.move_to(T0 + dt.timedelta(days=2))
        forged = app.test_client()
        forged.set_cookie(cookie_name(app), f"{sid}.{'x' * 43}")
        with count_sql() as counter:
            assert forged.get("/whoami").json == {"user_id": None}
        assert counter.writes == []
        assert session_row(app, sid).expires_at == T0 + dt.timedelta(days=7)


@pytest.mark.parametrize("app_config", [{"SESSIONAUTH_DISABLE_REFRESH": True}])
def test_disable_refresh(app: Flask, client: t.Any, user: t.Any) -> None:
    with time_machine.travel(T0, tick=False) as traveller:
        sid = login(client)
        traveller.move_to(T0 + dt.timedelta(days=3))
        resp = client.get("/whoami")
        assert resp.json == {"user_id": user.id}
        assert cookie_name(app) not in set_cookies(resp)  # not slid, so not re-sent
        assert session_row(app, sid).expires_at == T0 + dt.timedelta(days=7)
        traveller.move_to(T0 + dt.timedelta(days=7, seconds=1))
        assert client.get("/whoami").json == {"user_id": None}


@pytest.mark.parametrize("app_config", [{"SESSIONAUTH_ABSOLUTE_LIFETIME": 3 * 24 * 3600}])
def test_absolute_lifetime_rejects_active_session(app: Flask, client: t.Any, user: t.Any) -> None:
    with time_machine.travel(T0, tick=False) as traveller:
        sid = login(client)
        for day in range(1, 3):
            traveller.move_to(T0 + dt.timedelta(days=day, minutes=1))
            assert client.get("/whoami").json == {"user_id": user.id}
        # refreshes never pushed expiry past the cap
        assert session_row(app, sid).expires_at == T0 + dt.timedelta(days=3)
        traveller.move_to(T0 + dt.timedelta(days=3, seconds=1))
        assert client.get("/whoami").json == {"user_id": None}


def test_remember_false_is_browser_session_with_short_life(app: Flask, client: t.Any, user: t.Any) -> None:
    with time_machine.travel(T0, tick=False) as traveller:
        resp = client.post(
            "/test/login",
            data={"email": "alice@example.com", "password": PASSWORD, "remember": "0"},
        )
        sid = resp.json["id"]
        header = resp.headers["Set-Cookie"]
        assert "Max-Age" not in header and "Expires" not in header
        assert session_row(app, sid).expires_at == T0 + dt.timedelta(days=1)
        # update age is 1/7 of the short life (~3.4 h): no refresh at 3 h, one at 4 h
        traveller.move_to(T0 + dt.timedelta(hours=3))
        assert client.get("/whoami").json == {"user_id": user.id}
        assert session_row(app, sid).expires_at == T0 + dt.timedelta(days=1)
        traveller.move_to(T0 + dt.timedelta(hours=4))
        resp = client.get("/whoami")
        assert resp.json == {"user_id": user.id}
        assert session_row(app, sid).expires_at == T0 + dt.timedelta(hours=28)
        assert "Max-Age" not in resp.headers["Set-Cookie"]
        # unused for a day -> gone
        traveller.move_to(T0 + dt.timedelta(hours=28, seconds=1))
        assert client.get("/whoami").json == {"user_id": None}


def test_reauthenticate_rotates_token(app: Flask, client: t.Any, user: t.Any) -> None:
    sid = login(client)
    old_cookie = session_cookie(client, app)
    resp = client.post("/test/reauth", data={"password": PASSWORD})
    assert resp.status_code == 200
    new_sid = resp.json["id"]
    assert new_sid != sid
    assert session_cookie(client, app) != old_cookie
    assert session_row(app, sid) is None
    assert session_row(app, new_sid).authenticated_at is not None
    stale = app.test_client()
    stale.set_cookie(cookie_name(app), old_cookie)
    assert stale.get("/whoami").json == {"user_id": None}
    # wrong password: typed error, nothing rotated
    resp = client.post("/test/reauth", data={"password": "wrong password!"})
    assert resp.status_code == 403
    assert session_row(app, new_sid) is not None


def test_logout_is_post_only_deletes_row_and_clears_cookie(app: Flask, client: t.Any, user: t.Any) -> None:
    sid = login(client)
    value = session_cookie(client, app)
    assert client.get("/test/logout").status_code == 405
    resp = client.post("/test/logout")
    assert "Max-Age=0" in resp.headers["Set-Cookie"]
    assert resp.headers["Cache-Control"] == "no-store"
    assert resp.headers["Clear-Site-Data"] == '"cache"'
    assert session_row(app, sid) is None
    replay = app.test_client()
    replay.set_cookie(cookie_name(app), value)
    assert replay.get("/whoami").json == {"user_id": None}


def test_fresh_login_required(app: Flask, client: t.Any, user: t.Any) -> None:
    with time_machine.travel(T0, tick=False) as traveller:
        login(client)
        assert client.get("/sudo").data == b"sudo ok"
        traveller.move_to(T0 + dt.timedelta(hours=1, seconds=1))
        resp = client.get("/sudo")
        assert resp.status_code == 302
        assert "/account/confirm" in resp.headers["Location"]
        resp = client.get("/sudo", headers={"Accept": "application/json"})
        assert resp.status_code == 403
        assert resp.json["error"]["code"] == "fresh_login_required"


def test_login_required_redirects_or_401(app: Flask, client: t.Any) -> None:
    resp = client.get("/me")
    assert resp.status_code == 302
    assert "/account/login?next=/me" in resp.headers["Location"]
    resp = client.get("/me", headers={"Accept": "application/json"})
    assert resp.status_code == 401
    assert resp.json["error"]["code"] == "unauthorized"


@pytest.mark.parametrize("app_config", [{"SESSIONAUTH_CLEANUP_BATCH_SIZE": 3}])
def test_cleanup_expired_deletes_in_batches(app: Flask, user: t.Any, count_sql: t.Any) -> None:
    auth = app.extensions["sessionauth"]
    with time_machine.travel(T0, tick=False):
        with app.app_context():
            u = db.session.get(User, user.id)
            for _ in range(7):
                auth.login_user(u)
    with time_machine.travel(T0 + dt.timedelta(days=2), tick=False):
        with app.app_context():
            u = db.session.get(User, user.id)
            live = auth.login_user(u)
    with time_machine.travel(T0 + dt.timedelta(days=8), tick=False):
        with app.app_context(), count_sql() as counter:
            assert auth.cleanup_expired() == 7
        deletes = [s for s in counter.writes if s.lstrip().upper().startswith("DELETE FROM USER_SESSION")]
        assert len(deletes) == 3  # 3 + 3 + 1 rows
        with app.app_context():
            count = db.session.execute(sa.select(sa.func.count()).select_from(auth.session_model)).scalar()
            assert count == 1
            assert db.session.get(auth.session_model, live.id) is not None
