"""The Python API: listing and revoking sessions, scoped to their owner (checklist 15-17, 19)."""

from __future__ import annotations

import pytest
from flask import Flask

from flask_sessionauth import SessionAuth
from flask_sessionauth import SessionAuthError
from flask_sessionauth import current_session
from flask_sessionauth import current_user
from flask_sessionauth import session_created
from flask_sessionauth import session_revoked
from tests.conftest import User
from tests.conftest import cookie_name
from tests.conftest import create_app
from tests.conftest import db
from tests.conftest import login


def in_request(app, client):
    """A request context carrying ``client``'s session cookie, hook run."""
    value = client.get_cookie(cookie_name(app)).value
    ctx = app.test_request_context("/", headers={"Cookie": f"{cookie_name(app)}={value}"})
    ctx.push()
    app.preprocess_request()
    return ctx


def test_extension_registration(app):
    assert isinstance(app.extensions["sessionauth"], SessionAuth)
    with pytest.raises(RuntimeError):
        app.extensions["sessionauth"].init_app(app)
    assert app.config["SESSIONAUTH_EXPIRES_IN"] == 604800
    assert app.config["SESSIONAUTH_COOKIE_NAME"] == "sessionauth"
    with app.app_context():
        assert app.extensions["sessionauth"].session_model.__tablename__ == "user_session"


def test_constructor_form_and_missing_arguments(tmp_path):
    app = Flask(__name__)
    with pytest.raises(TypeError):
        SessionAuth(app)  # no db / user model


def test_list_sessions_newest_activity_first_and_scoped(app, client, second_client, user, other_user):
    first = login(client)
    second = login(second_client)
    bob = app.test_client()
    login(bob, "bob@example.com")
    ctx = in_request(app, second_client)
    try:
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
    finally:
        ctx.pop()


def test_revoke_session_scoped_to_owner(app, client, second_client, user, other_user):
    alice_sid = login(client)
    bob = app.test_client()
    bob_sid = login(bob, "bob@example.com")
    ctx = in_request(app, client)
    try:
        auth = app.extensions["sessionauth"]
        assert auth.revoke_session(bob_sid) is False
        assert auth.revoke_session("not-an-id") is False
        assert auth.revoke_session("A" * 22) is False
    finally:
        ctx.pop()
    assert bob.get("/whoami").json == {"user_id": other_user.id}
    second_sid = login(second_client)
    ctx = in_request(app, client)
    try:
        assert app.extensions["sessionauth"].revoke_session(second_sid) is True
    finally:
        ctx.pop()
    assert second_client.get("/whoami").json == {"user_id": None}
    assert client.get("/whoami").json == {"user_id": user.id}
    assert alice_sid


def test_revoke_other_sessions_keeps_current(app, client, second_client, user):
    login(client)
    login(second_client)
    third = app.test_client()
    login(third)
    ctx = in_request(app, client)
    try:
        assert app.extensions["sessionauth"].revoke_other_sessions() == 2
    finally:
        ctx.pop()
    assert client.get("/whoami").json == {"user_id": user.id}
    assert second_client.get("/whoami").json == {"user_id": None}
    assert third.get("/whoami").json == {"user_id": None}


def test_revoke_sessions_ends_current_and_clears_cookie(app, client, second_client, user):
    login(client)
    login(second_client)
    value = client.get_cookie(cookie_name(app)).value
    with app.test_request_context("/", headers={"Cookie": f"{cookie_name(app)}={value}"}):
        app.preprocess_request()
        assert app.extensions["sessionauth"].revoke_sessions() == 2
        assert not current_user
        resp = app.process_response(app.make_response("x"))
        assert "Max-Age=0" in resp.headers["Set-Cookie"]
    assert client.get("/whoami").json == {"user_id": None}
    assert second_client.get("/whoami").json == {"user_id": None}


def test_revoke_sessions_of_other_user_keeps_callers_cookie(app, client, user, other_user):
    login(client)
    bob = app.test_client()
    login(bob, "bob@example.com")
    value = client.get_cookie(cookie_name(app)).value
    with app.test_request_context("/", headers={"Cookie": f"{cookie_name(app)}={value}"}):
        app.preprocess_request()
        bob_user = db.session.get(User, other_user.id)
        assert app.extensions["sessionauth"].revoke_sessions(bob_user) == 1
        assert current_user.email == "alice@example.com"
        resp = app.process_response(app.make_response("x"))
        assert "Set-Cookie" not in resp.headers
    assert bob.get("/whoami").json == {"user_id": None}


