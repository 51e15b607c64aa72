"""Issue 15, item 4: nobody can lock the owner out of signing in.

A successful sign-in leaves a known-device cookie (OWASP "device cookies"):
a browser presenting one for the account is judged by its own failure count,
never by the per-account or per-address counters strangers can fill. IPv6
guesses are also counted per /48, so one network cannot reach the
per-account limit by spreading over its /64s.
"""

from __future__ import annotations

import datetime as dt
import typing as t

import pytest
import time_machine

from tests.helpers import PASSWORD
from tests.helpers import UA_FIREFOX
from tests.helpers import device
from tests.helpers import device_cookie_name
from tests.helpers import forget_device
from tests.helpers import login
from tests.helpers import set_cookies

pytestmark = pytest.mark.storage("sqlite", "postgres", "redis")

T0 = dt.datetime(2030, 1, 1, 12, 0, tzinfo=dt.timezone.utc)
EMAIL = "alice@example.com"
OWNER_IP = "192.0.2.10"
DEVICE_LIMIT = 10  # SESSIONAUTH_RATE_LIMIT_DEVICE default


@pytest.fixture(autouse=True)
def clock() -> t.Iterator[t.Any]:
    """Every request of a test in one rate-limit window."""
    with time_machine.travel(T0, tick=False) as traveller:
        yield traveller


def sign_in(client: t.Any, password: str, ip: str, email: str = EMAIL) -> int:
    resp = client.post("/test/login", data={"email": email, "password": password}, environ_base={"REMOTE_ADDR": ip})
    return int(resp.status_code)


def known_owner(app: t.Any) -> t.Any:
    """The owner's browser after an earlier successful sign-in."""
    mine = device(app, remote_addr=OWNER_IP)
    login(mine)
    mine.post("/test/logout")
    return mine


def guess(app: t.Any, addresses: list[str], times: int = 5) -> list[int]:
    attacker = device(app, UA_FIREFOX)
    return [sign_in(attacker, f"guess {n}", ip) for ip in addresses for n in range(times)]


def test_one_ipv6_48_cannot_lock_the_account(app: t.Any, user: t.Any) -> None:
    """The reported attack: 5 guesses from each of 21 /64s of one /48."""
    statuses = guess(app, [f"2001:db8:1:{i:x}::1" for i in range(21)])
    assert statuses.count(401) <= 60, f"{statuses.count(401)} guesses answered from one /48"
    # The account-wide limit (100) was never reached: even a new browser gets in.
    assert sign_in(device(app), PASSWORD, "198.51.100.20") == 200


def test_a_known_device_signs_in_while_the_account_limit_is_full(app: t.Any, user: t.Any) -> None:
    mine = known_owner(app)
    statuses = guess(app, [f"2001:db8:{i:x}::1" for i in range(21)])  # 21 networks: 105 guesses
    assert statuses[-5:] == [429] * 5, statuses  # the account-wide limit holds against strangers...
    assert sign_in(device(app), PASSWORD, OWNER_IP) == 429  # ...and browsers it does not know
    assert sign_in(mine, PASSWORD, "198.51.100.20") == 200  # the owner's browser, from anywhere


def test_a_known_device_is_not_refused_by_its_address(app: t.Any, user: t.Any) -> None:
    """A stranger behind the owner's NAT fills the per-address and per-pair limits."""
    mine = known_owner(app)
    stranger = device(app, UA_FIREFOX, OWNER_IP)
    statuses = [sign_in(stranger, "guess", OWNER_IP, f"x{i}@example.com") for i in range(20)]
    statuses += [sign_in(stranger, "guess", OWNER_IP) for _ in range(5)]
    assert statuses[-1] == 429
    assert sign_in(mine, PASSWORD, OWNER_IP) == 200


def test_device_cookie_attributes(app: t.Any, user: t.Any) -> None:
    c = device(app)
    resp = c.post("/test/login", data={"email": EMAIL, "password": PASSWORD})
    cookie = set_cookies(resp)[device_cookie_name(app)]
    assert device_cookie_name(app).startswith("__Host-")
    for attribute in ("Secure", "HttpOnly", "Path=/", "SameSite=Lax", "Max-Age=31536000"):
        assert attribute in cookie, cookie
    assert "Domain" not in cookie
    value = cookie.split(";", 1)[0].split("=", 1)[1]
    assert "alice" not in value.lower() and "example" not in value.lower()
    # A wrong password sets no device cookie.
    assert device_cookie_name(app) not in set_cookies(
        device(app).post("/test/login", data={"email": EMAIL, "password": "wrong"})
    )


def test_a_known_device_has_its_own_limit(app: t.Any, user: t.Any) -> None:
    """A stolen device cookie buys DEVICE_LIMIT guesses, then it is not trusted."""
    mine = known_owner(app)
    statuses = [sign_in(mine, "guess", OWNER_IP) for _ in range(DEVICE_LIMIT + 1)]
    assert statuses == [401] * DEVICE_LIMIT + [429]
    assert sign_in(mine, PASSWORD, OWNER_IP) == 429  # the ordinary limits apply again


def test_only_the_accounts_own_unaltered_cookie_is_trusted(app: t.Any, user: t.Any, other_user: t.Any) -> None:
    mine = known_owner(app)
    bobs = device(app, UA_FIREFOX, "198.51.100.9")
    login(bobs, "bob@example.com")  # a device cookie, for bob
    guess(app, [f"2001:db8:{i:x}::1" for i in range(21)])  # alice's account-wide limit is full
    name = device_cookie_name(app)
    value = mine.get_cookie(name).value
    assert sign_in(bobs, PASSWORD, "198.51.100.9") == 429  # bob's cookie says nothing about alice
    forger = device(app)
    for forged in (value[:-1] + ("A" if value[-1] != "A" else "B"), value + "==", value.upper(), "x.y", ""):
        forger.set_cookie(name, forged)
        assert sign_in(forger, PASSWORD, OWNER_IP) == 429, forged
    assert sign_in(mine, PASSWORD, OWNER_IP) == 200


def test_signing_out_keeps_the_device_cookie(app: t.Any, user: t.Any) -> None:
    mine = known_owner(app)
    assert mine.get_cookie(device_cookie_name(app)) is not None
    forget_device(mine, app)
    assert mine.get_cookie(device_cookie_name(app)) is None


@pytest.mark.parametrize("app_config", [{"SESSIONAUTH_DEVICE_COOKIE_MAX_AGE": 0}])
def test_device_cookies_can_be_turned_off(app: t.Any, user: t.Any) -> None:
    resp = device(app).post("/test/login", data={"email": EMAIL, "password": PASSWORD})
    assert resp.status_code == 200
    assert device_cookie_name(app) not in set_cookies(resp)


def test_no_device_cookie_without_remember_me(app: t.Any, user: t.Any) -> None:
    """ "Remember me" off leaves nothing lasting in the browser."""
    resp = device(app).post("/test/login", data={"email": EMAIL, "password": PASSWORD, "remember": "0"})
    assert resp.status_code == 200
    assert device_cookie_name(app) not in set_cookies(resp)
