"""The session table: columns, indexes, foreign key, time zones; user models with an
``is_active`` property; the constructor form of the extension."""

from __future__ import annotations

import datetime as dt
import typing as t

import pytest
import sqlalchemy as sa
from flask import Flask
from flask import jsonify
from flask_sqlalchemy import SQLAlchemy

from flask_sessionauth import SessionAuth
from flask_sessionauth import UserMixin
from flask_sessionauth import current_user
from tests.conftest import FAST_HASH
from tests.conftest import User
from tests.conftest import db
from tests.helpers import PASSWORD
from tests.helpers import cookie_name
from tests.helpers import login


def test_table_shape(app: Flask) -> None:
    with app.app_context():
        insp = sa.inspect(db.engine)
        cols = {c["name"]: c for c in insp.get_columns("user_session")}
        assert set(cols) >= {
            "id", "user_id", "expires_at", "ip_address", "user_agent", "secret_hash",
            "created_at", "updated_at", "last_active_at", "authenticated_at",
        }  # fmt: skip
        assert cols["ip_address"]["type"].length == 45
        assert cols["user_agent"]["type"].length == 512
        indexed = {tuple(i["column_names"]) for i in insp.get_indexes("user_session")}
        assert ("user_id",) in indexed and ("expires_at",) in indexed
        (fk,) = insp.get_foreign_keys("user_session")
        assert fk["referred_table"] == "users"
        assert fk["options"].get("ondelete") == "CASCADE"


def test_timestamps_are_aware_utc(app: Flask, client: t.Any, user: t.Any) -> None:
    sid = login(client)
    with app.app_context():
        s = db.session.get(app.extensions["sessionauth"].session_model, sid)
        for value in (s.created_at, s.updated_at, s.expires_at, s.last_active_at, s.authenticated_at):
            assert value.tzinfo is not None and value.utcoffset() == dt.timedelta(0)
        assert abs((s.created_at - dt.datetime.now(dt.timezone.utc)).total_seconds()) < 60


@pytest.mark.skip_storage("sqlite", reason="SQLite enforces foreign keys only with PRAGMA foreign_keys (documented)")
def test_database_cascade_deletes_sessions(app: Flask, client: t.Any, user: t.Any) -> None:
    """Raw SQL deletes bypass ORM events; PostgreSQL's FK cascade still ends the sessions."""
    login(client)
    with app.app_context():
        db.session.execute(sa.text("DELETE FROM users"))
        db.session.commit()
        assert db.session.execute(sa.text("SELECT count(*) FROM user_session")).scalar() == 0


def test_orphan_session_is_rejected(app: Flask, client: t.Any, user: t.Any) -> None:
    login(client)
    with app.app_context():
        db.session.execute(sa.text("DELETE FROM users"))
        db.session.commit()
    assert client.get("/whoami").json == {"user_id": None}


prop_db = SQLAlchemy()


class PropUser(UserMixin, prop_db.Model):  # type: ignore[name-defined,misc]
    __tablename__ = "prop_users"
    id = sa.Column(sa.String(36), primary_key=True)
    login = sa.Column(sa.String(320), unique=True)
    pw = sa.Column(sa.String(255))
    disabled = sa.Column(sa.Boolean, default=False)

    @property
    def is_active(self) -> bool:
        return not self.disabled


def test_string_ids_custom_fields_and_is_active_property(tmp_path: t.Any) -> None:
    app = Flask(__name__)
    app.config.update(
        SECRET_KEY="k",
        SQLALCHEMY_DATABASE_URI=f"sqlite:///{tmp_path / 'p.db'}",
        SESSIONAUTH_USER_IDENTITY_FIELD="login",
        SESSIONAUTH_PASSWORD_FIELD="pw",
        SESSIONAUTH_TABLE_NAME="prop_sessions",
        SESSIONAUTH_PASSWORD_CONTEXT_OPTIONS=FAST_HASH,
        SESSIONAUTH_REGISTER_API=False,
    )
    prop_db.init_app(app)
    auth = SessionAuth(app, db=prop_db, user_model=PropUser)

    @app.get("/who")
    def who() -> t.Any:
        return jsonify(id=current_user.id if current_user else None)

    @app.post("/in")
    def sign_in() -> t.Any:
        user = auth.authenticate("carol@example.com", PASSWORD)
        auth.login_user(user)
        return "ok"

    with app.app_context():
        prop_db.create_all()
        auth.create_user("Carol@Example.com", PASSWORD, id="u-1")
        assert auth.session_model.__tablename__ == "prop_sessions"
    c = app.test_client()
    c.post("/in")
    assert c.get("/who").json == {"id": "u-1"}
    with app.app_context():
        u = prop_db.session.get(PropUser, "u-1")
        u.disabled = True
        prop_db.session.commit()
    resp = c.get("/who")
    assert resp.json == {"id": None}
    assert "Max-Age=0" in resp.headers["Set-Cookie"]


def test_login_user_outside_request_returns_token(app: Flask, user: t.Any) -> None:
    auth = app.extensions["sessionauth"]
    with app.app_context():
        sess = auth.login_user(db.session.get(User, user.id))
        assert sess.ip_address is None
        token = sess.token
    c = app.test_client()
    c.set_cookie(cookie_name(app), token)
    assert c.get("/whoami").json == {"user_id": user.id}
