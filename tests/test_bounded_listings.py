"""Issue 15, item 7: a default cap on sessions per user, and listings that stay
bounded however many sessions a user has (devices page, JSON API, CLI), in
every storage mode.

Abuse cases: a script that signs in on every run and never signs out (rows
pile up: 20,001 sessions made a 35.5 MB devices page and a 6.8 MB API answer);
a user who had thousands of rows before the cap existed; paging parameters
that are not numbers, negative, huge, or ask for more than the maximum; the
current device hidden behind hundreds of more recently active ones.
"""

from __future__ import annotations

import datetime as dt
import re
import typing as t

import pytest
import sqlalchemy as sa
import time_machine
from flask import Flask

from flask_sessionauth.core import tokens
from tests.conftest import EVERY_STORAGE
from tests.helpers import API
from tests.helpers import UA_FIREFOX
from tests.helpers import db_of
from tests.helpers import form_post
from tests.helpers import login
from tests.helpers import session_ids
from tests.helpers import signed_in_as
from tests.helpers import state_of
from tests.helpers import text
from tests.helpers import wire_code

pytestmark = pytest.mark.storage(*EVERY_STORAGE)
T0 = dt.datetime(2030, 1, 7, 12, 0, tzinfo=dt.timezone.utc)
#: Sessions beyond every default bound (cap 100, page 50, API 100).
MANY = 230
CARD = re.compile(r'<li class="sa-session[^"]*" data-session-id="([^"]+)"')
#: No touches: the current device keeps its sign-in time as its last activity,
#: so hundreds of other sessions are more recently active than it.
NO_TOUCH = {"SESSIONAUTH_ACTIVITY_RESOLUTION": 0, "SESSIONAUTH_MAX_SESSIONS_PER_USER": None}


def add_sessions(app: Flask, user_id: t.Any, count: int, now: dt.datetime) -> list[str]:
    """Insert ``count`` sessions, the i-th last active i+1 minutes before
    ``now`` (as a forgetful script leaves them); their ids, most recent first."""
    rows = []
    for i in range(count):
        token = tokens.generate()
        active = now - dt.timedelta(minutes=i + 1)
        rows.append(
            {
                "id": token.session_id,
                "user_id": user_id,
                "secret_hash": tokens.hash_secret(token.secret),
                "remember": True,
                "expires_at": now + dt.timedelta(days=7),
                "created_at": active - dt.timedelta(minutes=1),
                "updated_at": active,
                "last_active_at": active,
                "authenticated_at": None,
                "ip_address": "198.51.100.7",
                "user_agent": UA_FIREFOX,
            }
        )
    db = db_of(app)
    with app.app_context():
        db.session.execute(sa.insert(state_of(app).model.__table__), rows)
        db.session.commit()
    return [row["id"] for row in rows]


def test_default_cap_evicts_the_least_recently_active(app: Flask, client: t.Any, user: t.Any) -> None:
    """A user with 150 sessions from before the cap signs in once more: the
    default cap (100) keeps the 99 most recently active and the new one."""
    assert state_of(app).settings.max_sessions_per_user == 100
    with time_machine.travel(T0, tick=False):
        ids = add_sessions(app, user.id, 150, T0)
        new = login(client)
    assert session_ids(app, user.id) == {*ids[:99], new}
    assert signed_in_as(client) == user.id
    with time_machine.travel(T0 + dt.timedelta(minutes=1), tick=False):
        newer = login(app.test_client())
    assert session_ids(app, user.id) == {*ids[:98], new, newer}  # the next least recently active went


@pytest.mark.parametrize("app_config", [NO_TOUCH])
def test_devices_page_is_bounded_and_pages_cover_every_session(app: Flask, client: t.Any, user: t.Any) -> None:
    with time_machine.travel(T0 - dt.timedelta(hours=1), tick=False):
        current = login(client)
    with time_machine.travel(T0, tick=False):
        ids = add_sessions(app, user.id, MANY, T0)
        first = client.get("/account/devices")
        page = text(first)
        cards = CARD.findall(page)
        assert len(cards) == 50
        assert cards[0] == current  # this device first, though 60 others were active since
        assert cards[1:] == ids[:49]
        assert f"and {MANY + 1 - 50} more devices" in page
        assert f"the sessions on your {MANY} other devices" in page
        seen = list(cards)
        while (link := re.search(r'<a href="([^"]+)">Show more</a>', page)) is not None:
            page = text(client.get(link.group(1).replace("&amp;", "&")))
            cards = CARD.findall(page)
            assert 0 < len(cards) <= 50 and not set(cards) & set(seen)
            seen += cards
        assert seen == [current, *ids]  # disjoint pages, together every session, in order
        assert "more device" not in page and "Back to the most recent devices" in page
        for odd in ("0", "-1", "abc", "1e3", "9" * 40):  # a typo is the first page, never an error
            resp = client.get(f"/account/devices?page={odd}")
            assert resp.status_code == 200 and CARD.findall(text(resp))[0] == current
        resp = form_post(client, f"/account/devices/{ids[-1]}/revoke")  # listed on the last page only
        assert resp.status_code == 302
    assert ids[-1] not in session_ids(app, user.id)


@pytest.mark.parametrize("app_config", [{"SESSIONAUTH_MAX_SESSIONS_PER_USER": None}])
def test_api_list_is_bounded_and_paginated(app: Flask, client: t.Any, user: t.Any) -> None:
    with time_machine.travel(T0, tick=False):
        current = login(client)
        ids = add_sessions(app, user.id, MANY, T0)
        resp = client.get(f"{API}/list-sessions")
        assert resp.status_code == 200 and isinstance(resp.json, list)  # Better Auth's shape
        assert len(resp.json) == 100
        assert resp.headers["X-Total-Count"] == str(MANY + 1)
        listed = [s["id"] for s in resp.json]
        while "Link" in resp.headers:
            link = re.fullmatch(r'<([^>]+)>; rel="next"', resp.headers["Link"])
            assert link is not None
            resp = client.get(link.group(1))
            page = [s["id"] for s in resp.json]
            assert 0 < len(page) <= 100 and not set(page) & set(listed)
            listed += page
        assert listed == [current, *ids]  # most recently active first; disjoint; complete
        small = client.get(f"{API}/list-sessions?limit=7&offset=3").json
        assert [s["id"] for s in small] == listed[3:10]
        assert len(client.get(f"{API}/user/list-sessions?limit=5000").json) == 100  # capped
        assert client.get(f"{API}/list-sessions?offset=1000000").json == []
        for bad in ("limit=0", "limit=-1", "limit=abc", "limit=1e3", "limit=", "offset=-1", f"offset={10**12}"):
            refused = client.get(f"{API}/list-sessions?{bad}")
            assert refused.status_code == 400, bad
            assert wire_code(refused) == "VALIDATION_ERROR"


@pytest.mark.parametrize("app_config", [{"SESSIONAUTH_MAX_SESSIONS_PER_USER": None}])
def test_cli_list_is_bounded(app: Flask, user: t.Any) -> None:
    with time_machine.travel(T0, tick=False):
        add_sessions(app, user.id, MANY, T0)
        runner = app.test_cli_runner()
        result = runner.invoke(args=["sessionauth", "list", "alice@example.com"])
        assert result.exit_code == 0, result.output
        lines = result.output.splitlines()
        assert len(lines) == 1 + 100 + 1
        assert lines[-1] == f"... and {MANY - 100} more devices (--limit to show more)"
        shorter = runner.invoke(args=["sessionauth", "list", "alice@example.com", "--limit", "3"])
        assert len(shorter.output.splitlines()) == 1 + 3 + 1
