"""The Python API: listing and revoking sessions, scoped to their owner
(checklist 15-17, 19), in every storage mode."""

from __future__ import annotations

import typing as t

import pytest
from flask import Flask

from flask_sessionauth import SessionAuth
from flask_sessionauth import SessionAuthError
from flask_sessionauth import current_session
from flask_sessionauth import current_user
from flask_sessionauth import password_changed
from flask_sessionauth import session_created
from flask_sessionauth import session_revoked
from tests.conftest import EVERY_STORAGE
from tests.conftest import REPLICATED_REDIS
from tests.conftest import User
from tests.conftest import create_app
from tests.conftest import db
from tests.conftest import dispose
from tests.helpers import PASSWORD
from tests.helpers import cookie_name
from tests.helpers import in_request
from tests.helpers import login
from tests.helpers import session_cookie
from tests.helpers import session_ids
from tests.helpers import set_cookies
from tests.helpers import signed_in_as

pytestmark = pytest.mark.storage(*EVERY_STORAGE, *REPLICATED_REDIS)


def test_extension_registration(app: Flask) -> None:
    assert isinstance(app.extensions["sessionauth"], SessionAuth)
    with pytest.raises(RuntimeError):
        app.extensions["sessionauth"].init_app(app)
    assert app.config["SESSIONAUTH_EXPIRES_IN"] == 604800
    assert app.config["SESSIONAUTH_COOKIE_NAME"] == "sessionauth"
    with app.app_context():
        assert app.extensions["sessionauth"].session_model.__tablename__ == "user_session"


def test_constructor_form_and_missing_arguments() -> None:
    app = Flask(__name__)
    with pytest.raises(TypeError):
        SessionAuth(app)  # no db / user model


def test_list_sessions_newest_activity_first_and_scoped(
    app: Flask, client: t.Any, second_client: t.Any, user: t.Any, other_user: t.Any
) -> None:
    first = login(client)
    second = login(second_client)
    bob = app.test_client()
    login(bob, "bob@example.com")
    with in_request(app, second_client):
        auth = app.extensions["sessionauth"]
        sessions = auth.list_sessions()
        assert [s.id for s in sessions] == [second, first]
        assert all(s.user_id == user.id for s in sessions)
        assert current_session.id == second
        assert auth.get_session().id == second
        assert current_user.email == "alice@example.com"
        # listing another user's sessions by user object
        bob_user = db.session.get(User, other_user.id)
        assert len(auth.list_sessions(bob_user)) == 1


def test_revoke_session_scoped_to_owner(
    app: Flask, client: t.Any, second_client: t.Any, user: t.Any, other_user: t.Any
) -> None:
    alice_sid = login(client)
    bob = app.test_client()
    bob_sid = login(bob, "bob@example.com")
    with in_request(app, client):
        auth = app.extensions["sessionauth"]
        assert auth.revoke_session(bob_sid) is False
        assert auth.revoke_session("not-an-id") is False
        assert auth.revoke_session("A" * 22) is False
    assert signed_in_as(bob) == other_user.id
    second_sid = login(second_client)
    with in_request(app, client):
        assert app.extensions["sessionauth"].revoke_session(second_sid) is True
    assert signed_in_as(second_client) is None
    assert signed_in_as(client) == user.id
    assert session_ids(app, user.id) == {alice_sid}


def test_revoke_other_sessions_keeps_current(app: Flask, client: t.Any, second_client: t.Any, user: t.Any) -> None:
    login(client)
    login(second_client)
    third = app.test_client()
    login(third)
    with in_request(app, client):
        assert app.extensions["sessionauth"].revoke_other_sessions() == 2
    assert signed_in_as(client) == user.id
    assert signed_in_as(second_client) is None
    assert signed_in_as(third) is None


def test_revoke_sessions_ends_current_and_clears_cookie(
    app: Flask, client: t.Any, second_client: t.Any, user: t.Any
) -> None:
    login(client)
    login(second_client)
    with in_request(app, client):
        assert app.extensions["sessionauth"].revoke_sessions() == 2
        assert not current_user
        resp = app.process_response(app.make_response("x"))
        assert "Max-Age=0" in resp.headers["Set-Cookie"]
    assert signed_in_as(client) is None
    assert signed_in_as(second_client) is None


def test_revoke_sessions_of_other_user_keeps_callers_cookie(
    app: Flask, client: t.Any, user: t.Any, other_user: t.Any
) -> None:
    login(client)
    bob = app.test_client()
    login(bob, "bob@example.com")
    with in_request(app, client):
        bob_user = db.session.get(User, other_user.id)
        assert app.extensions["sessionauth"].revoke_sessions(bob_user) == 1
        assert current_user.email == "alice@example.com"
        resp = app.process_response(app.make_response("x"))
        assert cookie_name(app) not in set_cookies(resp)
    assert signed_in_as(bob) is None
    assert signed_in_as(client) == user.id


def test_api_without_signed_in_user_raises(app: Flask) -> None:
    with app.test_request_context("/"):
        app.preprocess_request()
        with pytest.raises(SessionAuthError):
            app.extensions["sessionauth"].list_sessions()


