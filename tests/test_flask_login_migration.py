"""docs/migrating-from-flask-login.md, step by step, on a realistic Flask-Login app: its own
login form calling Werkzeug's ``check_password_hash``, a ``user_loader``, and Werkzeug hashes
made before the switch. After every step the app's own sign-in still works (never a 500)."""

from __future__ import annotations

import typing as t

import flask_login
import pytest
import sqlalchemy as sa
from flask import Flask
from flask import redirect
from flask import request
from flask_sqlalchemy import SQLAlchemy
from werkzeug.security import check_password_hash
from werkzeug.security import generate_password_hash

from flask_sessionauth import RateLimited
from flask_sessionauth import SessionAuth
from flask_sessionauth.flask_login import use_flask_login
from tests.conftest import FAST_HASH
from tests.conftest import database_url
from tests.conftest import dispose
from tests.helpers import PASSWORD
from tests.helpers import page_sign_in
from tests.helpers import session_rows

legacy_db = SQLAlchemy()
EMAIL = "ann@example.com"
NEW_PASSWORD = "a brand new passphrase"


class Member(flask_login.UserMixin, legacy_db.Model):  # type: ignore[name-defined,misc]
    __tablename__ = "migration_members"
    id = sa.Column(sa.Integer, primary_key=True)
    email = sa.Column(sa.String(320), unique=True, nullable=False)
    password_hash = sa.Column(sa.String(255), nullable=False)


def flask_login_app(url: str, *, switched: bool, upgrade: bool | None = None, authenticate: bool = False) -> Flask:
    """The app before the switch (``switched=False``) and after each step of the guide."""
    app = Flask(__name__)
    app.config.update(TESTING=True, SECRET_KEY="migration-secret", SQLALCHEMY_DATABASE_URI=url)
    app.config.update(SESSIONAUTH_PASSWORD_CONTEXT_OPTIONS=FAST_HASH, SESSIONAUTH_COOKIE_SECURE=False)
    app.config.update(SESSIONAUTH_TABLE_NAME="migration_session", SESSIONAUTH_REGISTER_API=False)
    app.config.update(WTF_CSRF_ENABLED=True, SESSIONAUTH_PASSWORD_UPGRADE=upgrade)
    legacy_db.init_app(app)  # step 4: before SessionAuth
    login_manager = flask_login.LoginManager(app)
    login_manager.login_view = "login"

    @login_manager.user_loader
    def load_user(user_id: str) -> t.Any:
        return legacy_db.session.get(Member, int(user_id))

    auth = None
    if switched:
        app.config["SESSIONAUTH_LOGIN_VIEW"] = "login"
        auth = SessionAuth(app, db=legacy_db, user_model=Member)
        use_flask_login(app, login_manager)

    @app.route("/login", methods=["GET", "POST"])
    def login() -> t.Any:
        if request.method == "GET":
            return "the app's own sign-in form"
        email, password = request.form["email"], request.form["password"]
        if authenticate:  # step 5
            assert auth is not None
            try:
                user = auth.authenticate(email, password)
            except RateLimited as exc:
                return exc.message, 429
        else:
            user = legacy_db.session.execute(sa.select(Member).filter_by(email=email)).scalar_one_or_none()
            if user is not None and not check_password_hash(user.password_hash, password):
                user = None
        if user is None:
            return "Invalid email or password", 401
        flask_login.login_user(user, remember=True)
        return redirect(request.args.get("next") or "/private")

    @app.get("/private")
    @flask_login.login_required
    def private() -> t.Any:
        return f"hello {flask_login.current_user.email}"

    return app


@pytest.fixture
def url(tmp_path: t.Any) -> t.Iterator[str]:
    """A database holding one member whose hash Werkzeug made before the switch."""
    url = database_url("sqlite", tmp_path)
    app = flask_login_app(url, switched=False)
    with app.app_context():
        legacy_db.create_all()
        legacy_db.session.add(Member(email=EMAIL, password_hash=generate_password_hash(PASSWORD)))
        legacy_db.session.commit()
        legacy_db.engine.dispose()
    yield url


