"""No lost or resurrected sessions under concurrency (PostgreSQL).

The app is served by a threaded Werkzeug server on 127.0.0.1 and hammered by
client threads over real sockets; the table is checked afterwards. Every
request refreshes (``SESSIONAUTH_UPDATE_AGE = 0``), so refreshes really run in
parallel instead of once a day.
"""

from __future__ import annotations

import http.client
import json
import os
import shutil
import subprocess
import sys
import threading
import time
import typing as t
import urllib.parse
import uuid
from concurrent.futures import ThreadPoolExecutor

import pytest
import sqlalchemy as sa
from flask import Flask
from werkzeug.serving import make_server

from tests.attack_support import folded_headers
from tests.conftest import POSTGRES_URL
from tests.conftest import REQUIRE_SERVICES
from tests.conftest import db
from tests.conftest import require
from tests.helpers import PASSWORD
from tests.helpers import UA_CHROME
from tests.helpers import cookie_name
from tests.helpers import session_rows

pytestmark = [pytest.mark.slow, pytest.mark.storage("postgres")]
THREADS = 8
EXPIRES_IN = 7 * 24 * 3600


CONFIG = {
    "SESSIONAUTH_UPDATE_AGE": 0,
    "SESSIONAUTH_ACTIVITY_RESOLUTION": 0,
    # A sign-in briefly holds two connections (the ORM session's and the
    # limiter's autocommit one); size the pool for the client threads.
    "SQLALCHEMY_ENGINE_OPTIONS": {"pool_size": THREADS * 2},
    # Every sign-in comes from 127.0.0.1: no limit on new sessions per address.
    "SESSIONAUTH_RATE_LIMIT_SESSIONS_IP": None,
}


@pytest.fixture
def app_config() -> dict[str, t.Any]:
    return dict(CONFIG)


class Server:
    def __init__(self, app: Flask) -> None:
        self.app = app
        self.httpd = make_server("127.0.0.1", 0, app, threaded=True)
        self.port = self.httpd.server_port
        self.cookie = cookie_name(app)
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def request(
        self, method: str, path: str, token: str | None = None, form: dict[str, str] | None = None
    ) -> tuple[int, dict[str, str], bytes]:
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=60)
        headers = {"User-Agent": UA_CHROME}
        body = None
        if token is not None:
            headers["Cookie"] = f"{self.cookie}={token}"
        if form is not None:
            body = urllib.parse.urlencode(form)
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        try:
            conn.request(method, path, body=body, headers=headers)
            resp = conn.getresponse()
            return resp.status, folded_headers(resp), resp.read()
        finally:
            conn.close()

    def login(self, email: str = "alice@example.com") -> str:
        """Sign in; returns the cookie value (``id.secret``)."""
        status, headers, body = self.request("POST", "/test/login", form={"email": email, "password": PASSWORD})
        assert status == 200, body
        cookie = headers["set-cookie"].split(";", 1)[0]
        name, _, value = cookie.partition("=")
        assert name == self.cookie
        return value

    def whoami(self, token: str) -> t.Any:
        status, headers, body = self.request("GET", "/whoami", token)
        assert status == 200, body
        return json.loads(body)["user_id"], headers

    def close(self) -> None:
        self.httpd.shutdown()
        self.thread.join()
        self.httpd.server_close()


@pytest.fixture
def server(app: Flask) -> t.Iterator[Server]:
    s = Server(app)
    yield s
    s.close()


