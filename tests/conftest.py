"""Fixtures: the app factory, storage modes, users, clients for two devices.

Storage modes (the ``storage`` fixture, chosen per test with
``@pytest.mark.storage(...)``; the default is the two SQL databases):

* ``sqlite`` and ``postgres``: sessions in the database only;
* ``redis``: Redis in front of SQLite (``redis_postgres``: of PostgreSQL);
* ``redis_cluster``: a Redis Cluster (3 masters + 3 replicas) in front of
  SQLite; ``redis_sentinel``: a Sentinel-managed master with 2 replicas. Both
  are started once per test run from ``redis-server`` on free ports
  (``tests/redis_nodes.py``) and stopped at the end;
* ``cookie_cache``: SQLite with ``SESSIONAUTH_COOKIE_CACHE_MAX_AGE = 300``
  (``cookie_cache_postgres``: PostgreSQL).

``@pytest.mark.skip_storage("redis", reason=...)`` skips a test in the modes
where it does not apply, with the reason in the report.

PostgreSQL is 127.0.0.1:5432, database ``test`` (a private database per test
process is created from it); Redis is 127.0.0.1:6379 (``SESSIONAUTH_TEST_REDIS``),
where every test gets its own key prefix and deletes only its own keys, so runs in
parallel never see each other. ``SESSIONAUTH_REQUIRE_SERVICES=1`` (set by
``.ci/run``) turns an unreachable PostgreSQL or Redis, or a cluster or
Sentinel that cannot start, into a failure.
"""

from __future__ import annotations

import atexit
import os
import subprocess
import time
import typing as t
import uuid

import pytest
import redis
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
from flask_sessionauth import sensitive
from flask_sessionauth.storage.redis_clients import connect
from tests.helpers import PASSWORD
from tests.helpers import UA_CHROME
from tests.helpers import UA_FIREFOX
from tests.helpers import StatementCounter
from tests.helpers import device

