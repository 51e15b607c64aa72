"""Brute-force limits on password guesses (``services/ratelimit.py``).

Sign-in failures are counted per (account, client address) pair (5), per
account from everywhere (100) and per client address (20); a signed-in owner
re-entering the password is limited per (account, session) only, so failures
made by others never lock the owner out. Counted in shared storage (the
database, or Redis when configured) under HMAC keys, so every worker process
sees the same counters and the counter table reveals no email or address.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
import string
import typing as t

import pytest
import sqlalchemy as sa
import time_machine
from flask import Flask

from flask_sessionauth import InvalidPassword
from flask_sessionauth import RateLimited
from flask_sessionauth import login_failed
from flask_sessionauth.core.errors import wait_in_words
from flask_sessionauth.services.ratelimit import ACCOUNT
from flask_sessionauth.services.ratelimit import ADDRESS
from flask_sessionauth.services.ratelimit import DEVICE_SESSIONS
from flask_sessionauth.services.ratelimit import NEW_SESSIONS
from flask_sessionauth.services.ratelimit import PAIR
from flask_sessionauth.services.ratelimit import REAUTH_ADDRESS
from flask_sessionauth.services.ratelimit import SESSION
from flask_sessionauth.services.ratelimit import UNKNOWN_ADDRESS
from flask_sessionauth.services.ratelimit import client_bucket
from flask_sessionauth.storage.throttle import TABLE_NAME
from tests.conftest import REDIS_MODES
from tests.conftest import User
from tests.conftest import create_app
from tests.conftest import db
from tests.conftest import dispose
from tests.helpers import PASSWORD
from tests.helpers import StatementCounter
from tests.helpers import api_post
from tests.helpers import device
from tests.helpers import forget_device
from tests.helpers import form_post
from tests.helpers import login
from tests.helpers import page_sign_in
from tests.helpers import state_of
from tests.helpers import text

IP = "203.0.113.7"
OTHER_IP = "198.51.100.1"
T0 = dt.datetime(2030, 1, 1, 12, 0, tzinfo=dt.timezone.utc)


def frozen() -> t.Any:
    """A stopped clock, for tests that assert an exact Retry-After."""
    return time_machine.travel(T0, tick=False)


def attempt(client: t.Any, email: str, password: str = "wrong password", ip: str = IP, **kw: t.Any) -> t.Any:
    """A sign-in through the conftest's ``/test/login`` (any route calling ``authenticate``)."""
    return client.post(
        "/test/login", data={"email": email, "password": password}, environ_base={"REMOTE_ADDR": ip}, **kw
    )


def api_sign_in(client: t.Any, email: str, password: str, ip: str = IP) -> t.Any:
    return api_post(client, "sign-in/email", {"email": email, "password": password}, environ_base={"REMOTE_ADDR": ip})


def reauth(client: t.Any, password: str, ip: str = IP) -> t.Any:
    """Sudo-mode password re-entry (conftest's ``/test/reauth``: 403 when wrong)."""
    return client.post("/test/reauth", data={"password": password}, environ_base={"REMOTE_ADDR": ip})


def counter_key(app: Flask, kind: str, *parts: str) -> str:
    """The storage key of one counter (``kind:<HMAC>``)."""
    return str(state_of(app).limiter.key(kind, *parts).name)


def throttle_rows(app: Flask) -> dict[str, int]:
    with app.app_context():
        table = db.metadata.tables[TABLE_NAME]
        rows = {row.key: row.count for row in db.session.execute(sa.select(table)).all()}
        db.session.remove()
        return rows


def lock_out(client: t.Any, email: str = "alice@example.com", ip: str = IP, failures: int = 5) -> None:
    for _ in range(failures):
        assert attempt(client, email, ip=ip).status_code == 401


# -- the sign-in limits --------------------------------------------------------------


@frozen()
def test_pair_locked_after_limit(app: Flask, client: t.Any, user: t.Any) -> None:
    lock_out(client)
    locked = attempt(client, "alice@example.com")
    assert locked.status_code == 429
    assert locked.headers["Retry-After"] == "900"
    assert locked.headers["Cache-Control"] == "no-store"
    assert b"Too many attempts" in locked.data
    assert b"Traceback" not in locked.data
    # The right password does not get through a locked pair either.
    assert attempt(client, "alice@example.com", PASSWORD).status_code == 429
    # Another account from another address is unaffected.
    assert attempt(client, "bob@example.com", ip=OTHER_IP).status_code == 401


