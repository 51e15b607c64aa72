"""``@auth.before_session_create``: a hook that may refuse a new session (bans,
risk checks), on the pages, the API and the Python API; a crashing hook fails
closed with a generic message."""

from __future__ import annotations

import logging
import typing as t

import pytest
from flask import Flask
from markupsafe import escape

from flask_sessionauth import SessionAuth
from flask_sessionauth.core.errors import SessionRefused
from tests.conftest import create_app
from tests.conftest import db
from tests.conftest import dispose
from tests.helpers import PASSWORD
from tests.helpers import api_post
from tests.helpers import auth_of
from tests.helpers import page_sign_in
from tests.helpers import session_cookie
from tests.helpers import session_ids
from tests.helpers import text
from tests.helpers import wire_code

BANNED = "This account is suspended. Contact support."


@pytest.fixture
def app(storage_config: dict[str, t.Any]) -> t.Iterator[Flask]:
    """The test app with an extension of its own, so hooks stay in this test."""
    app = create_app({**storage_config, "WTF_CSRF_ENABLED": True}, ext=SessionAuth())
    with app.app_context():
        db.drop_all()
        db.create_all()
    yield app
    dispose(app, drop=True)


def ban(user: t.Any, client: t.Any) -> None:
    raise SessionRefused(BANNED)


def test_refused_on_the_sign_in_page(app: Flask, user: t.Any, client: t.Any) -> None:
    auth_of(app).before_session_create(ban)
    resp = page_sign_in(client)
    assert resp.status_code == 403
    assert BANNED in text(resp)
    assert session_cookie(client, app) is None
    assert session_ids(app) == set()


def test_a_returned_message_refuses_too(app: Flask, user: t.Any, client: t.Any) -> None:
    auth_of(app).before_session_create(lambda user, client: "Sign-ins from this network are paused.")
    resp = page_sign_in(client)
    assert resp.status_code == 403
    assert "Sign-ins from this network are paused." in text(resp)
    assert session_ids(app) == set()


def test_refused_in_the_api(app: Flask, user: t.Any, client: t.Any) -> None:
    auth_of(app).before_session_create(ban)
    resp = api_post(client, "sign-in/email", {"email": "alice@example.com", "password": PASSWORD})
    assert resp.status_code == 403
    assert wire_code(resp) == "SESSION_REFUSED"
    assert resp.json["message"] == BANNED
    assert session_ids(app) == set()


def test_login_user_raises(app: Flask, user: t.Any) -> None:
    auth = auth_of(app)
    auth.before_session_create(ban)
    with app.test_request_context("/"), pytest.raises(SessionRefused) as caught:
        auth.login_user(db.session.get(type(user), user.id))
    assert caught.value.message == BANNED
    with app.app_context(), pytest.raises(SessionRefused):
        auth.login_user(db.session.get(type(user), user.id))  # outside a request too
    assert session_ids(app) == set()


def test_the_hook_sees_the_user_and_the_client(app: Flask, user: t.Any, client: t.Any) -> None:
    seen: list[tuple[t.Any, t.Any]] = []
    auth_of(app).before_session_create(lambda user, client: seen.append((user.email, client)))
    resp = page_sign_in(client)
    assert resp.status_code == 302
    ((email, asking),) = seen
    assert email == "alice@example.com"
    assert asking.ip_address == "127.0.0.1" and "Chrome" in asking.user_agent
    assert len(session_ids(app)) == 1


def test_a_crashing_hook_fails_closed(app: Flask, user: t.Any, client: t.Any, caplog: pytest.LogCaptureFixture) -> None:
    def broken(user: t.Any, client: t.Any) -> None:
        raise KeyError("risk-service-secret-detail")

    auth_of(app).before_session_create(broken)
    with caplog.at_level(logging.ERROR, logger="flask_sessionauth"):
        resp = page_sign_in(client)
        api = api_post(client, "sign-in/email", {"email": "alice@example.com", "password": PASSWORD})
    assert resp.status_code == 403 and api.status_code == 403
    body = text(resp)
    assert str(escape(str(SessionRefused.default_message))) in body
    assert "risk-service-secret-detail" not in body and "Traceback" not in body
    assert api.json["message"] == SessionRefused.default_message
    assert any("before_session_create" in r.getMessage() and r.exc_info for r in caplog.records)
    assert session_ids(app) == set()
