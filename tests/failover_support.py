"""A Redis master crash under load: signed-in requests on threads, revocations
alongside, the master SIGKILLed, a replica promoted (Sentinel or the cluster
itself), the crashed node started again. Used by ``tests/test_redis_failover.py``
and ``bench/failover.py`` (which prints the figures of several runs).

What is measured (:class:`Figures`): every request's outcome, and for every
session whose revoke *succeeded* the requests that started after it: any of
those answered as the user is a revoked session accepted.
"""

from __future__ import annotations

import random
import threading
import time
import typing as t
import uuid

from flask import Flask

from flask_sessionauth import StorageUnavailable
from tests.conftest import User
from tests.conftest import create_app
from tests.conftest import db
from tests.conftest import dispose
from tests.helpers import PASSWORD
from tests.helpers import UA_CHROME
from tests.helpers import cookie_name
from tests.helpers import device
from tests.helpers import store_of
from tests.redis_nodes import Nodes
from tests.redis_nodes import RedisCluster
from tests.redis_nodes import RedisSentinel
from tests.redis_nodes import wait_for

SESSIONS = 24
READERS = 3
#: The app's ``SESSIONAUTH_REDIS_FAILOVER_WINDOW`` in these runs (seconds).
WINDOW = 3.0


class Figures(t.NamedTuple):
    requests: int
    errors_5xx: int
    fail_closed_seconds: float  # first to last 5xx (0: none)
    revoked_then_accepted: int
    revokes: int  # succeeded
    revokes_refused: int  # answered "unavailable" (nothing deleted), retried later
    failover_seconds: float  # master killed -> a replica promoted
    slowest_request_seconds: float

    def line(self) -> str:
        return " ".join(f"{name}={value:.2f}" if isinstance(value, float) else f"{name}={value}"
                        for name, value in self._asdict().items())  # fmt: skip


class Request(t.NamedTuple):
    started: float
    ended: float
    session_id: str
    status: int
    accepted: bool


def failover_app(nodes: Nodes, database_url: str, **config: t.Any) -> Flask:
    app = create_app(
        {
            "SQLALCHEMY_DATABASE_URI": database_url,
            "SESSIONAUTH_REDIS_URL": nodes.url,
            "SESSIONAUTH_REDIS_PREFIX": f"f{uuid.uuid4().hex[:12]}:",
            "SESSIONAUTH_REDIS_FAILOVER_WINDOW": WINDOW,
            **config,
        }
    )
    with app.app_context():
        db.drop_all()
        db.create_all()
    return app


def primary_of(nodes: Nodes, app: Flask, session_id: str) -> int:
    """The port of the master holding a session's copy."""
    if isinstance(nodes, RedisSentinel):
        return nodes.master()
    return int(store_of(app).client.get_node_from_key(store_of(app).key(session_id)).port)


def promoted(nodes: Nodes, killed: int) -> bool:
    if isinstance(nodes, RedisSentinel):
        return nodes.master() != killed
    assert isinstance(nodes, RedisCluster)
    return len(nodes.masters()) == 3


class Scenario:
    """One run: sign in, load, kill, recover; :meth:`run` returns the figures."""

    def __init__(self, nodes: Nodes, app: Flask) -> None:
        self.nodes, self.app = nodes, app
        self.name = cookie_name(app)
        self.requests: list[Request] = []
        self.revoked: dict[str, float] = {}  # session id -> when its revoke returned
        self.refused = 0
        self.killed_at = self.healed_at = 0.0  # time.monotonic() of the crash, of the healed topology
        self.stop = threading.Event()
        self.lock = threading.Lock()
        ext = app.extensions["sessionauth"]
        with app.app_context():
            self.user = ext.create_user(f"{uuid.uuid4().hex[:8]}@example.com", PASSWORD)
            self.user_id = self.user.id
        self.cookies: dict[str, str] = {}
        for _ in range(SESSIONS):
            client = device(app)
            session = client.sign_in(self.user)
            self.cookies[session.id] = client.get_cookie(self.name).value
        store = store_of(app)
        #: The copies as cached at sign-in: what a replica that missed the revokes holds.
        self.first_copies = {i: store.client.get(store.key(i)) for i in self.cookies}

    def reader(self, seed: int) -> None:
        client = self.app.test_client(use_cookies=False)
        chooser = random.Random(seed)
        ids = list(self.cookies)
        while not self.stop.is_set():
            session_id = chooser.choice(ids)
            headers = {"Cookie": f"{self.name}={self.cookies[session_id]}", "User-Agent": UA_CHROME}
            started = time.monotonic()
            resp = client.get("/whoami/storage", headers=headers)
            accepted = resp.status_code == 200 and resp.json["user_id"] == self.user_id
            with self.lock:
                self.requests.append(Request(started, time.monotonic(), session_id, resp.status_code, accepted))

    def revoker(self) -> None:
        pending = list(self.cookies)[: SESSIONS // 2]  # half stay signed in throughout
        ext = self.app.extensions["sessionauth"]
        while pending and not self.stop.is_set():
            session_id = pending.pop(0)
            with self.app.test_request_context():
                try:
                    ext.revoke_session(session_id, db.session.get(User, self.user_id))
                except StorageUnavailable:
                    self.refused += 1
                    pending.append(session_id)  # nothing was deleted: try again later
                else:
                    with self.lock:
                        self.revoked[session_id] = time.monotonic()
            time.sleep(0.2)

    def run(self, load_before: float = 1.5, load_after: float = 2.0) -> Figures:
        victim = primary_of(self.nodes, self.app, next(iter(self.cookies)))
        threads = [threading.Thread(target=self.reader, args=(i,)) for i in range(READERS)]
        threads.append(threading.Thread(target=self.revoker))
        for thread in threads:
            thread.start()
        try:
            time.sleep(load_before)
            self.killed_at = time.monotonic()
            self.nodes.kill(victim)
            wait_for(lambda: promoted(self.nodes, victim), "a replica to be promoted")
            failover = time.monotonic() - self.killed_at
            self.nodes.restart(victim)  # back as a replica of the new master
            wait_for(self.nodes.healthy, "the topology to heal")  # type: ignore[attr-defined]
            self.healed_at = time.monotonic()
            time.sleep(load_after)
        finally:
            self.stop.set()
            for thread in threads:
                thread.join(timeout=30)
        return self.figures(failover)

    def figures(self, failover: float) -> Figures:
        errors = [r for r in self.requests if r.status >= 500]
        late = [r for r in self.requests if r.accepted and r.session_id in self.revoked]
        return Figures(
            requests=len(self.requests),
            errors_5xx=len(errors),
            fail_closed_seconds=(max(r.ended for r in errors) - min(r.started for r in errors)) if errors else 0.0,
            revoked_then_accepted=sum(1 for r in late if r.started > self.revoked[r.session_id]),
            revokes=len(self.revoked),
            revokes_refused=self.refused,
            failover_seconds=failover,
            slowest_request_seconds=max((r.ended - r.started for r in self.requests), default=0.0),
        )


def run_once(nodes: Nodes, database_url: str, **config: t.Any) -> Figures:
    app = failover_app(nodes, database_url, **config)
    try:
        return Scenario(nodes, app).run()
    finally:
        dispose(app, drop=True)
