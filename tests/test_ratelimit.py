"""Brute-force limits: failed password checks per account and per client address.

Counted in shared storage (the database, or Redis when configured), so every
worker process sees the same counters; unknown emails are limited exactly like
known ones.
"""

from __future__ import annotations

import datetime as dt
import typing as t
import uuid

import pytest
import sqlalchemy as sa
import time_machine
from flask import Flask
from flask_sessionauth.ratelimit import TABLE_NAME
from flask_sessionauth.ratelimit import account_key
from flask_sessionauth.ratelimit import address_key

from flask_sessionauth import InvalidPassword
from flask_sessionauth import RateLimited
from flask_sessionauth import login_failed

from .conftest import PASSWORD
from .conftest import REDIS_URL
from .conftest import StatementCounter
from .conftest import User
from .conftest import create_app
from .conftest import db
from .conftest import login
from .conftest import require

IP = "203.0.113.7"


def attempt(client: t.Any, email: str, password: str = "wrong password", ip: str = IP, **kw: t.Any) -> t.Any:
    return client.post(
        "/test/login", data={"email": email, "password": password}, environ_base={"REMOTE_ADDR": ip}, **kw
    )


def throttle_rows(app: Flask) -> dict[str, int]:
    with app.app_context():
        table = db.metadata.tables[TABLE_NAME]
        return {row.key: row.count for row in db.session.execute(sa.select(table)).all()}


@time_machine.travel(dt.datetime(2030, 1, 1, 12, 0, tzinfo=dt.timezone.utc), tick=False)  # exact Retry-After
def test_account_locked_after_limit(app: Flask, client: t.Any, user: t.Any) -> None:
    for _ in range(5):
        assert attempt(client, "alice@example.com").status_code == 401
    locked = attempt(client, "alice@example.com")
    assert locked.status_code == 429
    assert locked.headers["Retry-After"] == "900"
    assert locked.headers["Cache-Control"] == "no-store"
    assert b"Too many attempts" in locked.data
    assert b"Traceback" not in locked.data
    # The right password does not get through a locked account either.
    assert attempt(client, "alice@example.com", PASSWORD).status_code == 429
    # Another account from another address is unaffected.
    assert attempt(client, "bob@example.com", ip="198.51.100.1").status_code == 401


def test_unknown_email_is_limited_exactly_like_a_known_one(app: Flask, client: t.Any, user: t.Any) -> None:
    """No enumeration through the lockout: same count, status, headers and body."""
    known = [attempt(client, "alice@example.com", ip="198.51.100.1") for _ in range(6)]
    unknown = [attempt(client, "nobody@example.com", ip="198.51.100.2") for _ in range(6)]
    assert [r.status_code for r in known] == [401] * 5 + [429]
    assert [r.status_code for r in unknown] == [r.status_code for r in known]
    assert unknown[-1].data == known[-1].data
    assert unknown[-1].headers["Retry-After"] == known[-1].headers["Retry-After"]
    # Keys are digests of the typed email, never the email or a user id.
    rows = throttle_rows(app)
    assert account_key("nobody@example.com").name in rows
    assert not any("example.com" in key for key in rows)


def test_email_is_normalised_before_counting(app: Flask, client: t.Any, user: t.Any) -> None:
    for i, email in enumerate(["alice@example.com", "ALICE@example.com", " Alice@Example.COM ", "alice@EXAMPLE.com"]):
        assert attempt(client, email, ip=f"198.51.100.{i}").status_code == 401
    assert attempt(client, "alice@example.com", ip="198.51.100.9").status_code == 401
    assert attempt(client, "aLiCe@example.com", ip="198.51.100.10").status_code == 429


def test_address_limit_across_accounts(app: Flask, client: t.Any, user: t.Any) -> None:
    """Password spraying: one address trying many accounts hits the per-IP limit."""
    for i in range(20):
        assert attempt(client, f"user{i}@example.com").status_code == 401
    assert attempt(client, "alice@example.com", PASSWORD).status_code == 429
    # The account itself is not locked: from another address the owner signs in.
    assert attempt(client, "alice@example.com", PASSWORD, ip="198.51.100.1").status_code == 200


