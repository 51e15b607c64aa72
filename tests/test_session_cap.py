"""Issue 10, item 11: ``SESSIONAUTH_MAX_SESSIONS_PER_USER`` holds under parallel
logins on every supported database (SQLite file and PostgreSQL).

Parallel correct sign-ins of one user through a threaded werkzeug server over
real sockets, started together by a barrier; after each round the user has
at most the cap of session rows, and exactly the surviving rows' cookies work.
"""

from __future__ import annotations

import collections
import json
import threading
import typing as t

import pytest

from tests.attack_support import Http
from tests.attack_support import build_app
from tests.attack_support import dispose
from tests.attack_support import run_threads
from tests.attack_support import session_rows
from tests.attack_support import set_cookie_value
from tests.attack_support import sqlite_url
from tests.attack_support import user_id
from tests.conftest import postgres_url
from tests.helpers import PASSWORD
from tests.live import live_server

pytestmark = pytest.mark.slow

CAP = 2
THREADS = 8
ROUNDS = 4
EMAIL = "alice@example.com"
COOKIE = "__Host-sessionauth"


@pytest.fixture(params=["sqlite", "postgres"])
def app(request: pytest.FixtureRequest, tmp_path: t.Any) -> t.Iterator[t.Any]:
    url = postgres_url() if request.param == "postgres" else sqlite_url(tmp_path)
    app = build_app(
        url,
        [EMAIL],
        WTF_CSRF_ENABLED=False,
        SESSIONAUTH_MAX_SESSIONS_PER_USER=CAP,
        # Only correct passwords here; keep the limiter out of the picture.
        SESSIONAUTH_RATE_LIMIT_ACCOUNT=None,
        SESSIONAUTH_RATE_LIMIT_IP=None,
    )
    yield app
    dispose(app)


def test_max_sessions_per_user_holds_under_parallel_logins(app: t.Any) -> None:
    uid = user_id(app, EMAIL)
    over: list[str] = []
    with live_server(app) as base_url:
        http = Http(base_url, timeout=120)
        for round_ in range(ROUNDS):
            barrier = threading.Barrier(THREADS, timeout=60)

            def sign_in(barrier: threading.Barrier = barrier) -> tuple[int, str | None]:
                barrier.wait()
                status, headers, _ = http.form("/test/login", {"email": EMAIL, "password": PASSWORD})
                return status, set_cookie_value(headers, COOKIE)

            results = run_threads([sign_in] * THREADS)
            errors = [r for r in results if isinstance(r, BaseException)]
            assert not errors, errors
            statuses = collections.Counter(status for status, _ in results)
            assert set(statuses) == {200}, f"round {round_ + 1}: parallel correct sign-ins answered {dict(statuses)}"
            rows = session_rows(app, uid)
            working = sum(
                json.loads(http.request("GET", "/whoami", headers={"Cookie": f"{COOKIE}={token}"})[2])["user_id"] == uid
                for _, token in results
            )
            if rows > CAP or working > CAP:
                over.append(f"round {round_ + 1}: {rows} rows, {working} working cookies")
    assert not over, f"cap {CAP} exceeded in {len(over)} of {ROUNDS} rounds: " + "; ".join(over)