POSTGRES_URL = os.environ.get("SESSIONAUTH_TEST_POSTGRES", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
REDIS_URL = os.environ.get("SESSIONAUTH_TEST_REDIS", "redis://127.0.0.1:6379/15")
REQUIRE_SERVICES = os.environ.get("SESSIONAUTH_REQUIRE_SERVICES") == "1"
# Cheap argon2 parameters keep the suite fast; production defaults are tested separately.
FAST_HASH = {"argon2__type": "ID", "argon2__memory_cost": 1024, "argon2__time_cost": 1, "argon2__parallelism": 1}
COOKIE_CACHE_MAX_AGE = 300

db = SQLAlchemy()


class User(db.Model):  # type: ignore[name-defined,misc]
    __tablename__ = "users"
    id = sa.Column(sa.Integer, primary_key=True)
    email = sa.Column(sa.String(320), unique=True, nullable=False)
    password_hash = sa.Column(sa.String(255), nullable=False)
    is_active = sa.Column(sa.Boolean, nullable=False, default=True)
    name = sa.Column(sa.String(100))


auth = SessionAuth()


# -- services ------------------------------------------------------------------------

_reachable: dict[str, bool] = {}


def _ping(kind: str) -> None:
    if kind == "postgres":
        engine = sa.create_engine(POSTGRES_URL)
        try:
            with engine.connect() as conn:
                conn.execute(sa.text("select 1"))
        finally:
            engine.dispose()
    else:
        client = redis.Redis.from_url(REDIS_URL, socket_connect_timeout=1)
        try:
            client.ping()
        finally:
            client.close()


def service_reachable(kind: str) -> bool:
    """Whether the service answers; asked once per run, with a few retries so a
    moment of contention on a shared server ("too many clients") does not skip
    every test that needs it."""
    if kind not in _reachable:
        for attempt in range(3):
            try:
                _ping(kind)
            except Exception:
                _reachable[kind] = False
                if attempt < 2:
                    time.sleep(1)
            else:
                _reachable[kind] = True
                break
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
        # A name no other run can have (a PID alone repeats across machines sharing
        # a server), so creating it never needs to drop anything.
        name = f"sessionauth_test_{os.getpid()}_{uuid.uuid4().hex[:12]}"
        admin = sa.create_engine(POSTGRES_URL, isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
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


class PrivateRedis:
    """This test's corner of the shared Redis database: a unique key prefix.

    Apps configured with :attr:`config` write only under :attr:`prefix`, and
    :meth:`delete_own_keys` removes exactly those keys (SCAN + DEL, never
    FLUSHDB), so tests and whole test runs sharing one Redis never interfere.
    """

    def __init__(self, url: str) -> None:
        self.url = url
        self.prefix = f"t{uuid.uuid4().hex}:"
        self.client: t.Any = connect(url)

    @property
    def config(self) -> dict[str, t.Any]:
        return {"SESSIONAUTH_REDIS_URL": self.url, "SESSIONAUTH_REDIS_PREFIX": self.prefix}

    def own_keys(self) -> list[bytes]:
        return list(self.client.scan_iter(match=f"{self.prefix}*", count=1000))

    def delete_own_keys(self) -> None:
        keys = self.own_keys()
        for i in range(0, len(keys), 500):
            self.client.delete(*keys[i : i + 500])

    def close(self) -> None:
        self.delete_own_keys()
        self.client.close()


def start_topology(kind: str) -> t.Any:
    """A cluster or Sentinel setup of our own (see ``tests/redis_nodes.py``),
    stopped at exit even if the run is interrupted."""
    from tests import redis_nodes

    try:
        nodes = redis_nodes.RedisCluster() if kind == "cluster" else redis_nodes.RedisSentinel()
    except (OSError, RuntimeError, subprocess.SubprocessError) as exc:
        if REQUIRE_SERVICES:
            pytest.fail(f"Redis {kind} is required (SESSIONAUTH_REQUIRE_SERVICES=1) but did not start: {exc}")
        pytest.skip(f"Redis {kind} did not start: {exc}")
    atexit.register(nodes.stop)
    return nodes


@pytest.fixture(scope="session")
def redis_cluster() -> t.Iterator[t.Any]:
    """A 3-master + 3-replica Redis Cluster for the whole run (``.url``)."""
    nodes = start_topology("cluster")
    yield nodes
    nodes.stop()


@pytest.fixture(scope="session")
def redis_sentinel() -> t.Iterator[t.Any]:
    """A master, 2 replicas and 3 sentinels for the whole run (``.url``)."""
    nodes = start_topology("sentinel")
    yield nodes
    nodes.stop()


@pytest.fixture
def private_redis(request: pytest.FixtureRequest) -> t.Iterator[PrivateRedis]:
    """The one Redis fixture: a unique key prefix on the test's Redis (the
    storage mode's cluster or Sentinel setup, else the shared server), cleaned up after."""
    name = request.getfixturevalue("storage") if "storage" in request.fixturenames else "redis"
    topology = STORAGE_MODES[name].topology
    if topology:
        url = request.getfixturevalue(f"redis_{topology}").url
    else:
        require("redis")
        url = REDIS_URL
    space = PrivateRedis(url)
    yield space
    space.close()


@pytest.fixture
def redis_client(private_redis: PrivateRedis) -> redis.Redis[bytes]:
    """A client of the test Redis (read keys through the app's store: ``store.key(id)``)."""
    return private_redis.client


# -- the app ----------------------------------------------------------------------------


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

    @app.get("/whoami/storage")
    @sensitive
    def whoami_storage() -> t.Any:
        """Like ``/whoami``, never answered from the cookie cache."""
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


def dispose(app: Flask, *, drop: bool = False) -> None:
    """Release an app's connections (database pools, its Redis client); ``drop``
    its tables first."""
    database = app.extensions["sqlalchemy"]
    with app.app_context():
        database.session.remove()
        if drop:
            database.drop_all()
        database.engine.dispose()
    store = app.extensions["sessionauth"].state_for(app).store
    if getattr(store, "local", None) is not None:
        store.local.close()
    client = getattr(store, "client", None)
    if client is not None:
        client.close()


# -- storage modes ------------------------------------------------------------------------


class StorageMode(t.NamedTuple):
    database: str  # "sqlite" or "postgres"
    redis: bool = False
    cookie_cache: bool = False
    topology: str = ""  # "cluster" or "sentinel": the Redis is one of those


STORAGE_MODES = {
    "sqlite": StorageMode("sqlite"),
    "postgres": StorageMode("postgres"),
    "redis": StorageMode("sqlite", redis=True),
    "cookie_cache": StorageMode("sqlite", cookie_cache=True),
    "redis_postgres": StorageMode("postgres", redis=True),
    "cookie_cache_postgres": StorageMode("postgres", cookie_cache=True),
    "redis_cluster": StorageMode("sqlite", redis=True, topology="cluster"),
    "redis_sentinel": StorageMode("sqlite", redis=True, topology="sentinel"),
}
#: The default: the database alone.
SQL = ("sqlite", "postgres")
#: The behaviour suites (pages, API, lifecycle, the Python API).
EVERY_STORAGE = ("sqlite", "postgres", "redis", "cookie_cache")
#: Redis with replicas that take over: a cluster, Sentinel. The Redis tier's
#: suites (store contract, Redis, rate-limit counters) and the JSON and Python
#: API suites (API, sessions API, lifecycle) run on them too; the page suites
#: would add minutes for code paths the API suites already drive.
REPLICATED_REDIS = ("redis_cluster", "redis_sentinel")
#: Redis in every shape: one server (before each database), a cluster, Sentinel.
REDIS_MODES = ("redis", "redis_postgres", *REPLICATED_REDIS)


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """Parametrize ``storage`` with the modes of the closest ``storage`` mark."""
    if "storage" not in metafunc.fixturenames:
        return
    marker = metafunc.definition.get_closest_marker("storage")
    modes = marker.args if marker is not None else SQL
    unknown = set(modes) - set(STORAGE_MODES)
    assert not unknown, f"unknown storage modes {unknown}"
    metafunc.parametrize("storage", modes, indirect=True)


@pytest.fixture
def storage(request: pytest.FixtureRequest) -> str:
    """The storage mode of this test (see the module docstring)."""
    name = str(request.param)
    for marker in request.node.iter_markers("skip_storage"):
        if name in marker.args:
            pytest.skip(f"not in storage mode {name}: {marker.kwargs['reason']}")
    mode = STORAGE_MODES[name]
    if mode.database == "postgres":
        require("postgres")
    if mode.redis and not mode.topology:
        require("redis")
    return name


@pytest.fixture
def backend(storage: str) -> str:
    """The SQL database of this test's storage mode: ``sqlite`` or ``postgres``."""
    return STORAGE_MODES[storage].database


@pytest.fixture
def storage_config(storage: str, tmp_path: t.Any, request: pytest.FixtureRequest) -> dict[str, t.Any]:
    """The app configuration of this test's storage mode."""
    mode = STORAGE_MODES[storage]
    config: dict[str, t.Any] = {"SQLALCHEMY_DATABASE_URI": database_url(mode.database, tmp_path)}
    if mode.redis:
        config.update(request.getfixturevalue("private_redis").config)
    if mode.cookie_cache:
        config["SESSIONAUTH_COOKIE_CACHE_MAX_AGE"] = COOKIE_CACHE_MAX_AGE
    return config


@pytest.fixture
def app_config() -> dict[str, t.Any]:
    """Override in a test module (or parametrize) to change the app's config."""
    return {}


@pytest.fixture
def app(storage_config: dict[str, t.Any], app_config: dict[str, t.Any]) -> t.Iterator[Flask]:
    config = {**storage_config, "WTF_CSRF_ENABLED": True, **app_config}
    app = create_app(config)
    with app.app_context():
        db.drop_all()
        db.create_all()
    yield app
    dispose(app, drop=True)


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


@pytest.fixture
def client(app: Flask) -> t.Any:
    return device(app, UA_CHROME)


@pytest.fixture
def second_client(app: Flask) -> t.Any:
    """Another device signed in to the same account."""
    return device(app, UA_FIREFOX, "203.0.113.7")


@pytest.fixture
def count_sql(app: Flask) -> t.Callable[[], StatementCounter]:
    def make() -> StatementCounter:
        with app.app_context():
            return StatementCounter(db.engine)

    return make


@pytest.fixture
def mailbox() -> t.Iterator[t.Any]:
    """A real SMTP server on 127.0.0.1 (aiosmtpd, a free port); its ``config()``
    points an app's Flask-Mailman at it (see tests/mailbox.py)."""
    from tests.mailbox import start_smtp

    controller, box = start_smtp()
    yield box
    controller.stop()


# -- real browsers ------------------------------------------------------------------------


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


class BrowserDevice(t.NamedTuple):
    """One device: a page in its own browser context."""

    page: t.Any
    errors: list[str]  # console errors, page errors and CSP violations
    navigations: list[str]  # main-frame navigations after the first load


@pytest.fixture
def browser_device(browser: t.Any) -> t.Iterator[t.Callable[..., BrowserDevice]]:
    """Make devices (a browser context each, with its own cookies), closed after the test."""
    contexts: list[t.Any] = []

    def make(user_agent: str = UA_CHROME, **options: t.Any) -> BrowserDevice:
        context = browser.new_context(user_agent=user_agent, **options)
        context.set_default_timeout(10_000)
        contexts.append(context)
        page = context.new_page()
        errors: list[str] = []
        navigations: list[str] = []
        page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        page.on("framenavigated", lambda frame: navigations.append(frame.url) if frame == page.main_frame else None)
        return BrowserDevice(page, errors, navigations)

    yield make
    for context in contexts:
        context.close()


@pytest.fixture
def base_url(tmp_path: t.Any) -> t.Iterator[str]:
    """The test app on a SQLite file, served on 127.0.0.1; yields its base URL."""
    from tests.live import live_app
    from tests.live import live_server

    with live_server(live_app(str(tmp_path / "live.db"))) as url:
        yield url
