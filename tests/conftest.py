"""Shared fixtures: an app factory, storage backends, clients for two devices.

Storage tests run on SQLite always and on PostgreSQL (127.0.0.1:5432, database
``test``) when it is reachable. ``SESSIONAUTH_REQUIRE_SERVICES=1`` (set by
``.ci/run``) turns an unreachable PostgreSQL or Redis into a failure.
"""

from __future__ import annotations

import atexit
import os
import typing as t

import pytest
import sqlalchemy as sa
from flask import Flask
from flask import jsonify
from flask import request
from flask_sqlalchemy import SQLAlchemy

from flask_sessionauth import InvalidPassword
from flask_sessionauth import SessionAuth
from flask_sessionauth import current_session
from flask_sessionauth import current_user
from flask_sessionauth import fresh_login_required
from flask_sessionauth import login_required

POSTGRES_URL = os.environ.get("SESSIONAUTH_TEST_POSTGRES", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
REDIS_URL = os.environ.get("SESSIONAUTH_TEST_REDIS", "redis://127.0.0.1:6379/15")
REQUIRE_SERVICES = os.environ.get("SESSIONAUTH_REQUIRE_SERVICES") == "1"
PASSWORD = "correct horse battery"
UA_FIREFOX = "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:133.0) Gecko/20100101 Firefox/133.0"
UA_CHROME = (
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 "
    "(KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36"
)
# Cheap argon2 parameters keep the suite fast; production defaults are tested separately.
FAST_HASH = {"argon2__type": "ID", "argon2__memory_cost": 1024, "argon2__time_cost": 1, "argon2__parallelism": 1}

db = SQLAlchemy()


class User(db.Model):  # type: ignore[name-defined,misc]
    __tablename__ = "users"
    id = sa.Column(sa.Integer, primary_key=True)
    email = sa.Column(sa.String(320), unique=True, nullable=False)
    password_hash = sa.Column(sa.String(255), nullable=False)
    is_active = sa.Column(sa.Boolean, nullable=False, default=True)
    name = sa.Column(sa.String(100))


auth = SessionAuth()

_reachable: dict[str, bool] = {}


def service_reachable(kind: str) -> bool:
    if kind not in _reachable:
        try:
            if kind == "postgres":
                engine = sa.create_engine(POSTGRES_URL)
                with engine.connect() as conn:
                    conn.execute(sa.text("select 1"))
                engine.dispose()
            else:
                import redis

                redis.Redis.from_url(REDIS_URL, socket_connect_timeout=1).ping()
            _reachable[kind] = True
        except Exception:
            _reachable[kind] = False
    return _reachable[kind]


def require(kind: str) -> None:
    if service_reachable(kind):
        return
    if REQUIRE_SERVICES:
        pytest.fail(f"{kind} is required (SESSIONAUTH_REQUIRE_SERVICES=1) but not reachable")
    pytest.skip(f"{kind} not reachable on 127.0.0.1")


_pg_database: list[str] = []


def postgres_url() -> str:
    """A PostgreSQL database private to this test run.

    Created from the shared ``test`` database and dropped at exit, so parallel
    runs (and benchmarks) on one server never drop each other's tables.
    """
    require("postgres")
    if not _pg_database:
        name = f"sessionauth_test_{os.getpid()}"
        admin = sa.create_engine(POSTGRES_URL, isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
        admin.dispose()

        def drop() -> None:
            engine = sa.create_engine(POSTGRES_URL, isolation_level="AUTOCOMMIT")
            with engine.connect() as conn:
                conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            engine.dispose()

        atexit.register(drop)
        _pg_database.append(POSTGRES_URL.rsplit("/", 1)[0] + "/" + name)
    return _pg_database[0]


def database_url(backend: str, tmp_path: t.Any) -> str:
    if backend == "postgres":
        return postgres_url()
    return f"sqlite:///{tmp_path / 'app.db'}"


def create_app(config: dict[str, t.Any] | None = None, *, ext: SessionAuth | None = None) -> Flask:
    """The test app: the extension plus a few probe views."""
    app = Flask(__name__)
    app.config.update(
        TESTING=True,
        SECRET_KEY="test-secret-key",
        SQLALCHEMY_DATABASE_URI="sqlite://",
        SESSIONAUTH_PASSWORD_CONTEXT_OPTIONS=FAST_HASH,
    )
    app.config.update(config or {})
    db.init_app(app)
    (ext or auth).init_app(app, db=db, user_model=User)

    @app.get("/me")
    @login_required
    def me() -> t.Any:
        return jsonify(email=current_user.email)

    @app.get("/whoami")
    def whoami() -> t.Any:
        return jsonify(user_id=current_session.user_id)

    @app.get("/sudo")
    @fresh_login_required
    def sudo() -> t.Any:
        return "sudo ok"

    @app.post("/test/login")
    def test_login() -> t.Any:
        ext_ = app.extensions["sessionauth"]
        user = ext_.authenticate(request.form["email"], request.form["password"])
        if user is None:
            return "bad credentials", 401
        sess = ext_.login_user(user, remember=request.form.get("remember", "1") == "1")
        return jsonify(id=sess.id)

    @app.post("/test/reauth")
    def test_reauth() -> t.Any:
        try:
            sess = app.extensions["sessionauth"].reauthenticate(request.form["password"])
        except InvalidPassword as exc:
            return exc.message, 403
        return jsonify(id=sess.id)

    @app.post("/test/logout")
    def test_logout() -> t.Any:
        app.extensions["sessionauth"].logout_user()
        return "bye"

    return app


@pytest.fixture(params=["sqlite", "postgres"])
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def app_config() -> dict[str, t.Any]:
    """Override in a test module (or parametrize) to change the app's config."""
    return {}


@pytest.fixture
def app(backend: str, tmp_path: t.Any, app_config: dict[str, t.Any]) -> t.Iterator[Flask]:
    config = {"SQLALCHEMY_DATABASE_URI": database_url(backend, tmp_path), "WTF_CSRF_ENABLED": True}
    config.update(app_config)
    app = create_app(config)
    with app.app_context():
        db.drop_all()
        db.create_all()
    yield app
    with app.app_context():
        db.session.remove()
        db.drop_all()
        db.engine.dispose()


@pytest.fixture
def user(app: Flask) -> t.Any:
    with app.app_context():
        u = app.extensions["sessionauth"].create_user("alice@example.com", PASSWORD, name="Alice")
        db.session.refresh(u)
        db.session.expunge(u)
        return u


@pytest.fixture
def other_user(app: Flask) -> t.Any:
    with app.app_context():
        u = app.extensions["sessionauth"].create_user("bob@example.com", PASSWORD, name="Bob")
        db.session.refresh(u)
        db.session.expunge(u)
        return u


def login(client: t.Any, email: str = "alice@example.com", password: str = PASSWORD, remember: bool = True) -> str:
    """Sign ``client`` in through the test route; returns the session id."""
    resp = client.post("/test/login", data={"email": email, "password": password, "remember": "1" if remember else "0"})
    assert resp.status_code == 200, resp.data
    return str(resp.json["id"])


def device(app: Flask, user_agent: str = UA_CHROME, remote_addr: str = "127.0.0.1") -> t.Any:
    """A test client that presents itself as one browser on one address."""
    c = app.test_client()
    c.environ_base.update(HTTP_USER_AGENT=user_agent, REMOTE_ADDR=remote_addr)
    return c


def raw_client(app: Flask) -> t.Any:
    """A client without a cookie jar, for sending exact ``Cookie`` headers."""
    c = app.test_client(use_cookies=False)
    c.environ_base.update(HTTP_USER_AGENT=UA_CHROME)
    return c


@pytest.fixture
def client(app: Flask) -> t.Any:
    return device(app, UA_CHROME)


@pytest.fixture
def second_client(app: Flask) -> t.Any:
    """Another device signed in to the same account."""
    return device(app, UA_FIREFOX, "203.0.113.7")


def cookie_name(app: Flask) -> str:
    return str(app.extensions["sessionauth"].state_for(app).settings.cookie_name)


def session_cookie(client: t.Any, app: Flask) -> str | None:
    cookie = client.get_cookie(cookie_name(app))
    return None if cookie is None else str(cookie.value)


class StatementCounter:
    """Counts SQL statements (and transaction control) sent by an engine."""

    def __init__(self, engine: sa.Engine) -> None:
        self.engine = engine
        self.statements: list[str] = []

    def __enter__(self) -> StatementCounter:
        sa.event.listen(self.engine, "before_cursor_execute", self._on_execute)
        return self

    def __exit__(self, *exc: t.Any) -> None:
        sa.event.remove(self.engine, "before_cursor_execute", self._on_execute)

    def _on_execute(self, conn: t.Any, cursor: t.Any, statement: str, *args: t.Any) -> None:
        self.statements.append(statement)

    @property
    def reads(self) -> list[str]:
        return [s for s in self.statements if s.lstrip().upper().startswith("SELECT")]

    @property
    def writes(self) -> list[str]:
        return [s for s in self.statements if s.lstrip().upper().split(" ", 1)[0] in {"INSERT", "UPDATE", "DELETE"}]


@pytest.fixture
def count_sql(app: Flask) -> t.Callable[[], StatementCounter]:
    def make() -> StatementCounter:
        with app.app_context():
            return StatementCounter(db.engine)

    return make


@pytest.fixture(scope="module")
def browser() -> t.Iterator[t.Any]:
    """Debian's Chromium through Playwright, one per test module."""
    from tests.live import CHROMIUM
    from tests.live import chromium_available
    from tests.live import launch_chromium

    if not chromium_available():
        if REQUIRE_SERVICES:
            pytest.fail(f"Chromium ({CHROMIUM}) and Playwright are required (SESSIONAUTH_REQUIRE_SERVICES=1)")
        pytest.skip(f"Chromium not found at {CHROMIUM}")
    with launch_chromium() as chromium:
        yield chromium


@pytest.fixture
def base_url(tmp_path: t.Any) -> t.Iterator[str]:
    """The test app on a SQLite file, served on 127.0.0.1; yields its base URL."""
    from tests.live import live_app
    from tests.live import live_server

    with live_server(live_app(str(tmp_path / "live.db"))) as url:
        yield url
