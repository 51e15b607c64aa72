"""Client-supplied headers: oversized user agents, forged X-Forwarded-For (checklist 29-30)."""

from __future__ import annotations

import typing as t

from flask import Flask
from werkzeug.middleware.proxy_fix import ProxyFix

from tests.helpers import PASSWORD
from tests.helpers import login
from tests.helpers import session_row


def stored(app: Flask, sid: str) -> tuple[str | None, str | None]:
    row = session_row(app, sid)
    return row.ip_address, row.user_agent


def test_huge_user_agent_is_truncated(app: Flask, user: t.Any) -> None:
    c = app.test_client()
    c.environ_base["HTTP_USER_AGENT"] = "Mozilla/5.0 " + "x" * 10_000
    sid = login(c)
    _, ua = stored(app, sid)
    assert len(ua) == 512 and ua.startswith("Mozilla/5.0 x")
    assert c.get("/whoami").json["user_id"] == user.id


def test_control_characters_are_dropped_from_user_agent(app: Flask, user: t.Any) -> None:
    c = app.test_client()
    c.environ_base["HTTP_USER_AGENT"] = "Evil\x00Agent\x07/1.0"
    sid = login(c)
    assert stored(app, sid)[1] == "EvilAgent/1.0"


def test_forged_forwarded_for_is_ignored_by_default(app: Flask, user: t.Any) -> None:
    c = app.test_client()
    c.environ_base["REMOTE_ADDR"] = "192.0.2.10"
    resp = c.post(
        "/test/login",
        data={"email": "alice@example.com", "password": PASSWORD},
        headers={"X-Forwarded-For": "6.6.6.6"},
    )
    assert stored(app, resp.json["id"])[0] == "192.0.2.10"


def test_forwarded_for_is_used_with_proxyfix(app: Flask, user: t.Any) -> None:
    app.wsgi_app = ProxyFix(app.wsgi_app, x_for=1)
    c = app.test_client()
    c.environ_base["REMOTE_ADDR"] = "10.0.0.1"
    resp = c.post(
        "/test/login",
        data={"email": "alice@example.com", "password": PASSWORD},
        headers={"X-Forwarded-For": "2001:db8::1"},
    )
    assert stored(app, resp.json["id"])[0] == "2001:db8::1"