def test_failures_from_another_address_do_not_block_the_owner(app: Flask, client: t.Any, user: t.Any) -> None:
    """Five guesses from an attacker's address lock that address out of the
    account, not the owner signing in from theirs (OWASP: lockout is a DoS)."""
    lock_out(client, ip=IP)
    assert attempt(client, "alice@example.com", PASSWORD, ip=IP).status_code == 429
    assert attempt(client, "alice@example.com", "a typo", ip=OTHER_IP).status_code == 401
    assert attempt(client, "alice@example.com", PASSWORD, ip=OTHER_IP).status_code == 200


@pytest.mark.parametrize("app_config", [{"SESSIONAUTH_RATE_LIMIT_ACCOUNT_TOTAL": 10}])
def test_account_total_stops_a_distributed_guess(app: Flask, client: t.Any, user: t.Any) -> None:
    """Guesses spread over many addresses add up on the account."""
    lock_out(client, ip="198.51.100.1")
    lock_out(client, ip="198.51.100.2")
    assert attempt(client, "alice@example.com", PASSWORD, ip="198.51.100.3").status_code == 429
    assert attempt(client, "bob@example.com", ip="198.51.100.3").status_code == 401
    assert throttle_rows(app)[counter_key(app, ACCOUNT, "alice@example.com")] == 10


def test_unknown_email_is_limited_exactly_like_a_known_one(app: Flask, client: t.Any, user: t.Any) -> None:
    """No enumeration through the lockout: same count, status, headers and body."""
    with frozen():
        known = [attempt(client, "alice@example.com", ip="198.51.100.1") for _ in range(6)]
        unknown = [attempt(client, "nobody@example.com", ip="198.51.100.2") for _ in range(6)]
    assert [r.status_code for r in known] == [401] * 5 + [429]
    assert [r.status_code for r in unknown] == [r.status_code for r in known]
    assert unknown[-1].data == known[-1].data
    assert unknown[-1].headers["Retry-After"] == known[-1].headers["Retry-After"]
    rows = throttle_rows(app)
    assert rows[counter_key(app, PAIR, "nobody@example.com", "198.51.100.2")] == 5
    assert rows[counter_key(app, ACCOUNT, "nobody@example.com")] == 5


def test_counter_keys_are_hmacs_not_emails_or_plain_hashes(app: Flask, client: t.Any, user: t.Any) -> None:
    """Checklist 48: a dump of the counter table cannot be reversed into emails
    or addresses by hashing candidates, and the key depends on ``SECRET_KEY``."""
    attempt(client, "alice@example.com")
    rows = throttle_rows(app)
    assert set(rows) == {
        counter_key(app, ADDRESS, IP),
        counter_key(app, PAIR, "alice@example.com", IP),
        counter_key(app, ACCOUNT, "alice@example.com"),
    }
    dump = repr(rows)
    assert "example.com" not in dump and IP not in dump
    for plain in ("alice@example.com", IP, f"alice@example.com\x00{IP}"):
        for digest in (hashlib.sha256(plain.encode()).hexdigest(), hashlib.sha1(plain.encode()).hexdigest()):
            assert digest[:16] not in dump
    for name in rows:
        kind, _, mac = name.partition(":")
        assert kind in (ADDRESS, PAIR, ACCOUNT) and len(mac) == 48 and set(mac) <= set(string.hexdigits)
    other = create_app({"SECRET_KEY": "another-secret-key"})
    try:
        assert counter_key(other, ACCOUNT, "alice@example.com") != counter_key(app, ACCOUNT, "alice@example.com")
    finally:
        dispose(other)


def test_email_is_normalised_before_counting(app: Flask, client: t.Any, user: t.Any) -> None:
    for email in [
        "alice@example.com",
        "ALICE@example.com",
        " Alice@Example.COM ",
        "alice@EXAMPLE.com",
        "aLiCe@example.com",
    ]:
        assert attempt(client, email).status_code == 401
    assert attempt(client, "ALICE@EXAMPLE.COM").status_code == 429
    assert throttle_rows(app)[counter_key(app, PAIR, "alice@example.com", IP)] == 5


