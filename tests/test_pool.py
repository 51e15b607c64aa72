"""Issue 10, item 9: failed sign-ins must not exhaust the database pool.

A failing sign-in holds its ORM connection (it looked the user up) while the
SQL rate limiter asks the same pool for a second one. With a small pool and a
threaded server, concurrent wrong passwords then wait on each other until
``pool_timeout`` and answer 503, and so does every bystander. The limiter must
never need a second connection from the pool the request already holds.

PostgreSQL, ``SQLALCHEMY_ENGINE_OPTIONS`` with a tiny pool, a threaded werkzeug
server over real sockets. Assertions are on statuses and on pool checkouts per
thread, not on seconds.
"""

from __future__ import annotations

import collections
import threading
import typing as t

import pytest
import sqlalchemy as sa

from tests.attack_support import Http
from tests.attack_support import build_app
from tests.attack_support import dispose
from tests.attack_support import run_threads
from tests.attack_support import set_cookie_value
from tests.conftest import db
from tests.conftest import postgres_url
from tests.helpers import PASSWORD
from tests.live import live_server

pytestmark = pytest.mark.slow

POOL_TIMEOUT = 10  # seconds a request may wait for a connection before 503
EMAIL = "alice@example.com"


class PoolWatch:
    """Counts, per thread, the connections checked out of one pool at once."""

    def __init__(self, pool: sa.pool.Pool) -> None:
        self.pool = pool
        self.lock = threading.Lock()
        self.held: collections.Counter[int] = collections.Counter()
        self.owner: dict[int, int] = {}
        self.max_per_thread = 0
        self.doubles: list[int] = []

    def __enter__(self) -> PoolWatch:
        sa.event.listen(self.pool, "checkout", self.checkout)
        sa.event.listen(self.pool, "checkin", self.checkin)
        return self

    def __exit__(self, *exc: t.Any) -> None:
        sa.event.remove(self.pool, "checkout", self.checkout)
        sa.event.remove(self.pool, "checkin", self.checkin)

    def _ours(self, proxy: t.Any) -> bool:
        # Pools recreated from this one (the store's private reader pool)
        # inherit its listeners; only checkouts of this very pool count.
        return getattr(proxy, "_pool", self.pool) is self.pool

    def checkout(self, dbapi_conn: t.Any, record: t.Any, proxy: t.Any) -> None:
        if not self._ours(proxy):
            return
        tid = threading.get_ident()
        with self.lock:
            self.owner[id(record)] = tid
            self.held[tid] += 1
            self.max_per_thread = max(self.max_per_thread, self.held[tid])
            if self.held[tid] > 1:
                self.doubles.append(tid)

    def checkin(self, dbapi_conn: t.Any, record: t.Any) -> None:
        with self.lock:
            tid = self.owner.pop(id(record), None)
            if tid is not None:
                self.held[tid] -= 1


def pooled_app(pool_size: int) -> t.Any:
    return build_app(
        postgres_url(),
        [EMAIL],
        WTF_CSRF_ENABLED=False,
        SQLALCHEMY_ENGINE_OPTIONS={"pool_size": pool_size, "max_overflow": 0, "pool_timeout": POOL_TIMEOUT},
    )


@pytest.mark.parametrize("pool_size", [1, 5])
def test_one_wrong_sign_in_needs_one_connection(pool_size: int) -> None:
    """Deterministic form, one request, no threads. With a roomy pool the
    request must never hold two of its connections at once; with a
    one-connection pool it must still answer 401 (today the limiter waits
    ``pool_timeout`` for a connection the request itself holds, then 503)."""
    app = pooled_app(pool_size)
    try:
        with app.app_context():
            pool = db.engine.pool
        with PoolWatch(pool) as watch:
            resp = app.test_client().post("/test/login", data={"email": EMAIL, "password": "wrong password"})
        problems = []
        if resp.status_code != 401:
            problems.append(f"a wrong sign-in on a {pool_size}-connection pool answered {resp.status_code}")
        if watch.max_per_thread > 1:
            problems.append(f"the request held {watch.max_per_thread} connections of the app's pool at once")
        assert not problems, "; ".join(problems)
    finally:
        dispose(app)


def test_concurrent_wrong_sign_ins_neither_fail_nor_starve_a_bystander() -> None:
    app = pooled_app(2)
    try:
        with live_server(app) as base_url:
            http = Http(base_url, timeout=120)
            status, headers, _ = http.form("/test/login", {"email": EMAIL, "password": PASSWORD})
            assert status == 200
            name = "__Host-sessionauth"
            bystander_cookie = f"{name}={set_cookie_value(headers, name)}"
            with app.app_context():
                pool = db.engine.pool
            barrier = threading.Barrier(21, timeout=60)

            def guess(i: int) -> t.Callable[[], int]:
                def run() -> int:
                    email = EMAIL if i % 2 else f"nobody{i}@example.com"
                    barrier.wait()
                    return http.form("/test/login", {"email": email, "password": f"wrong {i}"})[0]

                return run

            def bystander() -> int:
                barrier.wait()
                return http.request("GET", "/me", headers={"Cookie": bystander_cookie})[0]

            with PoolWatch(pool) as watch:
                results = run_threads([guess(i) for i in range(20)] + [bystander], timeout=300)
        errors = [r for r in results if isinstance(r, BaseException)]
        assert not errors, errors
        statuses = collections.Counter(results[:20])
        problems = []
        if not set(statuses) <= {401, 429}:
            problems.append(f"20 concurrent wrong sign-ins answered {dict(statuses)}")
        if results[20] != 200:
            problems.append(f"the signed-in bystander's GET /me answered {results[20]}")
        if watch.doubles:
            problems.append(
                f"{len(set(watch.doubles))} request thread(s) held two pool connections at once "
                f"(max {watch.max_per_thread} per thread)"
            )
        assert not problems, "; ".join(problems)
    finally:
        dispose(app)