def test_parallel_refreshes_of_one_session(app: Flask, server: Server, user: t.Any) -> None:
    token = server.login()
    session_id = token.split(".")[0]
    before = session_rows(app, user.id)[0].expires_at
    max_ages: list[int] = []
    started_last = 0.0

    def hammer(_: int) -> None:
        nonlocal started_last
        for _ in range(25):
            started_last = max(started_last, time.time())
            user_id, headers = server.whoami(token)
            assert user_id == user.id
            if "set-cookie" in headers:
                assert "no-store" in headers["cache-control"]
                attrs = dict(part.strip().partition("=")[::2] for part in headers["set-cookie"].split(";")[1:])
                max_ages.append(int(attrs["Max-Age"]))

    with ThreadPoolExecutor(THREADS) as pool:
        list(pool.map(hammer, range(THREADS)))
    [row] = session_rows(app, user.id)  # one row: no duplicate, nothing lost
    assert row.id == session_id
    assert row.expires_at > before
    # Consistent: the last writer's expiry, within a second of the last request's.
    assert abs(row.expires_at.timestamp() - (started_last + EXPIRES_IN)) < 1.0
    assert row.updated_at == row.last_active_at
    assert row.expires_at.timestamp() - row.updated_at.timestamp() == pytest.approx(EXPIRES_IN, abs=1e-3)
    # The cookie was re-sent with the full lifetime on the refreshes.
    assert max_ages and all(EXPIRES_IN - 2 <= age <= EXPIRES_IN for age in max_ages)
    assert server.whoami(token)[0] == user.id


def race_revoke(app: Flask, server: Server, user_id: int) -> int:
    """Hammer one session from several threads, revoke it mid-way; return the
    number of requests. Fails if any request that started after the revoke
    returned was signed in."""
    token = server.login()
    session_id = token.split(".")[0]
    revoked_at: list[float] = []
    late_successes: list[float] = []
    stop = threading.Event()

    def hammer(_: int) -> int:
        requests = 0
        while not stop.is_set():
            started = time.monotonic()
            signed_in_as, _headers = server.whoami(token)
            requests += 1
            if signed_in_as is not None and revoked_at and started > revoked_at[0]:
                late_successes.append(started)
        return requests

    with ThreadPoolExecutor(THREADS) as pool:
        futures = [pool.submit(hammer, i) for i in range(THREADS - 1)]
        time.sleep(0.2)
        with app.app_context():
            assert app.extensions["sessionauth"].revoke_session(session_id, user_id) is True
            db.session.remove()
        revoked_at.append(time.monotonic())
        time.sleep(0.3)
        stop.set()
        total = sum(f.result() for f in futures)
    assert late_successes == []
    assert all(row.id != session_id for row in session_rows(app, user_id))
    assert server.whoami(token)[0] is None
    return total


def test_revoke_racing_refreshes_stays_revoked(app: Flask, server: Server, user: t.Any) -> None:
    """The refresh UPDATE is guarded by the id: a row deleted by a revoke
    cannot come back, and nothing after the revoke is signed in."""
    for _round in range(5):
        assert race_revoke(app, server, user.id) > 20
    assert session_rows(app, user.id) == []


def test_concurrent_logins_create_distinct_sessions(app: Flask, server: Server, user: t.Any) -> None:
    with ThreadPoolExecutor(THREADS) as pool:
        tokens = list(pool.map(lambda _: server.login(), range(40)))
    ids = {token.split(".")[0] for token in tokens}
    assert len(ids) == 40
    assert {row.id for row in session_rows(app, user.id)} == ids
    with ThreadPoolExecutor(THREADS) as pool:
        assert set(pool.map(lambda tok: server.whoami(tok)[0], tokens)) == {user.id}


@pytest.mark.parametrize("app_config", [{**CONFIG, "SESSIONAUTH_MAX_SESSIONS_PER_USER": 3}])
def test_max_sessions_per_user_holds_under_parallel_logins(app: Flask, server: Server, user: t.Any) -> None:
    """``store.create`` locks the user row (FOR UPDATE): parallel sign-ins of one
    user serialise, so exactly the cap survives, never more."""
    from flask_sessionauth import session_revoked

    evicted: list[str] = []
    lock = threading.Lock()

    def record(sender: t.Any, user_id: t.Any, session_ids: list[str], reason: str) -> None:
        if reason == "evicted":
            with lock:
                evicted.extend(session_ids)

    with session_revoked.connected_to(record):
        for _round in range(3):
            with ThreadPoolExecutor(THREADS) as pool:
                tokens = list(pool.map(lambda _: server.login(), range(24)))
            assert len({tok.split(".")[0] for tok in tokens}) == 24
            alive = {row.id for row in session_rows(app, user.id)}
            assert len(alive) == 3
            working = {tok.split(".")[0] for tok in tokens if server.whoami(tok)[0] == user.id}
            assert working == alive
    # Every session ever created is either alive or was evicted exactly once.
    assert len(evicted) == len(set(evicted)) == 3 * 24 - 3