def test_address_limit_across_accounts(app: Flask, client: t.Any, user: t.Any) -> None:
    """Password spraying: one address trying many accounts hits the per-address limit."""
    for i in range(20):
        assert attempt(client, f"user{i}@example.com").status_code == 401
    assert attempt(client, "alice@example.com", PASSWORD).status_code == 429
    # The account itself is not locked: from another address the owner signs in.
    assert attempt(client, "alice@example.com", PASSWORD, ip=OTHER_IP).status_code == 200


def test_success_clears_the_pair_counter(app: Flask, client: t.Any, user: t.Any) -> None:
    for _ in range(4):
        assert attempt(client, "alice@example.com").status_code == 401
    assert attempt(client, "alice@example.com", PASSWORD).status_code == 200
    forget_device(client, app)  # else its known-device cookie has its own limit
    lock_out(client)
    assert attempt(client, "alice@example.com").status_code == 429
    rows = throttle_rows(app)
    # The account and address counters keep every real failure.
    assert rows[counter_key(app, ACCOUNT, "alice@example.com")] == rows[counter_key(app, ADDRESS, IP)] == 9


def test_successful_sign_ins_do_not_use_up_the_address(app: Flask, client: t.Any, user: t.Any) -> None:
    """Many people behind one NAT signing in correctly never trip the per-address limit."""
    for _ in range(30):
        assert attempt(client, "alice@example.com", PASSWORD).status_code == 200
    # Correct passwords are never counted as failures (only the new sessions are).
    assert {key.split(":")[0] for key in throttle_rows(app)} <= {NEW_SESSIONS, DEVICE_SESSIONS}


def test_window_expires(app: Flask, client: t.Any, user: t.Any) -> None:
    with time_machine.travel(T0, tick=False) as traveller:
        lock_out(client)
        assert attempt(client, "alice@example.com").status_code == 429
        traveller.shift(300)
        locked = attempt(client, "alice@example.com", PASSWORD)
        assert locked.status_code == 429
        assert locked.headers["Retry-After"] == "600"
        traveller.shift(600)
        assert attempt(client, "alice@example.com", PASSWORD).status_code == 200


def test_locked_attempt_does_no_password_work(app: Flask, client: t.Any, user: t.Any) -> None:
    """A locked-out client costs one read per counter: no user lookup, no
    hashing, no login_failed signal, no write."""
    lock_out(client)
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
    assert len(counter.reads) == 3 == len(counter.statements)  # the address, pair and account counters
    assert counter.writes == []


@frozen()
def test_json_clients_get_a_json_429(app: Flask, client: t.Any) -> None:
    lock_out(client, "nobody@example.com")
    resp = attempt(client, "nobody@example.com", headers={"Accept": "application/json"})
    assert resp.status_code == 429
    assert resp.headers["Retry-After"] == "900"
    message = "Too many attempts. Please try again in 15 minutes."
    assert resp.json == {
        "code": "TOO_MANY_REQUESTS",
        "message": message,
        "error": {"code": "rate_limited", "message": message},
    }
    assert resp.headers["X-Retry-After"] == "900"


def test_the_wait_is_stated_in_words(app: Flask, client: t.Any, user: t.Any) -> None:
    """Checklist 44: the sign-in page, the JSON API and the error page say how
    long to wait, matching Retry-After."""
    with time_machine.travel(T0, tick=False) as traveller:
        lock_out(client, ip="127.0.0.1")
        page = page_sign_in(client, "alice@example.com", PASSWORD)
        assert page.status_code == 429 and page.headers["Retry-After"] == "900"
        assert "Too many attempts. Please try again in 15 minutes." in text(page)
        traveller.shift(5 * 60 + 30)
        api = api_sign_in(client, "alice@example.com", PASSWORD, ip="127.0.0.1")
        assert api.status_code == 429 and api.headers["Retry-After"] == "570"
        assert api.json["error"]["message"] == "Too many attempts. Please try again in 10 minutes."
        traveller.shift(570 - 45)
        plain = attempt(client, "alice@example.com", PASSWORD, ip="127.0.0.1")
        assert plain.headers["Retry-After"] == "45"
        assert "Please try again in 45 seconds." in text(plain)


