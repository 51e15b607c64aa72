"""Issue 15, item 3: the connections a worker opens are bounded by configuration.

The hot path (session reads, activity stamps, the rate limiter's counters) runs
on a private pool of ``SESSIONAUTH_POOL_SIZE`` autocommit connections, beside
the app's own pool (``pool_size + max_overflow`` of ``SQLALCHEMY_ENGINE_OPTIONS``).
Their sum is the budget of one worker process. Here PostgreSQL enforces it: a
role whose ``CONNECTION LIMIT`` is exactly the budget, so one connection too
many is refused by the server and shows up as an error answer. Requests beyond
the budget must wait for a connection, never answer 5xx, and after a burst no
more than the budget stays open, whatever the number of threads or greenlets
that served it (threads in a pool, gunicorn ``gthread`` and ``gevent``,
eventlet).

Assertions count answers and connections (``pg_stat_activity`` of the role,
SQLAlchemy ``connect`` events), never seconds.
"""

from __future__ import annotations

import collections
import concurrent.futures
import contextlib
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import typing as t
import uuid

import pytest
import sqlalchemy as sa

from tests.attack_support import Http
from tests.attack_support import build_app
from tests.attack_support import dispose
from tests.attack_support import run_threads
from tests.attack_support import set_cookie_value
from tests.conftest import POSTGRES_URL
from tests.conftest import create_app
from tests.conftest import db
from tests.conftest import require
from tests.helpers import PASSWORD

pytestmark = pytest.mark.slow

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
EMAIL = "alice@example.com"
COOKIE = "__Host-sessionauth"
#: Generous limits: these tests are about connections, not about 429s.
NO_LOCKOUT = {
    "SESSIONAUTH_RATE_LIMIT_ACCOUNT": 10_000,
    "SESSIONAUTH_RATE_LIMIT_ACCOUNT_TOTAL": 10_000,
    "SESSIONAUTH_RATE_LIMIT_IP": 10_000,
    "WTF_CSRF_ENABLED": False,
}


def budget_config(app_pool: int, hot_pool: int, timeout: float = 120) -> dict[str, t.Any]:
    return {
        "SQLALCHEMY_ENGINE_OPTIONS": {"pool_size": app_pool, "max_overflow": 0, "pool_timeout": timeout},
        "SESSIONAUTH_POOL_SIZE": hot_pool,
        **NO_LOCKOUT,
    }


class Role(t.NamedTuple):
    name: str
    url: str  # the role's own URL on its private database

    def connections(self, state: str | None = None) -> int:
        """The role's server connections now (``state``: only those, e.g. ``idle``)."""
        admin = sa.create_engine(POSTGRES_URL, poolclass=sa.pool.NullPool)
        try:
            with admin.connect() as conn:
                sql = "SELECT count(*) FROM pg_stat_activity WHERE usename = :role"
                if state is not None:
                    sql += " AND state = :state"
                return int(conn.execute(sa.text(sql), {"role": self.name, "state": state}).scalar_one())
        finally:
            admin.dispose()


@contextlib.contextmanager
def limited_role(limit: int) -> t.Iterator[Role]:
    """A throwaway role with ``CONNECTION LIMIT limit`` owning a private database."""
    require("postgres")
    name = f"sa_pool_{uuid.uuid4().hex[:12]}"
    admin = sa.create_engine(POSTGRES_URL, isolation_level="AUTOCOMMIT", poolclass=sa.pool.NullPool)
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE ROLE "{name}" LOGIN CONNECTION LIMIT {int(limit)}'))
        conn.execute(sa.text(f'CREATE DATABASE "{name}" OWNER "{name}"'))
    try:
        yield Role(name, POSTGRES_URL.rsplit("/", 1)[0].replace("//postgres@", f"//{name}@") + "/" + name)
    finally:
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            conn.execute(sa.text(f'DROP ROLE IF EXISTS "{name}"'))
        admin.dispose()


def sign_in(http: Http) -> str:
    status, headers, body = http.form("/test/login", {"email": EMAIL, "password": PASSWORD})
    assert status == 200, body[:300]
    value = set_cookie_value(headers, COOKIE)
    assert value
    return f"{COOKIE}={value}"


# -- threads in one process (no server) ---------------------------------------------------


