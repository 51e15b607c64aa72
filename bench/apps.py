"""The benchmarked applications: one factory per mode, identical views.

Every app serves ``GET /me`` (the signed-in user's email, from the app's
``User`` model) and ``GET /whoami`` (just the user id), plus ``POST
/bench/login`` which signs user 1 in and answers with the cookies to replay.
``create(mode, data_dir)`` is importable by gunicorn
(``bench.apps:create('sessionauth-sqlite', '/tmp/x')``); ``setup(...)`` creates
the schema and the user first.
"""

from __future__ import annotations

import hashlib
import os
import secrets
import sqlite3
import threading
import typing as t

import sqlalchemy as sa
from flask import Flask
from flask import abort
from flask import g
from flask import jsonify
from flask import request
from flask_sqlalchemy import SQLAlchemy

EMAIL = "alice@example.com"
# Its own database, so a benchmark never collides with a test run on ``test``.
# Each PostgreSQL mode gets its own database, named after this one plus a
# suffix (modes run side by side, and ``setup`` recreates the tables).
POSTGRES_URL = os.environ.get("BENCH_POSTGRES", "postgresql+psycopg://postgres@127.0.0.1:5432/sessionauth_bench")
# Keys live under ``REDIS_PREFIX<mode>:``; the harness deletes only those (no FLUSHDB).
REDIS_URL = os.environ.get("BENCH_REDIS", "redis://127.0.0.1:6379/13")
REDIS_PREFIX = os.environ.get("BENCH_REDIS_PREFIX", "sessionauth-bench:")
#: A ``redis+cluster://`` URL for the cluster modes (``bench/run.py --redis-cluster`` starts one).
REDIS_CLUSTER_URL = os.environ.get("BENCH_REDIS_CLUSTER", "")
COOKIE = "bench_session"
# Long enough that no timed loop outlives a cache cookie: the cache modes
# measure hits. The harness still follows re-issued cookies (as a browser
# does) and counts them, so a miss is visible, never silently timed.
COOKIE_CACHE_MAX_AGE = 3600
#: Entries of the process-local cache in the ``sessionauth-redis-csc`` mode.
LOCAL_CACHE_SIZE = 10_000

MODES = (
    "plain",
    "flask-login",
    "flask-session",
    "orm",
    "core",
    "sqlite3",
    "sessionauth-sqlite",
    "sessionauth-postgres",
    "sessionauth-redis",
    "sessionauth-redis-csc",
    "sessionauth-redis-cluster",
    "sessionauth-redis-cluster-csc",
    "sessionauth-cookie-cache",
    "sessionauth-cookie-cache-postgres",
)
POSTGRES_MODES = {"sessionauth-postgres": "", "sessionauth-cookie-cache-postgres": "_cc"}
CLUSTER_MODES = ("sessionauth-redis-cluster", "sessionauth-redis-cluster-csc")
REDIS_MODES = ("sessionauth-redis", "sessionauth-redis-csc", *CLUSTER_MODES)
LOCAL_CACHE_MODES = ("sessionauth-redis-csc", "sessionauth-redis-cluster-csc")


def redis_url(mode: str) -> str:
    return REDIS_CLUSTER_URL if mode in CLUSTER_MODES else REDIS_URL


COOKIE_CACHE_MODES = ("sessionauth-cookie-cache", "sessionauth-cookie-cache-postgres")


def database_url(mode: str, data_dir: str) -> str:
    if mode in POSTGRES_MODES:
        url = sa.make_url(POSTGRES_URL)
        return url.set(database=f"{url.database}{POSTGRES_MODES[mode]}").render_as_string(hide_password=False)
    return f"sqlite:///{os.path.join(data_dir, mode + '.db')}"


def redis_prefix(mode: str) -> str:
    return f"{REDIS_PREFIX}{mode}:"