def test_ipv6_addresses_count_per_64(app: Flask, client: t.Any) -> None:
    for i in range(20):
        assert attempt(client, f"user{i}@example.com", ip=f"2001:db8:1:2::{i + 1:x}").status_code == 401
    assert attempt(client, "x@example.com", ip="2001:db8:1:2:ffff::1").status_code == 429
    assert attempt(client, "x@example.com", ip="2001:db8:1:3::1").status_code == 401
    assert address_key("2001:db8:1:2::1") == address_key("2001:db8:1:2:abcd::9")
    assert address_key("192.0.2.1") != address_key("192.0.2.2")


def test_success_clears_the_account_counter(app: Flask, client: t.Any, user: t.Any) -> None:
    for _ in range(4):
        assert attempt(client, "alice@example.com").status_code == 401
    assert attempt(client, "alice@example.com", PASSWORD).status_code == 200
    for _ in range(5):
        assert attempt(client, "alice@example.com").status_code == 401
    assert attempt(client, "alice@example.com").status_code == 429


def test_successful_sign_ins_do_not_use_up_the_address(app: Flask, client: t.Any, user: t.Any) -> None:
    """Many people behind one NAT signing in correctly never trip the per-IP limit."""
    for _ in range(30):
        assert attempt(client, "alice@example.com", PASSWORD).status_code == 200
    assert throttle_rows(app) == {}  # correct passwords are never counted


def test_window_expires(app: Flask, client: t.Any, user: t.Any) -> None:
    start = dt.datetime(2030, 1, 1, 12, 0, tzinfo=dt.timezone.utc)
    with time_machine.travel(start, tick=False) as traveller:
        for _ in range(5):
            attempt(client, "alice@example.com")
        assert attempt(client, "alice@example.com").status_code == 429
        traveller.shift(300)
        locked = attempt(client, "alice@example.com", PASSWORD)
        assert locked.status_code == 429
        assert locked.headers["Retry-After"] == "600"
        traveller.shift(600)
        assert attempt(client, "alice@example.com", PASSWORD).status_code == 200


def test_locked_attempt_does_no_password_work(app: Flask, client: t.Any, user: t.Any) -> None:
    """A locked-out client costs one read of its counters: no user lookup,
    no hashing, no login_failed signal, no write."""
    for _ in range(5):
        attempt(client, "alice@example.com")
    failures: list[str] = []

    def record(sender: t.Any, identity: str, reason: str) -> None:
        failures.append(reason)

    with app.app_context():
        engine = db.engine
    with login_failed.connected_to(record), StatementCounter(engine) as counter:
        assert attempt(client, "alice@example.com", PASSWORD).status_code == 429
    assert failures == []
    assert not any("users" in s for s in counter.statements)
    assert all(TABLE_NAME in s for s in counter.statements)
    assert len(counter.statements) == 1 and counter.writes == []


@time_machine.travel(dt.datetime(2030, 1, 1, 12, 0, tzinfo=dt.timezone.utc), tick=False)  # exact Retry-After
def test_json_clients_get_a_json_429(app: Flask, client: t.Any) -> None:
    for _ in range(5):
        attempt(client, "nobody@example.com")
    resp = attempt(client, "nobody@example.com", headers={"Accept": "application/json"})
    assert resp.status_code == 429
    assert resp.headers["Retry-After"] == "900"
    assert resp.json == {"error": {"code": "rate_limited", "message": "Too many attempts. Please wait and try again."}}