@pytest.mark.parametrize("backend", ["sqlite", "postgres"])
def test_a_thread_pool_never_opens_more_than_the_budget(backend: str, tmp_path: t.Any) -> None:
    """48 request threads that stay alive afterwards (a thread pool, as gthread
    keeps them): every request answers, the process never opened more than
    ``pool_size + SESSIONAUTH_POOL_SIZE`` connections, and no idle thread keeps
    one (today each thread opens and keeps its own)."""
    app_pool, hot_pool, threads = 2, 2, 48
    budget = app_pool + hot_pool
    with contextlib.ExitStack() as stack:
        if backend == "postgres":
            role: Role | None = stack.enter_context(limited_role(budget))
            url = role.url
        else:
            role, url = None, f"sqlite:///{tmp_path / 'app.db'}"
        app = build_app(url, [EMAIL], **budget_config(app_pool, hot_pool))
        stack.callback(dispose, app, False)
        with app.app_context():
            engine = db.engine
        opened: list[object] = []
        # The private pool is created from the engine's pool and inherits its
        # listeners, so this counts every connection the process opens.
        sa.event.listen(engine.pool, "connect", lambda conn, record: opened.append(conn))
        engine.pool.dispose()  # start from zero open connections
        cookie = sign_in_cookie(app)
        barrier = threading.Barrier(threads, timeout=60)

        def request(i: int) -> int:
            client = app.test_client(use_cookies=False)
            barrier.wait()
            if i % 3 == 0:
                return int(client.post("/test/login", data={"email": EMAIL, "password": f"wrong {i}"}).status_code)
            return int(client.get("/me", headers={"Cookie": cookie}).status_code)

        with concurrent.futures.ThreadPoolExecutor(max_workers=threads) as pool:
            statuses = collections.Counter(pool.map(request, range(threads)))
            # The pool's threads are still alive here, idle.
            still_open = role.connections() if role is not None else None
        problems = []
        if statuses != collections.Counter({200: threads - threads // 3, 401: threads // 3}):
            problems.append(f"answers {dict(statuses)}")
        if len(opened) > budget:
            problems.append(f"{len(opened)} connections opened for a budget of {budget}")
        if still_open is not None and still_open > budget:
            problems.append(f"{still_open} connections still open with the threads idle (budget {budget})")
        assert not problems, "; ".join(problems)


def sign_in_cookie(app: t.Any) -> str:
    resp = app.test_client().post("/test/login", data={"email": EMAIL, "password": PASSWORD})
    assert resp.status_code == 200, resp.get_data(as_text=True)[:300]
    value = set_cookie_value({"set-cookie": ", ".join(resp.headers.getlist("Set-Cookie"))}, COOKIE)
    return f"{COOKIE}={value}"


def wait_until(predicate: t.Callable[[], bool], what: str, tries: int = 600) -> None:
    """Poll a condition the test cannot be told about (a server-side state)."""
    for _ in range(tries):
        if predicate():
            return
        time.sleep(0.05)
    pytest.fail(f"never saw: {what}")


def test_a_request_beyond_the_budget_waits_then_gets_the_typed_503() -> None:
    """One hot-path connection, held by a request whose read is blocked (the
    table is locked). The next request waits for it (no second connection) and,
    after ``pool_timeout``, answers the typed 503; when the first completes,
    service resumes."""
    with limited_role(10) as role:
        admin_engine = sa.create_engine(POSTGRES_URL.rsplit("/", 1)[0] + "/" + role.name, poolclass=sa.pool.NullPool)
        # The role's statements give up after 30 s (today the second request
        # would otherwise wait on the lock for ever).
        with admin_engine.connect() as conn:
            conn.execute(sa.text(f'ALTER ROLE "{role.name}" SET statement_timeout = 30000'))
            conn.commit()
        app = build_app(role.url, [EMAIL], **budget_config(1, 1, timeout=1))
        try:
            cookie = sign_in_cookie(app)
            with admin_engine.connect() as locker:
                locker.execute(sa.text("LOCK TABLE user_session IN ACCESS EXCLUSIVE MODE"))
                first: list[int] = []
                blocked = threading.Thread(
                    target=lambda: first.append(
                        app.test_client(use_cookies=False).get("/me", headers={"Cookie": cookie}).status_code
                    ),
                    daemon=True,
                )
                blocked.start()
                wait_until(
                    lambda: role.connections("active") >= 1 and not first, "the first request blocked on the lock"
                )
                # From another new thread, as a server would serve it.
                (second,) = run_threads(
                    [lambda: app.test_client(use_cookies=False).get("/me", headers={"Cookie": cookie})]
                )
                during = role.connections()
                locker.rollback()
            blocked.join(60)
            third = app.test_client(use_cookies=False).get("/me", headers={"Cookie": cookie})
        finally:
            dispose(app, False)
            admin_engine.dispose()
    problems = []
    if second.status_code != 503 or "Retry-After" not in second.headers:
        problems.append(f"the waiting request answered {second.status_code} {dict(second.headers)}")
    if during > 2:
        problems.append(f"{during} connections open for a budget of 2 (one in each pool)")
    if first != [200] or third.status_code != 200:
        problems.append(f"the blocked request answered {first}, the next one {third.status_code}")
    assert not problems, "; ".join(problems)


def test_the_pool_size_is_checked_at_init_app() -> None:
    for bad in (0, -1, "five", 2.5, None):
        with pytest.raises(ValueError, match="SESSIONAUTH_POOL_SIZE"):
            create_app({"SESSIONAUTH_POOL_SIZE": bad})


#: Greenlets killed while waiting for a connection, before and after one was
#: handed to them (gevent, monkey-patched as a gevent worker is).
KILLED_WAITERS = """
from gevent import monkey
monkey.patch_all()
import gevent
from flask_sessionauth.storage.pool import Slots

opened = []
slots = Slots(lambda: opened.append(object()) or opened[-1], 1, 60)
first = slots.get()
for handed in (False, True):
    waiter = gevent.spawn(lambda: slots.put(slots.get()))  # a statement's borrow and return
    gevent.sleep(0)  # it runs until it waits: the only connection is lent
    if handed:
        slots.put(first)  # handed to the waiter, which has not run yet
    waiter.kill()
    if not handed:
        slots.put(first)
    first = gevent.with_timeout(5, slots.get)  # not lost with the dead waiter
print(len(opened), slots.opened, len(slots.idle))
"""


def test_a_killed_waiter_loses_no_connection() -> None:
    """A greenlet killed while it waits (gunicorn's timeout, a ``gevent.Timeout``
    in the app) must not take the connection or the slot with it: otherwise
    the pool shrinks for good, one kill at a time."""
    pytest.importorskip("gevent")
    done = subprocess.run([sys.executable, "-c", KILLED_WAITERS], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.split() == ["1", "1", "0"]  # one connection opened, lent again


# -- real servers: gunicorn gthread and gevent workers, eventlet ---------------------------


#: Eventlet has no gunicorn worker any more (gunicorn 23 dropped it): its own
#: WSGI server, green threads, after ``monkey_patch()`` as an eventlet app runs.
EVENTLET_SERVER = """
import ast, socket, sys
import eventlet
eventlet.monkey_patch()
import eventlet.wsgi
from tests.conftest import create_app
listener = socket.socket(fileno=int(sys.argv[1]))
eventlet.wsgi.server(listener, create_app(ast.literal_eval(sys.argv[2])), log_output=False, max_size=200)
"""

SERVERS = {
    "gthread": ("gunicorn", "-k", "gthread", "--threads", "64"),
    "gevent": ("gunicorn", "-k", "gevent", "--worker-connections", "200"),
    "eventlet": (sys.executable, "-c", EVENTLET_SERVER),
}


@contextlib.contextmanager
def serve(kind: str, config: dict[str, t.Any]) -> t.Iterator[str]:
    """The conftest app in another process: a real gunicorn master with one
    worker (or eventlet's server), on a listening socket the test made (so
    no port race and no start-up wait)."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(256)
    port = listener.getsockname()[1]
    program, *args = SERVERS[kind]
    if program == "gunicorn":
        command = [os.path.join(os.path.dirname(sys.executable), "gunicorn"), *args, "--workers", "1"]
        command += ["--bind", f"fd://{listener.fileno()}", "--log-level", "warning", "--timeout", "300"]
        command += [f"tests.conftest:create_app({config!r})"]
    else:
        command = [program, *args, str(listener.fileno()), repr(config)]
    process = subprocess.Popen(command, cwd=ROOT, pass_fds=[listener.fileno()], start_new_session=True)
    listener.close()
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(60)


def burst(http: Http, cookie: str) -> tuple[collections.Counter[int], collections.Counter[int]]:
    """60 signed-in ``GET /me`` and 20 failed sign-ins, released at once;
    their answers, counted."""
    barrier = threading.Barrier(80, timeout=120)

    def signed_in() -> int:
        barrier.wait()
        return http.request("GET", "/me", headers={"Cookie": cookie})[0]

    def failed(i: int) -> t.Callable[[], int]:
        def run() -> int:
            barrier.wait()
            return http.form("/test/login", {"email": EMAIL, "password": f"wrong {i}"})[0]

        return run

    results = run_threads([signed_in] * 60 + [failed(i) for i in range(20)], timeout=300)
    return collections.Counter(results[:60]), collections.Counter(results[60:])


@pytest.mark.parametrize("kind", sorted(SERVERS))
def test_bursts_on_a_real_server_stay_within_the_budget(kind: str) -> None:
    """80 concurrent requests (60 signed in, 20 failed sign-ins), twice, on a
    worker that can run 64 threads (gthread) or 200 greenlets (gevent,
    eventlet) at once, against a role limited to exactly the configured
    budget: no 5xx, and afterwards no more than the budget is open."""
    if kind != "gthread":
        pytest.importorskip(kind)
    app_pool, hot_pool = 4, 2
    budget = app_pool + hot_pool
    with limited_role(budget) as role:
        config = {"SQLALCHEMY_DATABASE_URI": role.url, **budget_config(app_pool, hot_pool)}
        dispose(build_app(role.url, [EMAIL], **config), False)
        with serve(kind, config) as base_url:
            http = Http(base_url, timeout=240)
            cookie = sign_in(http)
            problems = []
            for n in (1, 2):
                signed, failures = burst(http, cookie)
                left_open = role.connections()
                if signed != {200: 60} or failures != {401: 20}:
                    problems.append(f"burst {n}: /me {dict(signed)}, failed sign-ins {dict(failures)}")
                if left_open > budget:
                    problems.append(f"burst {n}: {left_open} connections left open (budget {budget})")
    assert not problems, "; ".join(problems)