def supports(mode: str) -> str | None:
    """Why the installed flask-sessionauth cannot run ``mode`` (``None``: it can)."""
    if mode in CLUSTER_MODES and not REDIS_CLUSTER_URL:
        return "no cluster: set BENCH_REDIS_CLUSTER or pass --redis-cluster"
    if mode in LOCAL_CACHE_MODES:
        from flask_sessionauth.core.config import DEFAULTS

        if "SESSIONAUTH_REDIS_LOCAL_CACHE" not in DEFAULTS:
            return "this flask-sessionauth has no SESSIONAUTH_REDIS_LOCAL_CACHE"
    return None


def plain_user_model(db: SQLAlchemy) -> t.Any:
    """The benchmarks' plain ``users`` table on ``db`` (the password benches' model)."""

    class User(db.Model):  # type: ignore[name-defined,misc]
        __tablename__ = "users"
        id = sa.Column(sa.Integer, primary_key=True)
        email = sa.Column(sa.String(320), unique=True, nullable=False)
        password_hash = sa.Column(sa.String(255), nullable=False)
        is_active = sa.Column(sa.Boolean, nullable=False, default=True)

    return User


def _base(mode: str, data_dir: str) -> tuple[Flask, SQLAlchemy, t.Any]:
    app = Flask(f"bench_{mode.replace('-', '_')}")
    app.config.update(SECRET_KEY="bench-secret", SQLALCHEMY_DATABASE_URI=database_url(mode, data_dir))
    db = SQLAlchemy()

    class User(db.Model):  # type: ignore[name-defined,misc]
        __tablename__ = "users"
        id = sa.Column(sa.Integer, primary_key=True)
        email = sa.Column(sa.String(320), unique=True, nullable=False)
        password_hash = sa.Column(sa.String(255), nullable=False)
        is_active = sa.Column(sa.Boolean, nullable=False, default=True)

        # Flask-Login's protocol, spelled out so no mixin differs between peers.
        is_authenticated = True
        is_anonymous = False

        def get_id(self) -> str:
            return str(self.id)

    return app, db, User


class _HandSession:
    """The hand-written peers' session table: id, user_id, secret hash, expiry."""

    DDL = (
        "CREATE TABLE IF NOT EXISTS hand_session (id VARCHAR(32) PRIMARY KEY,"
        " user_id INTEGER NOT NULL REFERENCES users(id), secret_hash VARCHAR(64) NOT NULL,"
        " expires_at INTEGER NOT NULL)"
    )


def create(mode: str, data_dir: str) -> Flask:
    """Build the app for ``mode`` over an already set-up database."""
    if mode not in MODES:
        raise ValueError(f"unknown mode {mode!r}")
    app, db, User = _base(mode, data_dir)
    builder = _BUILDERS.get(mode, _sessionauth)
    builder(app, db, User, mode)
    app.extensions["bench_db"] = db
    app.extensions["bench_user_model"] = User
    return app


def setup(mode: str, data_dir: str, extra_sessions: int = 0) -> Flask:
    """Create the schema and user 1 (and ``extra_sessions`` filler rows), return the app."""
    app = create(mode, data_dir)
    db = app.extensions["bench_db"]
    User = app.extensions["bench_user_model"]
    if mode in POSTGRES_MODES:
        _create_database(database_url(mode, data_dir))
    if mode in REDIS_MODES:
        clear_redis(mode)
    with app.app_context():
        with db.engine.begin() as conn:
            conn.exec_driver_sql("DROP TABLE IF EXISTS hand_session")
        db.drop_all()
        db.create_all()
        with db.engine.begin() as conn:
            conn.exec_driver_sql(_HandSession.DDL)
            conn.exec_driver_sql("DELETE FROM hand_session")
        db.session.add(User(id=1, email=EMAIL, password_hash="x"))
        db.session.commit()
        if extra_sessions:
            _fill_sessions(app, extra_sessions)
    return app