def test_limits_are_configurable_and_can_be_disabled(backend: str, tmp_path: t.Any) -> None:
    from .conftest import database_url

    app = create_app(
        {
            "SQLALCHEMY_DATABASE_URI": database_url(backend, tmp_path),
            "SESSIONAUTH_RATE_LIMIT_ACCOUNT": 2,
            "SESSIONAUTH_RATE_LIMIT_IP": None,
            "SESSIONAUTH_RATE_LIMIT_WINDOW": 60,
        }
    )
    with app.app_context():
        db.drop_all()
        db.create_all()
    try:
        client = app.test_client()
        assert [attempt(client, "a@example.com").status_code for _ in range(3)] == [401, 401, 429]
        assert attempt(client, "a@example.com").headers["Retry-After"] == "60"
        # No per-IP counting at all.
        assert [attempt(client, f"u{i}@example.com").status_code for i in range(30)] == [401] * 30
        assert address_key(IP).name not in throttle_rows(app)
    finally:
        with app.app_context():
            db.drop_all()
            db.engine.dispose()


def test_counters_are_shared_between_app_processes(backend: str, tmp_path: t.Any) -> None:
    """Two app instances on one database (as two gunicorn workers) share the limit."""
    from .conftest import database_url

    config = {"SQLALCHEMY_DATABASE_URI": database_url(backend, tmp_path)}
    worker_a, worker_b = create_app(config), create_app(config)
    with worker_a.app_context():
        db.drop_all()
        db.create_all()
    try:
        a, b = worker_a.test_client(), worker_b.test_client()
        codes = [attempt(a if i % 2 else b, "alice@example.com").status_code for i in range(6)]
        assert codes == [401] * 5 + [429]
        assert attempt(a, "alice@example.com").status_code == 429
    finally:
        with worker_a.app_context():
            db.drop_all()
            db.engine.dispose()
        with worker_b.app_context():
            db.engine.dispose()


def test_change_password_current_password_limited(app: Flask, user: t.Any) -> None:
    auth = app.extensions["sessionauth"]
    with app.test_request_context(environ_base={"REMOTE_ADDR": IP}):
        u = db.session.get(User, user.id)
        for _ in range(5):
            with pytest.raises(InvalidPassword):
                auth.change_password(u, "wrong password", "new password 123")
        with pytest.raises(RateLimited) as info:
            auth.change_password(u, PASSWORD, "new password 123")
        assert 0 < info.value.retry_after <= 900
        # Nothing changed: the old password still verifies.
        assert auth.verify_password(u, PASSWORD)


def test_current_password_failures_share_the_account_counter(app: Flask, client: t.Any, user: t.Any) -> None:
    """Guesses through the password form and the sign-in form add up: a stolen
    session cookie does not buy extra guesses at the password."""
    auth = app.extensions["sessionauth"]
    with app.test_request_context(environ_base={"REMOTE_ADDR": "198.51.100.1"}):
        u = db.session.get(User, user.id)
        for _ in range(3):
            with pytest.raises(InvalidPassword):
                auth.change_password(u, "wrong password", "new password 123")
    assert [attempt(client, "alice@example.com").status_code for _ in range(3)] == [401, 401, 429]


def test_correct_current_password_clears_the_counter(app: Flask, user: t.Any) -> None:
    auth = app.extensions["sessionauth"]
    with app.test_request_context(environ_base={"REMOTE_ADDR": IP}):
        u = db.session.get(User, user.id)
        for _ in range(4):
            with pytest.raises(InvalidPassword):
                auth.change_password(u, "wrong password", "new password 123")
        auth.change_password(u, PASSWORD, "new password 123")
    assert account_key("alice@example.com").name not in throttle_rows(app)


def test_reauthenticate_limited(app: Flask, client: t.Any, user: t.Any) -> None:
    """Sudo-mode password re-entry (conftest's ``/test/reauth``: 403 when wrong)."""
    login(client)
    codes = [
        client.post("/test/reauth", data={"password": "wrong password"}, environ_base={"REMOTE_ADDR": IP}).status_code
        for _ in range(6)
    ]
    assert codes == [403] * 5 + [429]
    resp = client.post("/test/reauth", data={"password": PASSWORD}, environ_base={"REMOTE_ADDR": IP})
    assert resp.status_code == 429
    assert resp.headers["Retry-After"]
    # Still signed in: a lockout ends no session.
    assert client.get("/me").status_code == 200