@pytest.mark.parametrize("app_config", [{"SQLALCHEMY_ENGINE_OPTIONS": CONFIG["SQLALCHEMY_ENGINE_OPTIONS"]}])
def test_parallel_guesses_are_bounded_then_locked(app: Flask, server: Server, user: t.Any) -> None:
    """Only failures count, so guesses already in flight when the limit is reached
    still get an answer: at most the limit plus the concurrency. Once the failures
    are recorded every further guess is refused, the right password included."""
    form = {"email": "alice@example.com", "password": "wrong password"}
    with ThreadPoolExecutor(THREADS) as pool:
        codes = list(pool.map(lambda _: server.request("POST", "/test/login", form=form)[0], range(40)))
    assert set(codes) == {401, 429}
    assert 5 <= codes.count(401) <= 5 + THREADS
    right = {"email": "alice@example.com", "password": PASSWORD}
    assert server.request("POST", "/test/login", form=right)[0] == 429


@pytest.mark.parametrize("app_config", [{"SQLALCHEMY_ENGINE_OPTIONS": CONFIG["SQLALCHEMY_ENGINE_OPTIONS"]}])
def test_parallel_correct_sign_ins_all_succeed_under_default_limits(app: Flask, server: Server, user: t.Any) -> None:
    """Many devices signing in to one account at once are not mistaken for guessing."""
    form = {"email": "alice@example.com", "password": PASSWORD}
    with ThreadPoolExecutor(THREADS) as pool:
        results = list(pool.map(lambda _: server.request("POST", "/test/login", form=form), range(24)))
    assert [code for code, *_ in results] == [200] * 24
    with app.app_context():
        model = app.extensions["sessionauth"].session_model
        assert db.session.query(model).count() == 24


def test_short_soak(tmp_path: t.Any) -> None:
    """``bench/soak.py`` for a few seconds: gunicorn + wrk + a revoking process
    against PostgreSQL; no 5xx, revoked sessions rejected, the table consistent.
    (The 10-minute soak with the memory check is ``bench/soak.py --minutes 10``.)"""
    require("postgres")
    if shutil.which("wrk") is None:
        if REQUIRE_SERVICES:
            pytest.fail("wrk is required for the soak test")
        pytest.skip("wrk not installed")
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    out = tmp_path / "soak.json"
    env = {**os.environ, "SOAK_POSTGRES_SERVER": POSTGRES_URL.rsplit("/", 1)[0]}
    args = ["--seconds", "8", "--users", "20", "--sessions", "2", "--revoke-every", "0.3", "--password-every", "2"]
    # A database of this run's own: the soak drops and recreates it (WITH FORCE), so
    # a fixed name let two test runs on one server kill each other's connections.
    database = f"sessionauth_soak_test_{os.getpid()}_{uuid.uuid4().hex[:12]}"
    args += ["--update-age", "2", "--activity-resolution", "1", "--database", database]
    args += ["--max-rss-growth-mb", "1000", "--json", str(out)]
    try:
        proc = subprocess.run(
            [sys.executable, os.path.join(root, "bench", "soak.py"), *args],
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )
    finally:
        admin = sa.create_engine(POSTGRES_URL, isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)'))
        admin.dispose()
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    figures = json.loads(out.read_text())
    assert figures["ok"] and figures["failures"] == []
    assert not any(int(status) >= 500 for status in figures["statuses"])
    assert figures["requests"] > 100
    assert figures["revoked"] >= 10 and figures["password_changes"] >= 2
    assert figures["revoked_still_accepted"] == 0 and figures["live_sessions_lost"] == 0
    rows = figures["rows"]
    assert rows["total"] == rows["expected"] and rows["orphans"] == rows["duplicates"] == rows["resurrected"] == 0