def clear_redis(mode: str) -> None:
    """Delete this mode's keys (and nothing else) from the benchmark's Redis DB."""
    from flask_sessionauth.storage.redis_clients import connect

    client = connect(redis_url(mode))
    keys = list(client.scan_iter(match=redis_prefix(mode) + "*", count=1000))
    for start in range(0, len(keys), 1000):
        client.delete(*keys[start : start + 1000])
    client.close()


def _create_database(url: str) -> None:
    target = sa.make_url(url)
    engine = sa.create_engine(target.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        exists = conn.execute(sa.text("SELECT 1 FROM pg_database WHERE datname = :n"), {"n": target.database}).first()
        if not exists:
            conn.exec_driver_sql(f'CREATE DATABASE "{target.database}"')
    engine.dispose()


def _fill_sessions(app: Flask, count: int, sample: int = 1000) -> None:
    """Insert ``count`` session rows of 1,000 other users (the scale check).

    They share one secret, so ``app.extensions["bench_sample_cookies"]`` can
    hold the ``Cookie`` headers of ``sample`` of them, drawn at random: the
    scale check cycles through those, so it measures lookups spread over the
    table, not one hot row.
    """
    import datetime as dt
    import random

    db = app.extensions["bench_db"]
    User = app.extensions["bench_user_model"]
    model = app.extensions["sessionauth"].session_model
    table = model.__table__
    users = 1000
    with db.engine.begin() as conn:
        conn.execute(
            User.__table__.insert(),
            [
                {"id": i, "email": f"u{i}@example.com", "password_hash": "x", "is_active": True}
                for i in range(2, users + 2)
            ],
        )
    secret = secrets.token_urlsafe(32)
    secret_hash = hashlib.sha256(secret.encode()).hexdigest()
    now = dt.datetime.now(dt.timezone.utc)
    later = now + dt.timedelta(days=7)
    picked = set(random.sample(range(count), min(sample, count)))
    cookie_name = app.config["SESSIONAUTH_COOKIE_NAME"]
    cookies = []
    batch = 50_000
    for start in range(0, count, batch):
        rows = []
        for i in range(start, min(start + batch, count)):
            sid = secrets.token_urlsafe(16)
            if i in picked:
                cookies.append(f"{cookie_name}={sid}.{secret}")
            rows.append(
                {
                    "id": sid,
                    "user_id": 2 + (i % users),
                    "secret_hash": secret_hash,
                    "remember": True,
                    "expires_at": later,
                    "created_at": now,
                    "updated_at": now,
                    "last_active_at": now,
                    "authenticated_at": None,
                    "ip_address": "203.0.113.1",
                    "user_agent": "bench",
                }
            )
        with db.engine.begin() as conn:
            conn.execute(table.insert(), rows)
    random.shuffle(cookies)
    app.extensions["bench_sample_cookies"] = cookies


# -- the peers --------------------------------------------------------------


def _plain(app: Flask, db: SQLAlchemy, User: t.Any, mode: str) -> None:
    db.init_app(app)

    @app.get("/me")
    def me() -> t.Any:
        return jsonify(email=EMAIL)

    @app.get("/whoami")
    def whoami() -> t.Any:
        return jsonify(user_id=1)

    @app.post("/bench/login")
    def login() -> t.Any:
        # Browsers of signed-in users send a cookie to every page: so does
        # the baseline (same size as a session cookie), so parsing it is not
        # counted against the modes that read one.
        response = jsonify(ok=True)
        response.set_cookie(COOKIE, f"{secrets.token_urlsafe(16)}.{secrets.token_urlsafe(32)}", httponly=True)
        return response


def _flask_login(app: Flask, db: SQLAlchemy, User: t.Any, mode: str) -> None:
    from flask_login import LoginManager
    from flask_login import current_user
    from flask_login import login_required
    from flask_login import login_user

    if mode == "flask-session":
        from flask_session import Session

        app.config.update(SESSION_TYPE="sqlalchemy", SESSION_SQLALCHEMY=db)
        db.init_app(app)
        Session(app)
    else:
        db.init_app(app)
    manager = LoginManager(app)

    @manager.user_loader
    def load_user(user_id: str) -> t.Any:
        return db.session.get(User, int(user_id))

    @app.get("/me")
    @login_required
    def me() -> t.Any:
        return jsonify(email=current_user.email)

    @app.get("/whoami")
    @login_required
    def whoami() -> t.Any:
        return jsonify(user_id=current_user.id)

    @app.post("/bench/login")
    def login() -> t.Any:
        login_user(db.session.get(User, 1))
        return "ok"


def _hand_login(conn_execute: t.Callable[[str, dict[str, t.Any]], None]) -> t.Any:
    """Insert a hand-written session row and answer with its cookie."""
    import time

    sid, secret = secrets.token_urlsafe(16), secrets.token_urlsafe(32)
    conn_execute(
        "INSERT INTO hand_session (id, user_id, secret_hash, expires_at) VALUES (:id, 1, :h, :e)",
        {"id": sid, "h": hashlib.sha256(secret.encode()).hexdigest(), "e": int(time.time()) + 86400},
    )
    response = jsonify(ok=True)
    response.set_cookie(COOKIE, f"{sid}.{secret}", httponly=True)
    return response


def _split_cookie() -> tuple[str, str] | None:
    value = request.cookies.get(COOKIE)
    if not value or "." not in value:
        return None
    sid, _, secret = value.partition(".")
    return sid, hashlib.sha256(secret.encode()).hexdigest()


def _hand_views(app: Flask, user_attr: str) -> None:
    @app.get("/me")
    def me() -> t.Any:
        user = g.get("user")
        if user is None:
            abort(401)
        return jsonify(email=user.email if user_attr == "obj" else user[1])

    @app.get("/whoami")
    def whoami() -> t.Any:
        user = g.get("user")
        if user is None:
            abort(401)
        return jsonify(user_id=user.id if user_attr == "obj" else user[0])


def _orm(app: Flask, db: SQLAlchemy, User: t.Any, mode: str) -> None:
    """A session lookup written by hand with Flask-SQLAlchemy's ORM."""
    db.init_app(app)
    import hmac
    import time

    hand = sa.Table(
        "hand_session",
        db.metadata,
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("user_id", sa.Integer, sa.ForeignKey("users.id")),
        sa.Column("secret_hash", sa.String(64)),
        sa.Column("expires_at", sa.Integer),
    )

    @app.before_request
    def load() -> None:
        parts = _split_cookie()
        if parts is None:
            return
        row = db.session.execute(
            sa.select(User, hand.c.secret_hash, hand.c.expires_at)
            .join(hand, hand.c.user_id == User.id)
            .where(hand.c.id == parts[0])
        ).first()
        if row and hmac.compare_digest(row[1], parts[1]) and row[2] > time.time():
            g.user = row[0]

    _hand_views(app, "obj")

    @app.post("/bench/login")
    def login() -> t.Any:
        def run(sql: str, params: dict[str, t.Any]) -> None:
            db.session.execute(sa.text(sql), params)
            db.session.commit()

        return _hand_login(run)


def _core(app: Flask, db: SQLAlchemy, User: t.Any, mode: str) -> None:
    """The same lookup with SQLAlchemy Core on a pooled connection."""
    db.init_app(app)
    import hmac
    import time

    users = User.__table__
    stmt = sa.text(
        "SELECT u.id, u.email, s.secret_hash, s.expires_at FROM hand_session s JOIN users u ON u.id = s.user_id"
        " WHERE s.id = :sid"
    )

    @app.before_request
    def load() -> None:
        parts = _split_cookie()
        if parts is None:
            return
        with db.engine.connect() as conn:
            row = conn.execute(stmt, {"sid": parts[0]}).first()
        if row and hmac.compare_digest(row[2], parts[1]) and row[3] > time.time():
            g.user = (row[0], row[1])

    del users
    _hand_views(app, "tuple")

    @app.post("/bench/login")
    def login() -> t.Any:
        def run(sql: str, params: dict[str, t.Any]) -> None:
            with db.engine.begin() as conn:
                conn.execute(sa.text(sql), params)

        return _hand_login(run)


def _sqlite3(app: Flask, db: SQLAlchemy, User: t.Any, mode: str) -> None:
    """The floor: the stdlib driver, one connection per thread, one query."""
    db.init_app(app)
    import hmac
    import time

    path = app.config["SQLALCHEMY_DATABASE_URI"].removeprefix("sqlite:///")
    local = threading.local()
    sql = (
        "SELECT u.id, u.email, s.secret_hash, s.expires_at FROM hand_session s JOIN users u ON u.id = s.user_id"
        " WHERE s.id = ?"
    )

    def connection() -> sqlite3.Connection:
        conn = getattr(local, "conn", None)
        if conn is None:
            conn = local.conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
            app.extensions["bench_sqlite3_connections"].append(conn)
        return conn

    app.extensions["bench_sqlite3_connections"] = []

    @app.before_request
    def load() -> None:
        parts = _split_cookie()
        if parts is None:
            return
        row = connection().execute(sql, (parts[0],)).fetchone()
        if row and hmac.compare_digest(row[2], parts[1]) and row[3] > time.time():
            g.user = (row[0], row[1])

    _hand_views(app, "tuple")

    @app.post("/bench/login")
    def login() -> t.Any:
        def run(statement: str, params: dict[str, t.Any]) -> None:
            connection().execute(statement, params)

        return _hand_login(run)


def wait_for_local_cache(app: Flask, timeout: float = 5.0) -> None:
    """Until the app's process-local cache (if any) is subscribed: before
    that, every read goes to Redis."""
    import time

    store = app.extensions["sessionauth"].state_for(app).store if "sessionauth" in app.extensions else None
    local = getattr(store, "local", None)
    deadline = time.monotonic() + timeout
    while local is not None and not local.online and time.monotonic() < deadline:
        time.sleep(0.01)


def _sessionauth(app: Flask, db: SQLAlchemy, User: t.Any, mode: str) -> None:
    from flask_sessionauth import SessionAuth
    from flask_sessionauth import current_session
    from flask_sessionauth import current_user
    from flask_sessionauth import login_required

    app.config.update(
        SESSIONAUTH_REGISTER_BLUEPRINT=False,
        SESSIONAUTH_REGISTER_API=False,
        SESSIONAUTH_COOKIE_SECURE=False,
    )
    if mode in REDIS_MODES:
        app.config["SESSIONAUTH_REDIS_URL"] = redis_url(mode)
        app.config["SESSIONAUTH_REDIS_PREFIX"] = redis_prefix(mode)
    if mode in LOCAL_CACHE_MODES:
        app.config["SESSIONAUTH_REDIS_LOCAL_CACHE"] = LOCAL_CACHE_SIZE
    if mode in COOKIE_CACHE_MODES:
        app.config["SESSIONAUTH_COOKIE_CACHE_MAX_AGE"] = COOKIE_CACHE_MAX_AGE
    db.init_app(app)
    auth = SessionAuth(app, db=db, user_model=User)

    @app.get("/me")
    @login_required
    def me() -> t.Any:
        return jsonify(email=current_user.email)

    @app.get("/whoami")
    @login_required
    def whoami() -> t.Any:
        return jsonify(user_id=current_session.user_id)

    @app.post("/bench/login")
    def login() -> t.Any:
        auth.login_user(db.session.get(User, 1))
        return "ok"


_BUILDERS: dict[str, t.Callable[[Flask, SQLAlchemy, t.Any, str], None]] = {
    "plain": _plain,
    "flask-login": _flask_login,
    "flask-session": _flask_login,
    "orm": _orm,
    "core": _core,
    "sqlite3": _sqlite3,
}
