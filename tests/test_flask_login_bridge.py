"""An existing Flask-Login app keeps ``flask_login.current_user`` and
``@login_required`` while flask-sessionauth owns (and can revoke) the sessions."""

from __future__ import annotations

import typing as t

import flask_login
import pytest
import sqlalchemy as sa
from flask import Flask
from flask import jsonify
from flask import request
from flask_sqlalchemy import SQLAlchemy

from flask_sessionauth import SessionAuth
from flask_sessionauth.flask_login import use_flask_login
from tests.conftest import FAST_HASH
from tests.conftest import database_url
from tests.conftest import dispose
from tests.helpers import PASSWORD
from tests.helpers import session_rows

bridge_db = SQLAlchemy()


class Member(flask_login.UserMixin, bridge_db.Model):  # type: ignore[name-defined,misc]
    """A typical Flask-Login user model (``UserMixin`` gives ``is_active`` as a property)."""

    __tablename__ = "bridge_members"
    id = sa.Column(sa.Integer, primary_key=True)
    email = sa.Column(sa.String(320), unique=True, nullable=False)
    password_hash = sa.Column(sa.String(255), nullable=False)


def make_app(url: str) -> Flask:
    app = Flask(__name__)
    app.config.update(
        TESTING=True,
        SECRET_KEY="bridge-secret",
        SQLALCHEMY_DATABASE_URI=url,
        SESSIONAUTH_TABLE_NAME="bridge_session",
        SESSIONAUTH_PASSWORD_CONTEXT_OPTIONS=FAST_HASH,
        SESSIONAUTH_COOKIE_SECURE=False,
        SESSIONAUTH_REGISTER_API=False,
        WTF_CSRF_ENABLED=False,
    )
    bridge_db.init_app(app)
    login_manager = flask_login.LoginManager(app)
    auth = SessionAuth(app, db=bridge_db, user_model=Member)
    use_flask_login(app, login_manager)

    # The app's own, unchanged Flask-Login code:
    @app.get("/private")
    @flask_login.login_required
    def private() -> t.Any:
        return jsonify(email=flask_login.current_user.email, id=flask_login.current_user.get_id())

    @app.post("/old-login")
    def old_login() -> t.Any:
        member = auth.authenticate(request.form["email"], request.form["password"])
        if member is None:
            return "no", 401
        flask_login.login_user(member, remember=request.form.get("remember") == "1")
        return jsonify(email=flask_login.current_user.email)

    @app.post("/old-logout")
    def old_logout() -> t.Any:
        flask_login.logout_user()
        return "bye"

    @app.get("/whoami")
    def whoami() -> t.Any:
        user = flask_login.current_user
        return jsonify(authenticated=bool(user.is_authenticated), email=getattr(user, "email", None))

    return app


@pytest.fixture
def bridge_app(backend: str, tmp_path: t.Any) -> t.Iterator[Flask]:
    app = make_app(database_url(backend, tmp_path))
    with app.app_context():
        bridge_db.drop_all()
        bridge_db.create_all()
        app.extensions["sessionauth"].create_user("carol@example.com", PASSWORD)
    yield app
    dispose(app, drop=True)


def sign_in_through_flask_login(client: t.Any, remember: bool = True) -> t.Any:
    resp = client.post(
        "/old-login", data={"email": "carol@example.com", "password": PASSWORD, "remember": "1" if remember else "0"}
    )
    assert resp.status_code == 200, resp.data
    return resp


def test_flask_login_login_user_starts_a_revocable_session(bridge_app: Flask) -> None:
    client = bridge_app.test_client()
    resp = sign_in_through_flask_login(client)
    assert resp.json == {"email": "carol@example.com"}
    cookies = resp.headers.getlist("Set-Cookie")
    assert any(c.startswith("sessionauth=") and "Max-Age=" in c for c in cookies)
    assert not any(c.startswith("remember_token=") for c in cookies)
    with client.session_transaction() as flask_session:
        assert "_user_id" not in flask_session and "_remember" not in flask_session
    [row] = session_rows(bridge_app)
    assert row.remember is True
    assert client.get("/private").json["email"] == "carol@example.com"
    assert client.get("/whoami").json == {"authenticated": True, "email": "carol@example.com"}


