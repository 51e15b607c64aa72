"""Issue 10, items 12 and 13: no reversible identifiers at rest, no credentials
handed to signal receivers or logs.

12. The throttle counters (``sessionauth_throttle`` table, or Redis) must not
    be keyed by unsalted SHA-256 of the email or the address: a dump would
    give them back by brute force over a list of emails / the IPv4 space.
    The key must depend on a server secret.
13. ``session_created`` receivers must never see the live token, and no log
    record written during a sign-in contains the cookie value or its secret.
"""

from __future__ import annotations

import hashlib
import typing as t

import pytest
import sqlalchemy as sa

from tests.attack_support import all_logs
from tests.attack_support import api_post
from tests.attack_support import app_on
from tests.attack_support import cookie_value
from tests.attack_support import page_sign_in
from tests.attack_support import private_redis_space
from tests.attack_support import session_cookie_name
from tests.attack_support import sqlite_url
from tests.conftest import db
from tests.helpers import PASSWORD
from tests.helpers import device

EMAIL = "alice@example.com"


def sha256(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


def fail_sign_ins(app: t.Any) -> None:
    for address in ("203.0.113.9", "2001:db8:5:6::42"):
        c = device(app, remote_addr=address)
        assert c.post("/test/login", data={"email": " Alice@Example.com ", "password": "wrong"}).status_code == 401


def sql_keys(app: t.Any) -> set[str]:
    with app.app_context():
        return set(db.session.execute(sa.text("SELECT key FROM sessionauth_throttle")).scalars())


FORBIDDEN = {
    "sha256(email)": sha256(EMAIL),
    "sha256(ipv4)": sha256("203.0.113.9"),
    "sha256(ipv6 /64)": sha256("2001:db8:5:6::/64"),
    "sha256(ipv6)": sha256("2001:db8:5:6::42"),
    "email": EMAIL,
    "ipv4": "203.0.113.9",
    "ipv6 /64": "2001:db8:5:6::/64",
}


def reversible(keys: t.Iterable[str]) -> list[str]:
    return sorted({f"{label} in {key!r}" for key in keys for label, value in FORBIDDEN.items() if value in key})


@pytest.mark.parametrize("limiter_store", ["database", "redis"])
def test_throttle_keys_are_not_plain_hashes_of_email_or_address(tmp_path: t.Any, limiter_store: str) -> None:
    with private_redis_space() as space:
        config = space.config if limiter_store == "redis" else {}
        with app_on(sqlite_url(tmp_path, "a.db"), [EMAIL], SECRET_KEY="server key one", **config) as a:
            fail_sign_ins(a)
            keys_a = sql_keys(a) if limiter_store == "database" else {k.decode() for k in space.own_keys()}
        space.delete_own_keys()
        with app_on(sqlite_url(tmp_path, "b.db"), [EMAIL], SECRET_KEY="server key two", **config) as b:
            fail_sign_ins(b)
            keys_b = sql_keys(b) if limiter_store == "database" else {k.decode() for k in space.own_keys()}
    assert len(keys_a) >= 3, keys_a  # the account and both addresses were counted
    found = reversible(keys_a)
    assert not found, "throttle keys are reversible without any server secret: " + "; ".join(found)
    assert not keys_a & keys_b, f"two apps with different SECRET_KEYs derive the same throttle keys: {keys_a & keys_b}"


# -- item 13 ---------------------------------------------------------------------------------


@pytest.fixture
def app(tmp_path: t.Any) -> t.Iterator[t.Any]:
    with app_on(sqlite_url(tmp_path), [EMAIL]) as app:
        yield app


def _login_test_route(c: t.Any) -> t.Any:
    return c.post("/test/login", data={"email": EMAIL, "password": PASSWORD})


def _login_page(c: t.Any) -> t.Any:
    return page_sign_in(c)


def _login_api(c: t.Any) -> t.Any:
    return api_post(c, "sign-in/email", {"email": EMAIL, "password": PASSWORD})


@pytest.mark.parametrize(
    "sign_in", [_login_test_route, _login_page, _login_api], ids=["python-api", "page", "json-api"]
)
def test_session_created_receivers_never_see_the_token(app: t.Any, sign_in: t.Callable[[t.Any], t.Any]) -> None:
    from flask_sessionauth import session_created

    received: list[dict[str, t.Any]] = []

    def receiver(sender: t.Any, **kwargs: t.Any) -> None:
        session = kwargs.get("session")
        received.append(
            {
                "token": getattr(session, "token", None),
                "attrs": dict(vars(session)) if session is not None and hasattr(session, "__dict__") else {},
                "kwargs": kwargs,
            }
        )

    c = device(app)
    with session_created.connected_to(receiver, app):
        resp = sign_in(c)
    assert resp.status_code in (200, 302), resp.get_data(as_text=True)
    cookie = cookie_value(c, session_cookie_name(app))
    assert cookie and "." in cookie
    secret = cookie.split(".", 1)[1]
    assert len(received) == 1
    got = received[0]
    assert got["token"] is None, f"session_created receiver got the live token on .token ({got['token'][:12]}...)"
    leaked = [k for k, v in {**got["attrs"], **got["kwargs"]}.items() if isinstance(v, str) and secret in v]
    assert not leaked, f"the cookie secret reached the receiver via {leaked}"


def test_no_log_record_during_a_sign_in_contains_the_cookie(app: t.Any) -> None:
    """Every logger at DEBUG (SQLAlchemy's statement log with its parameters
    included) while signing in through each entry point and using the session
    once. Passes today; kept so a fix that logs storage errors (item 17) never
    logs a token."""
    clients = []
    with all_logs(verbose=["sqlalchemy.engine", "werkzeug", "flask_sessionauth"]) as records:
        for sign_in in (_login_test_route, _login_page, _login_api):
            c = device(app)
            assert sign_in(c).status_code in (200, 302)
            c.get("/me")
            clients.append(c)
    secrets = [cookie_value(c, session_cookie_name(app)) for c in clients]
    assert all(secrets)
    texts = records.texts()
    assert texts, "nothing was logged at all: the capture is broken"
    # The capture sees statement parameters: the public session ids are there.
    assert any(str(secrets[0]).split(".", 1)[0] in line for line in texts), "the capture misses SQL parameters"
    for value in secrets:
        assert value is not None
        secret = value.split(".", 1)[1]
        hits = [line[:200] for line in texts if secret in line]
        assert not hits, f"a log record contains a session cookie's secret: {hits}"