@pytest.mark.parametrize(
    ("seconds", "words"),
    [(1, "1 second"), (45, "45 seconds"), (59, "59 seconds"), (60, "1 minute"), (61, "2 minutes"), (900, "15 minutes")],
)
def test_wait_in_words(seconds: int, words: str) -> None:
    assert wait_in_words(seconds) == words
    assert RateLimited(seconds).message == f"Too many attempts. Please try again in {words}."


@pytest.mark.parametrize(
    "app_config",
    [{"SESSIONAUTH_RATE_LIMIT_ACCOUNT": 2, "SESSIONAUTH_RATE_LIMIT_IP": None, "SESSIONAUTH_RATE_LIMIT_WINDOW": 60}],
)
@frozen()
def test_limits_are_configurable_and_can_be_disabled(app: Flask, client: t.Any) -> None:
    assert [attempt(client, "a@example.com").status_code for _ in range(3)] == [401, 401, 429]
    locked = attempt(client, "a@example.com")
    assert locked.headers["Retry-After"] == "60"
    assert "Please try again in 1 minute." in text(locked)
    # No per-address counting at all.
    assert [attempt(client, f"u{i}@example.com").status_code for i in range(30)] == [401] * 30
    assert counter_key(app, ADDRESS, IP) not in throttle_rows(app)


def test_counters_are_shared_between_app_processes(app: Flask, user: t.Any) -> None:
    """Two app instances on one database (as two gunicorn workers) share the limit."""
    other = create_app({k: v for k, v in app.config.items() if k.startswith(("SQLALCHEMY_", "SESSIONAUTH_"))})
    try:
        a, b = app.test_client(), other.test_client()
        codes = [attempt(a if i % 2 else b, "alice@example.com").status_code for i in range(6)]
        assert codes == [401] * 5 + [429]
        assert attempt(a, "alice@example.com", PASSWORD).status_code == 429
    finally:
        dispose(other)


# -- addresses ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("address", "bucket"),
    [
        ("203.0.113.7", "203.0.113.7"),
        ("::ffff:203.0.113.7", "203.0.113.7"),  # IPv4-mapped
        ("::ffff:cb00:7107", "203.0.113.7"),
        ("64:ff9b::203.0.113.7", "203.0.113.7"),  # NAT64 well-known prefix
        ("64:ff9b::cb00:7107", "203.0.113.7"),
        ("2001:db8:1:2::1", "2001:db8:1:2::/64"),
        ("2001:db8:1:2:abcd:ef01:2345:6789", "2001:db8:1:2::/64"),
        ("2001:DB8:1:2::1", "2001:db8:1:2::/64"),
        ("fe80::1%eth0", "fe80::/64"),
        ("", UNKNOWN_ADDRESS),
        (None, UNKNOWN_ADDRESS),
    ],
)
def test_client_buckets(address: str | None, bucket: str) -> None:
    assert client_bucket(address) == bucket


def test_ipv6_addresses_count_per_64(app: Flask, client: t.Any) -> None:
    for i in range(20):
        assert attempt(client, f"user{i}@example.com", ip=f"2001:db8:1:2::{i + 1:x}").status_code == 401
    assert attempt(client, "x@example.com", ip="2001:db8:1:2:ffff::1").status_code == 429
    assert attempt(client, "x@example.com", ip="2001:db8:1:3::1").status_code == 401


def test_mapped_and_nat64_addresses_count_as_their_ipv4_client(app: Flask, client: t.Any, user: t.Any) -> None:
    """Checklist 45: one client reaching the app over IPv4, an IPv4-mapped
    socket and NAT64 is one client, not three with five guesses each."""
    for ip in ("::ffff:203.0.113.7", "::ffff:203.0.113.7", "64:ff9b::cb00:7107", "64:ff9b::203.0.113.7", IP):
        assert attempt(client, "alice@example.com", ip=ip).status_code == 401
    for ip in (IP, "::ffff:203.0.113.7", "64:ff9b::cb00:7107"):
        assert attempt(client, "alice@example.com", PASSWORD, ip=ip).status_code == 429
    assert throttle_rows(app)[counter_key(app, PAIR, "alice@example.com", IP)] == 5