def test_portable_increment_path(app: Flask, client: t.Any) -> None:
    """Databases without ``ON CONFLICT … RETURNING`` use UPDATE-else-INSERT; the
    limits come out the same."""
    limiter = app.extensions["sessionauth"].state_for(app).limiter
    limiter._upsert_statement = lambda dialect: None
    codes = [attempt(client, "alice@example.com").status_code for _ in range(6)]
    assert codes == [401] * 5 + [429]
    assert throttle_rows(app)[account_key("alice@example.com").name] == 5  # refused attempts are not failures


def test_cleanup_forgets_finished_windows(app: Flask, client: t.Any) -> None:
    limiter = app.extensions["sessionauth"].state_for(app).limiter
    start = dt.datetime(2030, 1, 1, 12, 0, tzinfo=dt.timezone.utc)
    with time_machine.travel(start, tick=False) as traveller:
        attempt(client, "old@example.com")
        traveller.shift(600)
        attempt(client, "new@example.com", ip="198.51.100.1")
        traveller.shift(400)
        with app.app_context():
            assert limiter.cleanup() == 2  # old@ and its address; new@'s window is still open
    assert set(throttle_rows(app)) == {account_key("new@example.com").name, address_key("198.51.100.1").name}


def test_cleanup_expired_also_forgets_finished_windows(app: Flask, client: t.Any) -> None:
    start = dt.datetime(2030, 1, 1, 12, 0, tzinfo=dt.timezone.utc)
    with time_machine.travel(start, tick=False) as traveller:
        attempt(client, "old@example.com")
        assert throttle_rows(app)
        traveller.shift(1000)
        with app.app_context():
            assert app.extensions["sessionauth"].cleanup_expired() == 0  # no session rows to delete
    assert throttle_rows(app) == {}


@pytest.fixture
def redis_app(tmp_path: t.Any) -> t.Iterator[Flask]:
    require("redis")
    import redis

    prefix = f"test-{uuid.uuid4().hex}:"
    app = create_app(
        {
            "SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path / 'app.db'}",
            "SESSIONAUTH_REDIS_URL": REDIS_URL,
            "SESSIONAUTH_REDIS_PREFIX": prefix,
        }
    )
    with app.app_context():
        db.create_all()
    yield app
    client = redis.Redis.from_url(REDIS_URL)
    keys = list(client.scan_iter(f"{prefix}*"))
    if keys:
        client.delete(*keys)
    with app.app_context():
        db.engine.dispose()


def test_redis_counters(redis_app: Flask) -> None:
    import redis

    client = redis_app.test_client()
    with redis_app.app_context():
        redis_app.extensions["sessionauth"].create_user("alice@example.com", PASSWORD)
    codes = [attempt(client, "alice@example.com").status_code for _ in range(6)]
    assert codes == [401] * 5 + [429]
    resp = attempt(client, "alice@example.com", PASSWORD)
    assert resp.status_code == 429
    assert 890 <= int(resp.headers["Retry-After"]) <= 900
    prefix = redis_app.config["SESSIONAUTH_REDIS_PREFIX"]
    r = redis.Redis.from_url(REDIS_URL)
    key = f"{prefix}throttle:{account_key('alice@example.com').name}"
    assert int(r.get(key) or 0) == 5  # failures only: refused attempts are not counted
    assert 0 < r.ttl(key) <= 900
    # Counted in Redis, not in the database.
    assert throttle_rows(redis_app) == {}
    # A second app (another worker) sees the same counters.
    other = create_app(dict(redis_app.config))
    assert attempt(other.test_client(), "alice@example.com", PASSWORD).status_code == 429
    with other.app_context():
        db.engine.dispose()


def test_redis_success_releases(redis_app: Flask) -> None:
    import redis

    client = redis_app.test_client()
    with redis_app.app_context():
        redis_app.extensions["sessionauth"].create_user("alice@example.com", PASSWORD)
    for _ in range(4):
        attempt(client, "alice@example.com")
    assert attempt(client, "alice@example.com", PASSWORD).status_code == 200
    prefix = redis_app.config["SESSIONAUTH_REDIS_PREFIX"]
    r = redis.Redis.from_url(REDIS_URL)
    assert r.get(f"{prefix}throttle:{account_key('alice@example.com').name}") is None
    assert int(r.get(f"{prefix}throttle:{address_key(IP).name}") or 0) == 4