def test_remember_flag_is_carried_over(bridge_app: Flask) -> None:
    client = bridge_app.test_client()
    resp = sign_in_through_flask_login(client, remember=False)
    session_cookie = next(c for c in resp.headers.getlist("Set-Cookie") if c.startswith("sessionauth="))
    assert "Max-Age" not in session_cookie
    assert session_rows(bridge_app)[0].remember is False


def test_login_required_sends_anonymous_users_to_sign_in(bridge_app: Flask) -> None:
    resp = bridge_app.test_client().get("/private")
    assert resp.status_code == 302
    assert resp.headers["Location"].startswith("/account/login")


def test_revocation_reaches_flask_login(bridge_app: Flask) -> None:
    laptop, phone = bridge_app.test_client(), bridge_app.test_client()
    sign_in_through_flask_login(laptop)
    sign_in_through_flask_login(phone)
    with bridge_app.test_request_context():
        auth = bridge_app.extensions["sessionauth"]
        member = bridge_db.session.execute(sa.select(Member)).scalar_one()
        sessions = auth.list_sessions(member)
        assert len(sessions) == 2
        phone_id = max(sessions, key=lambda s: s.created_at).id
        assert auth.revoke_session(phone_id, member)
    assert phone.get("/whoami").json["authenticated"] is False
    assert phone.get("/private").status_code == 302
    assert laptop.get("/private").status_code == 200


def test_flask_login_logout_user_ends_the_session(bridge_app: Flask) -> None:
    client = bridge_app.test_client()
    sign_in_through_flask_login(client)
    resp = client.post("/old-logout")
    assert any(c.startswith("sessionauth=;") and "Max-Age=0" in c for c in resp.headers.getlist("Set-Cookie"))
    assert session_rows(bridge_app) == []
    assert client.get("/whoami").json["authenticated"] is False


def test_cookie_session_logins_are_ignored(bridge_app: Flask) -> None:
    """A Flask-Login login in the signed cookie (e.g. from before the switch)
    cannot be revoked, so it does not count."""
    with bridge_app.app_context():
        member_id = bridge_db.session.execute(sa.select(Member.id)).scalar_one()
    client = bridge_app.test_client()
    with client.session_transaction() as flask_session:
        flask_session["_user_id"] = str(member_id)
        flask_session["_fresh"] = True
    assert client.get("/whoami").json["authenticated"] is False
    assert client.get("/private").status_code == 302


def test_old_remember_cookie_is_ignored_and_cleared(bridge_app: Flask) -> None:
    client = bridge_app.test_client()
    sign_in_through_flask_login(client)
    client.set_cookie("remember_token", "1|forged-digest")
    resp = client.get("/whoami")
    assert resp.json == {"authenticated": True, "email": "carol@example.com"}
    assert any(c.startswith("remember_token=;") for c in resp.headers.getlist("Set-Cookie"))
    assert client.get_cookie("remember_token") is None


def test_setup_order_is_checked(tmp_path: t.Any) -> None:
    app = Flask(__name__)
    with pytest.raises(RuntimeError, match="SessionAuth"):
        use_flask_login(app, flask_login.LoginManager(app))
    other = Flask(__name__)
    other.config.update(
        SECRET_KEY="k",
        SQLALCHEMY_DATABASE_URI=f"sqlite:///{tmp_path / 'x.db'}",
        SESSIONAUTH_TABLE_NAME="bridge_session",
    )
    bridge_db.init_app(other)
    SessionAuth(other, db=bridge_db, user_model=Member)
    with pytest.raises(RuntimeError, match="login_manager"):
        use_flask_login(other, flask_login.LoginManager())
