"""A Redis master crashes and a replica takes over (Sentinel, Redis Cluster):
no revoked session comes back, requests fall back or fail closed as
configured, and the app carries on with the new master without a restart.

Real nodes (``tests/redis_nodes.py``), started for this module on free ports
because the tests crash them; the load runs on threads with test clients
(``tests/failover_support.py``), the database is PostgreSQL.
"""

from __future__ import annotations

import os
import signal
import time
import typing as t

import pytest
from flask import Flask

from flask_sessionauth import StorageUnavailable
from tests.conftest import User
from tests.conftest import create_app
from tests.conftest import db
from tests.conftest import dispose
from tests.conftest import postgres_url
from tests.conftest import start_topology
from tests.failover_support import WINDOW
from tests.failover_support import Scenario
from tests.failover_support import failover_app
from tests.failover_support import primary_of
from tests.helpers import StatementCounter
from tests.helpers import device
from tests.helpers import store_of
from tests.redis_nodes import Nodes
from tests.redis_nodes import RedisSentinel
from tests.redis_nodes import info
from tests.redis_nodes import wait_for

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module", params=["cluster", "sentinel"])
def nodes(request: pytest.FixtureRequest) -> t.Iterator[Nodes]:
    topology = start_topology(request.param)
    yield topology
    topology.stop()


@pytest.fixture
def healthy(nodes: t.Any) -> Nodes:
    """The topology, whole again (a previous test crashed a master)."""
    wait_for(nodes.healthy, "the topology to heal")
    return t.cast(Nodes, nodes)


def make_app(nodes: Nodes, **config: t.Any) -> t.Iterator[Flask]:
    app = failover_app(nodes, postgres_url(), **config)
    yield app
    dispose(app, drop=True)


@pytest.fixture
def app(healthy: Nodes) -> t.Iterator[Flask]:
    yield from make_app(healthy)


@pytest.fixture
def failing_app(healthy: Nodes) -> t.Iterator[Flask]:
    yield from make_app(healthy, SESSIONAUTH_REDIS_FALLBACK="fail", SESSIONAUTH_REDIS_FAILOVER_WINDOW=60)


def copies(app: Flask, ids: t.Iterable[str]) -> dict[str, bytes | None]:
    store = store_of(app)
    return {session_id: store.client.get(store.key(session_id)) for session_id in ids}


def test_a_master_crash_under_load_resurrects_nothing_and_answers_from_the_database(
    healthy: Nodes, app: Flask, caplog: pytest.LogCaptureFixture
) -> None:
    scenario = Scenario(healthy, app)
    figures = scenario.run()
    assert "Redis unreachable" in caplog.text
    assert not any(session_id in caplog.text for session_id in scenario.cookies)  # no keys, no records
    print(f"\n[{type(healthy).__name__}, fallback=database] {figures.line()}")
    assert figures.revoked_then_accepted == 0
    assert figures.errors_5xx == 0  # reads fell back to the database
    assert figures.revokes > 0 and figures.requests > 100
    # Every revoked session stays out, and no Redis copy of it is live.
    for session_id, raw in copies(app, scenario.revoked).items():
        assert raw in (None, b"-"), session_id
    # Recovered without a restart: revokes go through, and once the failover
    # window is over requests are answered from Redis alone again.
    survivor = next(i for i in scenario.cookies if i not in scenario.revoked)
    with app.test_request_context():
        assert app.extensions["sessionauth"].revoke_session(survivor, db.session.get(User, scenario.user_id))
    live = [i for i in scenario.cookies if i not in scenario.revoked and i != survivor]
    time.sleep(WINDOW)
    client = app.test_client(use_cookies=False)
    with app.app_context():
        counter = StatementCounter(db.engine)
    for _ in range(2):  # the first round caches again what the crash lost
        with counter:
            for session_id in live:
                cookie = f"{scenario.name}={scenario.cookies[session_id]}"
                assert client.get("/whoami/storage", headers={"Cookie": cookie}).json["user_id"] == scenario.user_id
    counter.statements.clear()
    with counter:
        for session_id in live:
            client.get("/whoami/storage", headers={"Cookie": f"{scenario.name}={scenario.cookies[session_id]}"})
    assert counter.statements == []