def test_api_without_signed_in_user_raises(app):
    with app.test_request_context("/"):
        app.preprocess_request()
        with pytest.raises(SessionAuthError):
            app.extensions["sessionauth"].list_sessions()


def test_signals(app, client, second_client, user):
    created, revoked = [], []

    def on_created(sender, **kw):
        created.append(kw["session"].id)

    def on_revoked(sender, **kw):
        revoked.append((kw["session_ids"], kw["reason"]))

    with session_created.connected_to(on_created, app), session_revoked.connected_to(on_revoked, app):
        sid = login(client)
        client.post("/test/logout")
    assert created == [sid]
    assert revoked == [([sid], "logout")]


def test_user_with_inactive_column_is_rejected(app, client, user):
    login(client)
    with app.app_context():
        u = db.session.get(User, user.id)
        u.is_active = False
        db.session.commit()
    assert client.get("/whoami").json == {"user_id": None}
    resp = client.post("/test/login", data={"email": "alice@example.com", "password": "correct horse battery"})
    assert resp.status_code == 401


def test_deleted_user_sessions_end(app, client, user):
    login(client)
    with app.app_context():
        db.session.delete(db.session.get(User, user.id))
        db.session.commit()
        model = app.extensions["sessionauth"].session_model
        assert db.session.query(model).count() == 0
    assert client.get("/whoami").json == {"user_id": None}


def test_max_sessions_per_user_evicts_least_recently_active(app, user):
    other = create_app(
        {"SQLALCHEMY_DATABASE_URI": app.config["SQLALCHEMY_DATABASE_URI"], "SESSIONAUTH_MAX_SESSIONS_PER_USER": 2},
        ext=SessionAuth(),
    )
    clients = [other.test_client() for _ in range(3)]
    ids = [login(c) for c in clients]
    assert clients[0].get("/whoami").json == {"user_id": None}
    assert clients[1].get("/whoami").json == {"user_id": user.id}
    assert clients[2].get("/whoami").json == {"user_id": user.id}
    with other.app_context():
        model = other.extensions["sessionauth"].session_model
        assert sorted(s.id for s in db.session.query(model)) == sorted(ids[1:])


def test_nothing_handed_out_carries_the_secret_hash(app, client, user):
    login(client)
    ctx = in_request(app, client)
    try:
        auth = app.extensions["sessionauth"]
        assert auth.get_session().secret_hash is None
        assert current_session.secret_hash is None
        (listed,) = auth.list_sessions()
        with pytest.raises(Exception, match="raiseload|secret_hash"):
            _ = listed.secret_hash  # not loaded, and never lazily fetched
        assert auth.login_user(db.session.get(User, user.id)).secret_hash is None
    finally:
        ctx.pop()


def test_api_works_in_a_bare_request_context(app, user):
    """Like Flask-Login: no need to run the before-request hooks by hand."""
    auth = app.extensions["sessionauth"]
    with app.test_request_context("/"):
        u = db.session.get(User, user.id)
        created = auth.login_user(u)
        assert auth.get_session().id == created.id
        assert current_user.email == "alice@example.com"
        assert auth.revoke_other_sessions() == 0
        assert [s.id for s in auth.list_sessions()] == [created.id]


def test_revoking_own_session_signs_this_device_out_fully(app, client, user):
    sid = login(client)
    value = client.get_cookie(cookie_name(app)).value
    with app.test_request_context("/", headers={"Cookie": f"{cookie_name(app)}={value}"}):
        app.preprocess_request()
        assert app.extensions["sessionauth"].revoke_session(sid) is True
        resp = app.process_response(app.make_response("x"))
    assert "Max-Age=0" in resp.headers["Set-Cookie"]
    assert resp.headers["Clear-Site-Data"] == '"cache"'


def test_password_changed_signal_gets_the_real_user(app, client, user):
    from flask_sessionauth import password_changed

    login(client)
    seen = []
    value = client.get_cookie(cookie_name(app)).value
    with password_changed.connected_to(lambda s, **kw: seen.append(kw["user"]), app):
        with app.test_request_context("/", headers={"Cookie": f"{cookie_name(app)}={value}"}):
            app.preprocess_request()
            app.extensions["sessionauth"].change_password(current_user, "correct horse battery", "a new password 1")
    assert len(seen) == 1
    assert type(seen[0]) is User  # the model instance, not the current_user proxy