def test_a_request_without_address_is_keyed_unknown_and_logged_once(
    app: Flask, client: t.Any, user: t.Any, caplog: pytest.LogCaptureFixture
) -> None:
    """Checklist 45: a UNIX socket without ProxyFix gives no address; such
    requests share one explicit bucket, and the operator is told once."""
    with caplog.at_level(logging.WARNING, logger="flask_sessionauth"):
        lock_out(client, ip="")
        assert attempt(client, "alice@example.com", PASSWORD, ip="").status_code == 429
    warnings = [r for r in caplog.records if "no client address" in r.getMessage()]
    assert len(warnings) == 1 and "ProxyFix" in warnings[0].getMessage()
    rows = throttle_rows(app)
    assert rows[counter_key(app, ADDRESS, UNKNOWN_ADDRESS)] == 5
    assert rows[counter_key(app, PAIR, "alice@example.com", UNKNOWN_ADDRESS)] == 5
    # A client with an address is another bucket.
    assert attempt(client, "alice@example.com", PASSWORD, ip=OTHER_IP).status_code == 200


# -- re-authentication while signed in -------------------------------------------------


def test_reauthenticate_limited_per_session(app: Flask, client: t.Any, user: t.Any) -> None:
    session_id = login(client)
    assert [reauth(client, "wrong password").status_code for _ in range(6)] == [403] * 5 + [429]
    resp = reauth(client, PASSWORD)
    assert resp.status_code == 429
    assert resp.headers["Retry-After"]
    # Still signed in: a lockout ends no session.
    assert client.get("/me").status_code == 200
    # Counted for this session (and per address): no sign-in counter moved.
    rows = throttle_rows(app)
    assert counter_key(app, SESSION, "alice@example.com", session_id) in rows
    assert {key.split(":")[0] for key in rows} == {SESSION, REAUTH_ADDRESS, NEW_SESSIONS}


def test_a_stolen_cookie_buys_five_guesses_from_any_address(app: Flask, client: t.Any, user: t.Any) -> None:
    login(client)
    codes = [reauth(client, "wrong password", ip=f"198.51.100.{i}").status_code for i in range(6)]
    assert codes == [403] * 5 + [429]


def test_another_sessions_failures_do_not_block_reauthentication(
    app: Flask, client: t.Any, second_client: t.Any, user: t.Any
) -> None:
    login(client)
    login(second_client)
    assert [reauth(second_client, "wrong password").status_code for _ in range(6)] == [403] * 5 + [429]
    assert reauth(client, PASSWORD).status_code == 200
    assert attempt(client, "alice@example.com", PASSWORD).status_code == 200


@pytest.mark.parametrize(
    "app_config",
    [{"SESSIONAUTH_RATE_LIMIT_ACCOUNT": 2, "SESSIONAUTH_RATE_LIMIT_ACCOUNT_TOTAL": 4, "SESSIONAUTH_RATE_LIMIT_IP": 3}],
)
def test_failures_elsewhere_never_block_the_signed_in_owner(app: Flask, user: t.Any, other_user: t.Any) -> None:
    """Checklist 44: with every sign-in limit on the account and on the owner's
    own address used up by someone else, the signed-in owner can still confirm
    the password (sudo), on the page and through the API, and change it."""
    owner = device(app, remote_addr=IP)
    login(owner)
    attacker = device(app)
    lock_out(attacker, ip=IP, failures=2)  # the owner's address (a shared NAT): the pair is locked
    lock_out(attacker, ip=OTHER_IP, failures=2)  # elsewhere: the account total is reached
    assert attempt(attacker, "bob@example.com", ip=IP).status_code == 401  # the address limit too
    for ip in (IP, OTHER_IP, "192.0.2.1"):
        assert attempt(attacker, "alice@example.com", PASSWORD, ip=ip).status_code == 429
    assert reauth(owner, PASSWORD).status_code == 200
    confirm = "/account/confirm?action=revoke_others"
    assert form_post(owner, confirm, {"password": PASSWORD}, page=confirm).status_code == 302
    assert api_post(owner, "revoke-other-sessions", {"password": PASSWORD}).status_code == 200
    change = api_post(owner, "change-password", {"currentPassword": PASSWORD, "newPassword": "a brand new password"})
    assert change.status_code == 200, change.json