def test_signals(app: Flask, client: t.Any, second_client: t.Any, user: t.Any) -> None:
    created: list[str] = []
    revoked: list[tuple[list[str], str]] = []

    def on_created(sender: t.Any, **kw: t.Any) -> None:
        created.append(kw["session"].id)

    def on_revoked(sender: t.Any, **kw: t.Any) -> None:
        revoked.append((kw["session_ids"], kw["reason"]))

    with session_created.connected_to(on_created, app), session_revoked.connected_to(on_revoked, app):
        sid = login(client)
        client.post("/test/logout")
    assert created == [sid]
    assert revoked == [([sid], "logout")]


def test_user_with_inactive_column_is_rejected(app: Flask, client: t.Any, user: t.Any) -> None:
    login(client)
    with app.app_context():
        u = db.session.get(User, user.id)
        u.is_active = False
        db.session.commit()
    assert signed_in_as(client) is None
    resp = client.post("/test/login", data={"email": "alice@example.com", "password": PASSWORD})
    assert resp.status_code == 401


def test_deleted_user_sessions_end(app: Flask, client: t.Any, user: t.Any) -> None:
    login(client)
    with app.app_context():
        db.session.delete(db.session.get(User, user.id))
        db.session.commit()
        model = app.extensions["sessionauth"].session_model
        assert db.session.query(model).count() == 0
    assert signed_in_as(client) is None


def test_max_sessions_per_user_evicts_least_recently_active(app: Flask, user: t.Any) -> None:
    """A second app on the same storage (database, and Redis or the cookie cache
    when the mode has one) with a cap of two sessions per user."""
    config = {key: value for key, value in app.config.items() if key.startswith(("SQLALCHEMY_", "SESSIONAUTH_"))}
    other = create_app({**config, "SESSIONAUTH_MAX_SESSIONS_PER_USER": 2}, ext=SessionAuth())
    try:
        clients = [other.test_client() for _ in range(3)]
        ids = [login(c) for c in clients]
        assert signed_in_as(clients[0]) is None
        assert signed_in_as(clients[1]) == user.id
        assert signed_in_as(clients[2]) == user.id
        assert session_ids(other, user.id) == set(ids[1:])
    finally:
        dispose(other)


def test_nothing_handed_out_carries_the_secret_hash(app: Flask, client: t.Any, user: t.Any) -> None:
    login(client)
    with in_request(app, client):
        auth = app.extensions["sessionauth"]
        assert auth.get_session().secret_hash is None
        assert current_session.secret_hash is None
        (listed,) = auth.list_sessions()
        with pytest.raises(Exception, match="raiseload|secret_hash"):
            _ = listed.secret_hash  # not loaded, and never lazily fetched
        assert auth.login_user(db.session.get(User, user.id)).secret_hash is None


def test_current_session_fields_read_from_the_record_until_the_object_is_needed(
    app: Flask, client: t.Any, user: t.Any
) -> None:
    """Trick #6: ``current_session.<column>`` answers from the request's
    record without building the snapshot; the values are the snapshot's, the
    object itself is still a detached ``UserSession`` without the hash."""
    from flask import g
    from sqlalchemy import inspect as sa_inspect

    from flask_sessionauth.glue.state import UNSET

    sid = login(client)
    with in_request(app, client):
        state = g._sessionauth
        fields = ("id", "user_id", "remember", "expires_at", "created_at", "last_active_at", "user_agent")
        read = {name: getattr(current_session, name) for name in fields}
        assert state.session_obj is UNSET  # no snapshot built for field reads
        assert read["id"] == sid and read["user_id"] == user.id
        assert current_session.secret_hash is None
        obj = current_session._get_current_object()
        assert type(obj).__name__ == "UserSession" and sa_inspect(obj).detached
        assert {name: getattr(obj, name) for name in fields} == read
        assert obj.secret_hash is None


def test_api_works_in_a_bare_request_context(app: Flask, user: t.Any) -> None:
    """Like Flask-Login: no need to run the before-request hooks by hand."""
    auth = app.extensions["sessionauth"]
    with app.test_request_context("/"):
        u = db.session.get(User, user.id)
        created = auth.login_user(u)
        assert auth.get_session().id == created.id
        assert current_user.email == "alice@example.com"
        assert auth.revoke_other_sessions() == 0
        assert [s.id for s in auth.list_sessions()] == [created.id]


def test_revoking_own_session_signs_this_device_out_fully(app: Flask, client: t.Any, user: t.Any) -> None:
    sid = login(client)
    with in_request(app, client):
        assert app.extensions["sessionauth"].revoke_session(sid) is True
        resp = app.process_response(app.make_response("x"))
    assert "Max-Age=0" in resp.headers["Set-Cookie"]
    assert resp.headers["Clear-Site-Data"] == '"cache"'


def test_password_changed_signal_gets_the_real_user(app: Flask, client: t.Any, user: t.Any) -> None:
    login(client)
    seen: list[t.Any] = []
    with password_changed.connected_to(lambda s, **kw: seen.append(kw["user"]), app):
        with in_request(app, client):
            app.extensions["sessionauth"].change_password(current_user, PASSWORD, "a new password 1")
    assert len(seen) == 1
    assert type(seen[0]) is User  # the model instance, not the current_user proxy
    assert session_cookie(client, app) is not None