def own_sign_in(app: Flask, email: str = EMAIL, password: str = PASSWORD) -> t.Any:
    client = app.test_client()
    return client, client.post("/login", data={"email": email, "password": password})


def stored_hash(app: Flask, email: str = EMAIL) -> str:
    with app.app_context():
        return t.cast(str, legacy_db.session.execute(sa.select(Member.password_hash).filter_by(email=email)).scalar())


def switched_app(url: str, **options: t.Any) -> t.Iterator[Flask]:
    app = flask_login_app(url, switched=True, **options)
    with app.app_context():
        legacy_db.create_all()  # step 3: the session tables
    yield app
    dispose(app)


@pytest.fixture
def app(url: str) -> t.Iterator[Flask]:
    yield from switched_app(url)


def test_before_the_switch_the_app_signs_in_with_flask_login(url: str) -> None:
    app = flask_login_app(url, switched=False)
    client, resp = own_sign_in(app)
    assert resp.status_code == 302
    assert client.get("/private").get_data(as_text=True) == f"hello {EMAIL}"
    with app.app_context():
        legacy_db.engine.dispose()


def test_after_the_switch_the_own_form_starts_a_revocable_session(app: Flask) -> None:
    client, resp = own_sign_in(app)
    assert resp.status_code == 302
    assert client.get("/private").get_data(as_text=True) == f"hello {EMAIL}"
    assert len(session_rows(app)) == 1
    assert app.extensions["sessionauth"].state_for(app).hasher.werkzeug_method == "scrypt"


def test_login_required_goes_to_the_apps_own_page(app: Flask) -> None:
    resp = app.test_client().get("/private")
    assert resp.status_code == 302
    assert resp.location == "/login?next=%2Fprivate"


def test_a_sign_in_on_the_account_page_keeps_the_own_form_working(app: Flask) -> None:
    resp = page_sign_in(app.test_client(), EMAIL, PASSWORD)
    assert resp.status_code == 302
    assert check_password_hash(stored_hash(app), PASSWORD)
    _, own = own_sign_in(app)
    assert own.status_code == 302  # was a 500: the hash had become argon2


def test_a_password_change_keeps_the_own_form_working(app: Flask) -> None:
    client, _ = own_sign_in(app)
    with app.test_request_context():
        user = legacy_db.session.execute(sa.select(Member).filter_by(email=EMAIL)).scalar_one()
        app.extensions["sessionauth"].change_password(user, PASSWORD, NEW_PASSWORD)
    assert check_password_hash(stored_hash(app), NEW_PASSWORD)
    assert own_sign_in(app, password=NEW_PASSWORD)[1].status_code == 302
    assert own_sign_in(app)[1].status_code == 401


def test_create_user_keeps_the_own_form_working(app: Flask) -> None:
    with app.app_context():
        app.extensions["sessionauth"].create_user("bob@example.com", NEW_PASSWORD)
    assert check_password_hash(stored_hash(app, "bob@example.com"), NEW_PASSWORD)
    assert own_sign_in(app, "bob@example.com", NEW_PASSWORD)[1].status_code == 302


def test_authenticate_replaces_check_password_hash(url: str) -> None:
    for app in switched_app(url, authenticate=True, upgrade=True):
        assert own_sign_in(app, password="wrong password")[1].status_code == 401
        client, resp = own_sign_in(app)
        assert resp.status_code == 302
        assert client.get("/private").get_data(as_text=True) == f"hello {EMAIL}"
        assert stored_hash(app).startswith("$argon2id$")  # step 6: upgraded at the sign-in
        limit = app.config["SESSIONAUTH_RATE_LIMIT_ACCOUNT"]
        answers = [own_sign_in(app, password="wrong password")[1].status_code for _ in range(limit + 1)]
        assert answers == [401] * limit + [429]


def test_opting_in_upgrades_to_argon2(url: str) -> None:
    for app in switched_app(url, upgrade=True):
        assert page_sign_in(app.test_client(), EMAIL, PASSWORD).status_code == 302
        assert stored_hash(app).startswith("$argon2id$")
        with app.app_context():
            app.extensions["sessionauth"].create_user("bob@example.com", NEW_PASSWORD)
        assert stored_hash(app, "bob@example.com").startswith("$argon2id$")