def test_change_password_outside_a_session_counts_as_a_sign_in(app: Flask, client: t.Any, user: t.Any) -> None:
    """``change_password`` for a user who is not this request's session (an
    admin tool, a script inside a request) is limited like sign-ins from that
    address: guesses there and through the sign-in form add up."""
    auth = app.extensions["sessionauth"]
    with app.test_request_context(environ_base={"REMOTE_ADDR": IP}):
        u = db.session.get(User, user.id)
        for _ in range(3):
            with pytest.raises(InvalidPassword):
                auth.change_password(u, "wrong password", "new password 123")
    assert [attempt(client, "alice@example.com").status_code for _ in range(3)] == [401, 401, 429]
    with app.test_request_context(environ_base={"REMOTE_ADDR": IP}):
        u = db.session.get(User, user.id)
        with pytest.raises(RateLimited) as info:
            auth.change_password(u, PASSWORD, "new password 123")
        assert 0 < info.value.retry_after <= 900
        # Nothing changed: the old password still verifies.
        assert auth.verify_password(u, PASSWORD)


def test_correct_current_password_clears_the_pair_counter(app: Flask, user: t.Any) -> None:
    auth = app.extensions["sessionauth"]
    with app.test_request_context(environ_base={"REMOTE_ADDR": IP}):
        u = db.session.get(User, user.id)
        for _ in range(4):
            with pytest.raises(InvalidPassword):
                auth.change_password(u, "wrong password", "new password 123")
        auth.change_password(u, PASSWORD, "new password 123")
    rows = throttle_rows(app)
    assert counter_key(app, PAIR, "alice@example.com", IP) not in rows
    assert rows[counter_key(app, ACCOUNT, "alice@example.com")] == 4


# -- surfaces -----------------------------------------------------------------------------


@frozen()
def test_public_api_unknown_and_known_emails_lock_identically(app: Flask, client: t.Any, user: t.Any) -> None:
    known = [api_sign_in(client, "alice@example.com", "wrong password", "198.51.100.1") for _ in range(6)]
    unknown = [api_sign_in(client, "nobody@example.com", "wrong password", "198.51.100.2") for _ in range(6)]
    assert [r.status_code for r in known] == [r.status_code for r in unknown] == [401] * 5 + [429]
    assert [r.json for r in known] == [r.json for r in unknown]
    assert known[-1].headers["Retry-After"] == unknown[-1].headers["Retry-After"] == "900"
    assert known[-1].json["error"]["code"] == "rate_limited"


def test_sign_in_surfaces_share_one_counter(app: Flask, client: t.Any, user: t.Any) -> None:
    """Guesses through the page, the JSON API and any custom route that calls
    ``auth.authenticate`` count against the same (account, address) pair."""
    app.config["WTF_CSRF_ENABLED"] = False

    def page(password: str) -> t.Any:
        data = {"email": "alice@example.com", "password": password}
        return client.post("/account/login", data=data, environ_base={"REMOTE_ADDR": IP})

    assert attempt(client, "alice@example.com").status_code == 401
    assert api_sign_in(client, "alice@example.com", "wrong").status_code == 401
    assert page("wrong").status_code == 401
    assert api_sign_in(client, "alice@example.com", "wrong").status_code == 401
    assert attempt(client, "alice@example.com").status_code == 401
    locked = page(PASSWORD)
    assert locked.status_code == 429
    assert locked.headers["Retry-After"]


def test_calls_outside_a_request_are_not_limited(app: Flask, client: t.Any, user: t.Any) -> None:
    """Scripts and the CLI have no client to limit, and never lock the web app out."""
    auth = app.extensions["sessionauth"]
    with app.app_context():
        for _ in range(10):
            assert auth.authenticate("alice@example.com", "wrong password") is None
        assert auth.authenticate("alice@example.com", PASSWORD) is not None
    assert throttle_rows(app) == {}
    assert attempt(client, "alice@example.com", PASSWORD).status_code == 200


# -- storage of the counters --------------------------------------------------------------


class _PortableDialect:
    name = "other"  # neither PostgreSQL nor SQLite: no INSERT … ON CONFLICT … RETURNING


class _PortableEngine:
    """The app's engine, reporting a dialect without upserts."""

    dialect = _PortableDialect()

    def __init__(self, engine: sa.Engine) -> None:
        self.connect = engine.connect


class _PortableDB:
    def __init__(self, db: t.Any, app: Flask) -> None:
        with app.app_context():
            self.engine = _PortableEngine(db.engine)