@pytest.mark.parametrize("fallback", ["database", "fail"])
def test_redis_down(tmp_path: t.Any, fallback: str) -> None:
    """Unreachable Redis: counters fall back to the database, or the check fails closed."""
    app = create_app(
        {
            "SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path / 'app.db'}",
            "SESSIONAUTH_REDIS_URL": "redis://127.0.0.1:1/0",
            "SESSIONAUTH_REDIS_FALLBACK": fallback,
        }
    )
    with app.app_context():
        db.create_all()
    client = app.test_client()
    codes = [attempt(client, "alice@example.com").status_code for _ in range(6)]
    if fallback == "database":
        assert codes == [401] * 5 + [429]
        assert throttle_rows(app)[account_key("alice@example.com").name] == 5  # refused attempts are not failures
    else:
        assert codes == [503] * 6
        assert throttle_rows(app) == {}
    with app.app_context():
        db.engine.dispose()


def api_sign_in(client: t.Any, email: str, password: str, ip: str = IP) -> t.Any:
    token = client.get("/api/auth/csrf-token", environ_base={"REMOTE_ADDR": ip}).json["csrfToken"]
    return client.post(
        "/api/auth/sign-in/email",
        json={"email": email, "password": password},
        headers={"Origin": "http://localhost", "X-CSRFToken": token},
        environ_base={"REMOTE_ADDR": ip},
    )


@time_machine.travel(dt.datetime(2030, 1, 1, 12, 0, tzinfo=dt.timezone.utc), tick=False)  # exact Retry-After
def test_public_api_unknown_and_known_emails_lock_identically(app: Flask, client: t.Any, user: t.Any) -> None:
    known = [api_sign_in(client, "alice@example.com", "wrong password", "198.51.100.1") for _ in range(6)]
    unknown = [api_sign_in(client, "nobody@example.com", "wrong password", "198.51.100.2") for _ in range(6)]
    assert [r.status_code for r in known] == [r.status_code for r in unknown] == [401] * 5 + [429]
    assert [r.json for r in known] == [r.json for r in unknown]
    assert known[-1].headers["Retry-After"] == unknown[-1].headers["Retry-After"] == "900"
    assert known[-1].json["error"]["code"] == "rate_limited"


def test_sign_in_surfaces_share_one_counter(app: Flask, client: t.Any, user: t.Any) -> None:
    """Guesses through the page, the JSON API and any custom route that calls
    ``auth.authenticate`` count against the same account."""
    app.config["WTF_CSRF_ENABLED"] = False
    assert attempt(client, "alice@example.com", ip="198.51.100.1").status_code == 401
    assert api_sign_in(client, "alice@example.com", "wrong", "198.51.100.2").status_code == 401
    page = client.post(
        "/account/login",
        data={"email": "alice@example.com", "password": "wrong"},
        environ_base={"REMOTE_ADDR": "198.51.100.3"},
    )
    assert page.status_code == 401
    assert api_sign_in(client, "alice@example.com", "wrong", "198.51.100.4").status_code == 401
    assert attempt(client, "alice@example.com", ip="198.51.100.5").status_code == 401
    page = client.post(
        "/account/login",
        data={"email": "alice@example.com", "password": PASSWORD},
        environ_base={"REMOTE_ADDR": "198.51.100.6"},
    )
    assert page.status_code == 429
    assert page.headers["Retry-After"]


def test_calls_outside_a_request_are_not_limited(app: Flask, client: t.Any, user: t.Any) -> None:
    """Scripts and the CLI have no client to limit, and never lock the web app out."""
    auth = app.extensions["sessionauth"]
    with app.app_context():
        for _ in range(10):
            assert auth.authenticate("alice@example.com", "wrong password") is None
        assert auth.authenticate("alice@example.com", PASSWORD) is not None
    assert throttle_rows(app) == {}
    assert attempt(client, "alice@example.com", PASSWORD).status_code == 200