def test_fail_closed_during_the_failover_only_and_stale_copies_are_retired(healthy: Nodes, failing_app: Flask) -> None:
    """``SESSIONAUTH_REDIS_FALLBACK = "fail"``: 503 while no master answers,
    never a 500, never afterwards. A copy a promoted replica kept of a session
    the database no longer has (its tombstone lost with the old master) is
    retired by the first request in the failover window."""
    app = failing_app
    scenario = Scenario(healthy, app)
    figures = scenario.run()
    print(f"\n[{type(healthy).__name__}, fallback=fail] {figures.line()}")
    assert figures.revoked_then_accepted == 0
    assert {r.status for r in scenario.requests} <= {200, 503}
    # Only between the crash and the healed topology (a master for every key again).
    unavailable = [r for r in scenario.requests if r.status == 503]
    assert all(scenario.killed_at <= r.ended <= scenario.healed_at + 1 for r in unavailable)
    recovered = max(r.ended for r in scenario.requests if r.status == 503) if figures.errors_5xx else 0.0
    assert all(r.status == 200 for r in scenario.requests if r.started > recovered + 2)
    # The promoted replica "missed" a tombstone: put the old live copy back.
    victim = next(iter(scenario.revoked))
    store = store_of(app)
    store.client.set(store.key(victim), scenario.first_copies[victim], ex=3600)
    client = app.test_client(use_cookies=False)
    resp = client.get("/whoami/storage", headers={"Cookie": f"{scenario.name}={scenario.cookies[victim]}"})
    assert resp.json["user_id"] is None
    assert copies(app, [victim])[victim] == b"-"


def replicas_of(nodes: Nodes, app: Flask, session_id: str) -> list[int]:
    master = primary_of(nodes, app, session_id)
    state = info(master, "replication")
    return [int(state[f"slave{i}"]["port"]) for i in range(int(state["connected_slaves"]))]


def test_a_revoke_no_replica_confirmed_is_refused(healthy: Nodes, app: Flask) -> None:
    """Replication is asynchronous: a tombstone only the master holds dies with
    it. With the replicas frozen the revoke is refused (503), nothing deleted."""
    with app.app_context():
        user = app.extensions["sessionauth"].create_user("frozen@example.com", "correct horse battery")
        user_id = user.id
    session = device(app).sign_in(user)
    frozen = replicas_of(healthy, app, session.id)
    assert frozen
    for port in frozen:
        os.killpg(healthy.procs[port].pid, signal.SIGSTOP)
    try:
        started = time.monotonic()
        with app.test_request_context(), pytest.raises(StorageUnavailable):
            app.extensions["sessionauth"].revoke_session(session.id, db.session.get(User, user_id))
        assert time.monotonic() - started < 3
    finally:
        for port in frozen:
            os.killpg(healthy.procs[port].pid, signal.SIGCONT)
    with app.app_context():
        assert app.extensions["sessionauth"].list_sessions(db.session.get(User, user_id))  # nothing deleted
        assert app.extensions["sessionauth"].revoke_session(session.id, db.session.get(User, user_id))
    assert isinstance(healthy, RedisSentinel) or healthy.healthy()  # type: ignore[attr-defined]


def test_with_the_local_cache_a_failover_resurrects_nothing_and_the_cache_follows_the_new_master(
    healthy: Nodes,
) -> None:
    """``SESSIONAUTH_REDIS_LOCAL_CACHE`` on: the crash empties the cache (its
    invalidation connection to the old master is gone), no revoked session is
    answered from a copy, and once the topology healed the invalidations come
    from the new master: a revoke on one server is refused at once by the other."""
    app = next(apps := make_app(healthy, SESSIONAUTH_REDIS_LOCAL_CACHE=1000))
    server_b = create_app(dict(app.config))
    try:
        scenario = Scenario(healthy, app)
        figures = scenario.run()
        print(f"\n[{type(healthy).__name__}, local cache] {figures.line()}")
        assert figures.revoked_then_accepted == 0
        assert figures.errors_5xx == 0
        assert figures.revokes > 0 and figures.requests > 100
        time.sleep(WINDOW)  # from now on Redis (and the caches) answer alone
        live = [i for i in scenario.cookies if i not in scenario.revoked]
        for server in (app, server_b):
            local = store_of(server).local
            assert local is not None
            cookie = {"Cookie": f"{scenario.name}={scenario.cookies[live[0]]}"}
            server.test_client(use_cookies=False).get("/whoami/storage", headers=cookie)  # starts B's listener
            wait_for(lambda local=local: local.online, "the cache to resubscribe")
            wait_for(lambda local=local: primaries_of(local) == masters_of(healthy), "the new masters")
        with app.app_context():
            user = db.session.get(User, scenario.user_id)
        for session_id in live:
            cookie = {"Cookie": f"{scenario.name}={scenario.cookies[session_id]}"}
            on_b = server_b.test_client(use_cookies=False)
            for _ in range(2):  # read, then a hit
                assert on_b.get("/whoami/storage", headers=cookie).json["user_id"] == scenario.user_id
            with app.test_request_context():
                assert app.extensions["sessionauth"].revoke_session(session_id, user)
            assert on_b.get("/whoami/storage", headers=cookie).json["user_id"] is None
    finally:
        dispose(server_b)
        next(apps, None)


def primaries_of(local: t.Any) -> set[int]:
    return {int(conn.port) for conn in local._conns}


def masters_of(nodes: Nodes) -> set[int]:
    return {nodes.master()} if isinstance(nodes, RedisSentinel) else set(nodes.masters())  # type: ignore[attr-defined]