def test_portable_increment_path(app: Flask, client: t.Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """Databases without ``ON CONFLICT … RETURNING`` use UPDATE-else-INSERT; the
    limits come out the same."""
    counters = state_of(app).limiter.counters
    monkeypatch.setattr(counters, "db", _PortableDB(db, app))
    codes = [attempt(client, "alice@example.com").status_code for _ in range(6)]
    assert codes == [401] * 5 + [429]
    # Refused attempts are not failures.
    assert throttle_rows(app)[counter_key(app, PAIR, "alice@example.com", IP)] == 5


def test_cleanup_forgets_finished_windows(app: Flask, client: t.Any) -> None:
    limiter = state_of(app).limiter
    with time_machine.travel(T0, tick=False) as traveller:
        attempt(client, "old@example.com")
        traveller.shift(600)
        attempt(client, "new@example.com", ip=OTHER_IP)
        traveller.shift(400)
        with app.app_context():
            assert limiter.cleanup() == 3  # old@'s pair, account and address; new@'s windows are open
    assert set(throttle_rows(app)) == {
        counter_key(app, PAIR, "new@example.com", OTHER_IP),
        counter_key(app, ACCOUNT, "new@example.com"),
        counter_key(app, ADDRESS, OTHER_IP),
    }


def test_cleanup_expired_also_forgets_finished_windows(app: Flask, client: t.Any) -> None:
    with time_machine.travel(T0, tick=False) as traveller:
        attempt(client, "old@example.com")
        assert throttle_rows(app)
        traveller.shift(1000)
        with app.app_context():
            assert app.extensions["sessionauth"].cleanup_expired() == 0  # no session rows to delete
    assert throttle_rows(app) == {}


def redis_count(app: Flask, redis_client: t.Any, name: str) -> int:
    return int(redis_client.get(state_of(app).limiter.counters.prefix + name) or 0)


@pytest.mark.storage(*REDIS_MODES)
def test_redis_counters(app: Flask, client: t.Any, user: t.Any, redis_client: t.Any) -> None:
    codes = [attempt(client, "alice@example.com").status_code for _ in range(6)]
    assert codes == [401] * 5 + [429]
    resp = attempt(client, "alice@example.com", PASSWORD)
    assert resp.status_code == 429
    assert 890 <= int(resp.headers["Retry-After"]) <= 900
    pair = counter_key(app, PAIR, "alice@example.com", IP)
    assert redis_count(app, redis_client, pair) == 5  # failures only: refused attempts are not counted
    assert 0 < redis_client.ttl(state_of(app).limiter.counters.prefix + pair) <= 900
    # Counted in Redis, not in the database.
    assert throttle_rows(app) == {}
    # A second app (another worker) sees the same counters.
    other = create_app(dict(app.config))
    try:
        assert attempt(other.test_client(), "alice@example.com", PASSWORD).status_code == 429
    finally:
        dispose(other)


@pytest.mark.storage(*REDIS_MODES)
def test_redis_success_releases(app: Flask, client: t.Any, user: t.Any, redis_client: t.Any) -> None:
    for _ in range(4):
        attempt(client, "alice@example.com")
    assert attempt(client, "alice@example.com", PASSWORD).status_code == 200
    assert redis_count(app, redis_client, counter_key(app, PAIR, "alice@example.com", IP)) == 0
    assert redis_count(app, redis_client, counter_key(app, ADDRESS, IP)) == 4
    assert redis_count(app, redis_client, counter_key(app, ACCOUNT, "alice@example.com")) == 4


@pytest.mark.parametrize(
    "app_config",
    [
        {"SESSIONAUTH_REDIS_URL": "redis://127.0.0.1:1/0", "SESSIONAUTH_REDIS_FALLBACK": "database"},
        {"SESSIONAUTH_REDIS_URL": "redis://127.0.0.1:1/0", "SESSIONAUTH_REDIS_FALLBACK": "fail"},
    ],
    ids=["fallback-database", "fallback-fail"],
)
def test_redis_down(app: Flask, client: t.Any) -> None:
    """Unreachable Redis: counters fall back to the database, or the check fails closed."""
    codes = [attempt(client, "alice@example.com").status_code for _ in range(6)]
    if app.config["SESSIONAUTH_REDIS_FALLBACK"] == "database":
        assert codes == [401] * 5 + [429]
        # Refused attempts are not failures.
        assert throttle_rows(app)[counter_key(app, PAIR, "alice@example.com", IP)] == 5
    else:
        assert codes == [503] * 6
        assert throttle_rows(app) == {}
