"""Storage outages fail closed and recover by themselves.

A throwaway PostgreSQL cluster is created for this module (``initdb`` +
``pg_ctl`` on a free 127.0.0.1 port), the app signs in against it, and the
cluster is then really stopped (``pg_ctl stop -m immediate``, a crash) and
started again. No mocks: the errors are the driver's own.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import time
import typing as t

import pytest
import sqlalchemy as sa
from flask import Flask
from flask import request

from flask_sessionauth import StorageUnavailable
from flask_sessionauth import login_required
from flask_sessionauth import session_revoked
from tests.conftest import REQUIRE_SERVICES
from tests.conftest import User
from tests.conftest import create_app
from tests.conftest import db
from tests.conftest import dispose
from tests.helpers import PASSWORD
from tests.helpers import cookie_name
from tests.helpers import device
from tests.helpers import free_port
from tests.helpers import login

pytestmark = pytest.mark.slow


def _pg_bin(name: str) -> str | None:
    for candidate in (shutil.which(name), f"/usr/lib/postgresql/15/bin/{name}", f"/usr/local/bin/{name}"):
        if candidate and os.path.exists(candidate):
            return candidate
    return None


class Cluster:
    """A PostgreSQL cluster of our own that can crash and come back."""

    def __init__(self) -> None:
        initdb, self.pg_ctl = _pg_bin("initdb"), _pg_bin("pg_ctl")
        if initdb is None or self.pg_ctl is None:
            if REQUIRE_SERVICES:
                pytest.fail("initdb/pg_ctl are required for the outage tests")
            pytest.skip("PostgreSQL server binaries (initdb, pg_ctl) not installed")
        # initdb refuses to run as root: use the postgres account, in a
        # directory it owns (pytest's tmp dirs are private to root).
        self.as_user = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
        self.base = tempfile.mkdtemp(prefix="sessionauth-pg-")
        if self.as_user:
            shutil.chown(self.base, "postgres")
        self.data = os.path.join(self.base, "data")
        self.port = free_port()
        self._run(initdb, "-D", self.data, "-U", "postgres", "-A", "trust", "-E", "UTF8", "--no-sync")
        self.url = f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/postgres"

    def _run(self, *args: str) -> None:
        subprocess.run([*self.as_user, *args], check=True, capture_output=True, timeout=120)

    up = False

    def start(self) -> None:
        options = f"-p {self.port} -k {self.base} -c listen_addresses=127.0.0.1 -c fsync=off"
        log = os.path.join(self.base, "log")
        assert self.pg_ctl is not None
        self._run(self.pg_ctl, "-D", self.data, "-o", options, "-l", log, "-w", "-t", "60", "start")
        self.up = True

    def stop(self) -> None:
        """Crash it: connections die at once, nothing is shut down politely."""
        assert self.pg_ctl is not None
        self._run(self.pg_ctl, "-D", self.data, "-m", "immediate", "-w", "stop")
        self.up = False

    def destroy(self) -> None:
        subprocess.run(
            [*self.as_user, str(self.pg_ctl), "-D", self.data, "-m", "immediate", "stop"], capture_output=True
        )
        shutil.rmtree(self.base, ignore_errors=True)


@pytest.fixture(scope="module")
def cluster() -> t.Iterator[Cluster]:
    c = Cluster()
    c.start()
    yield c
    c.destroy()


@pytest.fixture
def running(cluster: Cluster) -> t.Iterator[Cluster]:
    """The cluster, up at the start of the test and again after it."""
    if not cluster.up:
        cluster.start()
    yield cluster
    if not cluster.up:
        cluster.start()


class Probe:
    """Counts how often a protected view actually ran."""

    calls = 0


@pytest.fixture
def outage_app(running: Cluster) -> t.Iterator[Flask]:
    app = create_app({"SQLALCHEMY_DATABASE_URI": running.url})

    @app.get("/protected")
    @login_required
    def protected() -> str:
        Probe.calls += 1
        return "secret page"

    @app.post("/test/revoke")
    def test_revoke() -> str:
        return str(app.extensions["sessionauth"].revoke_session(request.form["id"]))

    @app.post("/test/crash-then-revoke")
    def crash_then_revoke() -> str:
        running.stop()
        return str(app.extensions["sessionauth"].revoke_session(request.form["id"]))

    with app.app_context():
        db.drop_all()
        db.create_all()
        app.extensions["sessionauth"].create_user("alice@example.com", PASSWORD)
    Probe.calls = 0
    yield app
    dispose(app)


def assert_unavailable_page(resp: t.Any) -> None:
    assert resp.status_code == 503
    assert int(resp.headers["Retry-After"]) > 0
    assert resp.headers["Cache-Control"] == "no-store"
    body = resp.get_data(as_text=True)
    assert resp.mimetype == "text/html"
    assert "temporarily unavailable" in body.lower()
    assert "Traceback" not in body and "psycopg" not in body and "OperationalError" not in body
    assert len(body) < 4000  # the error template, not a traceback


def assert_unavailable_json(resp: t.Any) -> None:
    assert resp.status_code == 503
    assert int(resp.headers["Retry-After"]) > 0
    assert resp.json["error"]["code"] == "storage_unavailable"
    assert "psycopg" not in resp.get_data(as_text=True)


def test_outage_fails_closed_and_recovers(outage_app: Flask, running: Cluster) -> None:
    client = device(outage_app)
    login(client)
    assert client.get("/protected").data == b"secret page"
    assert Probe.calls == 1
    cookie = client.get_cookie(cookie_name(outage_app))
    assert cookie is not None

    running.stop()
    started = time.monotonic()
    resp = client.get("/protected")
    detect = time.monotonic() - started
    assert_unavailable_page(resp)
    assert detect < 5
    assert_unavailable_json(client.get("/protected", headers={"Accept": "application/json"}))
    assert_unavailable_json(client.get("/api/auth/get-session"))
    assert_unavailable_json(client.get("/api/auth/list-sessions"))
    assert_unavailable_page(client.get("/account/devices"))
    assert Probe.calls == 1  # the protected view never ran during the outage
    # The cookie is kept: an outage is not a sign-out.
    assert "Set-Cookie" not in resp.headers
    assert client.get_cookie(cookie_name(outage_app)) is not None
    # Signing in fails closed too.
    assert_unavailable_page(client.post("/test/login", data={"email": "alice@example.com", "password": PASSWORD}))

    running.start()
    # The same cookie works again at once, without restarting the app: the
    # failed requests already invalidated the connection pool.
    assert client.get("/protected").data == b"secret page"
    assert client.get("/api/auth/get-session").status_code == 200
    assert client.get_cookie(cookie_name(outage_app)).value == cookie.value


def test_crash_and_restart_while_idle(outage_app: Flask, running: Cluster) -> None:
    """The database crashed and came back while no request came in: the pool
    still holds dead connections. The hot path notices the disconnect, drops
    the dead connections and retries once, so even the first request works."""
    client = device(outage_app)
    login(client)
    running.stop()
    running.start()
    assert client.get("/protected").data == b"secret page"
    assert client.get("/protected").data == b"secret page"
    assert Probe.calls == 2


def test_sign_in_during_outage_is_unavailable_not_wrong_password(outage_app: Flask, running: Cluster) -> None:
    """A sign-in that cannot reach storage says so (503), on the page and in the
    API, instead of claiming the password was wrong."""
    outage_app.config["WTF_CSRF_ENABLED"] = False
    client = device(outage_app)
    running.stop()
    form = {"email": "alice@example.com", "password": PASSWORD}
    assert_unavailable_page(client.post("/account/login", data=form))
    api = client.post("/api/auth/sign-in/email", json=form, headers={"Origin": "http://localhost"})
    assert_unavailable_json(api)
    running.start()
    assert client.post("/account/login", data=form).status_code in (302, 303)
    assert client.get("/protected").data == b"secret page"


def test_anonymous_requests_do_not_need_storage(outage_app: Flask, running: Cluster) -> None:
    """Without a session cookie the hook reads nothing: public pages keep working."""
    client = outage_app.test_client()
    running.stop()
    assert client.get("/whoami").json == {"user_id": None}
    assert client.get("/protected").status_code in (302, 401)


def test_revoke_during_outage_is_surfaced(outage_app: Flask, running: Cluster) -> None:
    client = outage_app.test_client()
    session_id = login(client)
    auth = outage_app.extensions["sessionauth"]
    revoked: list[t.Any] = []

    def record(sender: t.Any, **kw: t.Any) -> None:
        revoked.append(kw)

    with outage_app.app_context():
        user = db.session.execute(sa.select(User)).scalar_one()
        db.session.expunge(user)
        db.session.remove()
    running.stop()
    with outage_app.app_context(), session_revoked.connected_to(record):
        with pytest.raises(StorageUnavailable):
            auth.revoke_session(session_id, user)
        with pytest.raises(StorageUnavailable):
            auth.revoke_sessions(user)
        db.session.remove()
    assert revoked == []
    running.start()
    # Not revoked: the session still works, and revoking now succeeds.
    codes = [client.get("/protected").status_code for _ in range(2)]
    assert codes[-1] == 200
    with outage_app.app_context():
        assert auth.revoke_session(session_id, user) is True
    assert client.get("/protected").status_code in (302, 401)


def test_failed_commit_on_revoke_is_surfaced(outage_app: Flask, running: Cluster) -> None:
    """The database refuses the revocation at COMMIT (a deferred constraint
    trigger): the caller gets StorageUnavailable, nothing is reported revoked,
    and the row and the session survive."""
    client = outage_app.test_client()
    session_id = login(client)
    table = outage_app.extensions["sessionauth"].session_model.__tablename__
    with outage_app.app_context():
        with db.engine.begin() as conn:
            conn.execute(
                sa.text(
                    "CREATE FUNCTION refuse() RETURNS trigger LANGUAGE plpgsql AS "
                    "$$ BEGIN RAISE EXCEPTION 'refused at commit'; END $$"
                )
            )
            conn.execute(
                sa.text(
                    f"CREATE CONSTRAINT TRIGGER refuse_delete AFTER DELETE ON {table} "
                    "DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION refuse()"
                )
            )
    auth = outage_app.extensions["sessionauth"]
    revoked: list[t.Any] = []

    def record(sender: t.Any, **kw: t.Any) -> None:
        revoked.append(kw)

    try:
        with session_revoked.connected_to(record):
            resp = client.post("/test/revoke", data={"id": session_id})
        assert resp.status_code == 503
        assert "refused at commit" not in resp.get_data(as_text=True)
        assert revoked == []
        assert client.get("/protected").status_code == 200
        with outage_app.app_context():
            model = auth.session_model
            assert db.session.execute(sa.select(sa.func.count()).where(model.id == session_id)).scalar() == 1
    finally:
        with outage_app.app_context(), db.engine.begin() as conn:
            conn.execute(sa.text(f"DROP TRIGGER refuse_delete ON {table}"))
            conn.execute(sa.text("DROP FUNCTION refuse()"))
    assert client.post("/test/revoke", data={"id": session_id}).data == b"True"
    assert client.get("/protected").status_code in (302, 401)


def test_outage_in_the_middle_of_a_request(outage_app: Flask, running: Cluster) -> None:
    """The database dies after the hook authenticated the request, before the
    view's own storage call: that call fails with a 503, not a traceback, and
    the session is not reported revoked."""
    client = outage_app.test_client()
    session_id = login(client)
    revoked: list[t.Any] = []

    def record(sender: t.Any, **kw: t.Any) -> None:
        revoked.append(kw)

    with session_revoked.connected_to(record):
        resp = client.post("/test/crash-then-revoke", data={"id": session_id})
    assert_unavailable_page(resp)
    assert revoked == []
    running.start()
    codes = [client.get("/protected").status_code for _ in range(2)]
    assert codes[-1] == 200
