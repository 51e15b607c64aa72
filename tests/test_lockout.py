"""Issue 10, item 7: nobody can lock an account they do not control.

Five wrong passwords from the attacker's address (the default
``SESSIONAUTH_RATE_LIMIT_ACCOUNT``) must not keep the owner, on their own
client, from confirming their password (sudo), changing it, or signing in.
The attacker's own client stays limited. A 429 says how long to wait in words.

Only the user-visible property is asserted: whether the fix keys limits by
(account, client) pair, by device cookie or with back-off is left open.
"""

from __future__ import annotations

import datetime as dt
import math
import re
import typing as t

import pytest
import time_machine

from tests.attack_support import NEW_PASSWORD
from tests.attack_support import build_app
from tests.attack_support import csrf_from
from tests.attack_support import dispose
from tests.attack_support import page_post
from tests.attack_support import page_sign_in
from tests.attack_support import private_redis_space
from tests.attack_support import same_origin
from tests.attack_support import sqlite_url
from tests.attack_support import text
from tests.attack_support import user_id
from tests.attack_support import whoami
from tests.helpers import PASSWORD
from tests.helpers import UA_FIREFOX
from tests.helpers import device

START = dt.datetime(2030, 1, 1, 12, 0, tzinfo=dt.timezone.utc)
OWNER_IP = "203.0.113.7"
ATTACKER_IP = "198.51.100.9"
EMAIL = "alice@example.com"


@pytest.fixture(params=["database", "redis"])
def app(request: pytest.FixtureRequest, tmp_path: t.Any) -> t.Iterator[t.Any]:
    config: dict[str, t.Any] = {}
    if request.param == "redis":
        stack = private_redis_space()
        config.update(stack.__enter__().config)
    app = build_app(sqlite_url(tmp_path), [EMAIL], **config)
    yield app
    dispose(app)
    if request.param == "redis":
        stack.__exit__(None, None, None)


@pytest.fixture
def clock() -> t.Iterator[t.Any]:
    with time_machine.travel(START, tick=False) as traveller:
        yield traveller


def owner(app: t.Any) -> t.Any:
    return device(app, remote_addr=OWNER_IP)


def attacker(app: t.Any) -> t.Any:
    return device(app, UA_FIREFOX, remote_addr=ATTACKER_IP)


def guess_five_times(app: t.Any) -> t.Any:
    """The attacker's five wrong passwords through the sign-in page; returns its client."""
    c = attacker(app)
    statuses = [page_sign_in(c, EMAIL, f"wrong guess {i}").status_code for i in range(5)]
    assert statuses == [401] * 5, statuses
    return c


def test_failures_from_another_client_do_not_block_the_owners_sign_in(app: t.Any, clock: t.Any) -> None:
    mine = owner(app)
    assert page_sign_in(mine).status_code == 302  # the owner's own client, known to the server
    page_post(mine, "/account/logout")
    clock.shift(60)

    evil = guess_five_times(app)
    assert page_sign_in(evil, EMAIL, "sixth guess").status_code == 429  # the attacker stays limited

    resp = page_sign_in(mine)
    assert resp.status_code == 302, f"the owner's correct password from their own client got {resp.status_code}"
    assert whoami(mine) == user_id(app, EMAIL)


def test_failures_from_another_client_do_not_block_sudo_confirm(app: t.Any, clock: t.Any) -> None:
    mine = owner(app)
    assert page_sign_in(mine).status_code == 302
    clock.shift(2 * 3600)  # past SESSIONAUTH_FRESH_AGE: sudo needs the password
    assert mine.get("/sudo").status_code == 302

    guess_five_times(app)
    resp = page_post(mine, "/account/confirm", {"password": PASSWORD}, page="/account/confirm")
    assert resp.status_code == 302, f"the signed-in owner's sudo confirm got {resp.status_code}"
    assert mine.get("/sudo").get_data(as_text=True) == "sudo ok"


def test_failures_from_another_client_do_not_block_a_password_change(app: t.Any, clock: t.Any) -> None:
    mine = owner(app)
    assert page_sign_in(mine).status_code == 302
    clock.shift(60)

    guess_five_times(app)
    resp = page_post(
        mine,
        "/account/password",
        {"current_password": PASSWORD, "new_password": NEW_PASSWORD, "confirm_password": NEW_PASSWORD},
        page="/account/password",
    )
    assert resp.status_code == 302, f"the signed-in owner's password change got {resp.status_code}"
    assert page_sign_in(owner(app), EMAIL, NEW_PASSWORD).status_code == 302


def test_failures_from_another_client_do_not_block_the_api_sudo_and_password_change(app: t.Any, clock: t.Any) -> None:
    mine = owner(app)
    assert page_sign_in(mine).status_code == 302
    clock.shift(2 * 3600)
    guess_five_times(app)

    headers = {"Origin": "http://localhost", "X-CSRFToken": mine.get("/api/auth/csrf-token").json["csrfToken"]}
    resp = mine.post("/api/auth/revoke-other-sessions", json={"password": PASSWORD}, headers=headers)
    assert resp.status_code == 200, f"API sudo confirm: {resp.status_code} {resp.get_data(as_text=True)}"
    headers["X-CSRFToken"] = mine.get("/api/auth/csrf-token").json["csrfToken"]
    resp = mine.post(
        "/api/auth/change-password", json={"currentPassword": PASSWORD, "newPassword": NEW_PASSWORD}, headers=headers
    )
    assert resp.status_code == 200, f"API change-password: {resp.status_code} {resp.get_data(as_text=True)}"


# -- the wait, in words -------------------------------------------------------------------------


def assert_wait_in_words(body: str, retry_after: int) -> None:
    match = re.search(r"try again in (\d+) (minutes?|seconds?)", body, re.IGNORECASE)
    assert match, f"the 429 does not say how long to wait (Retry-After {retry_after}): {body!r}"
    n, unit = int(match.group(1)), match.group(2).lower()
    if unit.startswith("minute"):
        assert n in (retry_after // 60, math.ceil(retry_after / 60)), (n, retry_after)
    else:
        assert n == retry_after


def visible_text(html: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html))


@pytest.mark.parametrize("where", ["sign-in page", "confirm page", "password page", "api"])
def test_too_many_attempts_says_how_long_to_wait(app: t.Any, clock: t.Any, where: str) -> None:
    """Five failures at 12:00, the next try at 12:01: "try again in 14 minutes"
    (or whatever the Retry-After header says, in words)."""
    if where == "sign-in page":
        c = attacker(app)
        for i in range(5):
            page_sign_in(c, EMAIL, f"wrong {i}")
        clock.shift(60)
        resp = page_sign_in(c, EMAIL, "wrong again")
        body = visible_text(text(resp))
    elif where == "api":
        c = attacker(app)
        for i in range(6):
            if i == 5:
                clock.shift(60)
            headers = {"Origin": "http://localhost", "X-CSRFToken": c.get("/api/auth/csrf-token").json["csrfToken"]}
            resp = c.post("/api/auth/sign-in/email", json={"email": EMAIL, "password": f"wrong {i}"}, headers=headers)
        body = resp.json["error"]["message"]
    else:
        c = owner(app)
        assert page_sign_in(c).status_code == 302
        clock.shift(2 * 3600)
        path = "/account/confirm" if where == "confirm page" else "/account/password"
        for i in range(6):
            if i == 5:
                clock.shift(60)
            data = (
                {"password": f"wrong {i}"}
                if where == "confirm page"
                else {"current_password": f"wrong {i}", "new_password": NEW_PASSWORD, "confirm_password": NEW_PASSWORD}
            )
            resp = c.post(path, data={**data, "csrf_token": csrf_from(text(c.get(path)))}, headers=same_origin())
        body = visible_text(text(resp))
    assert resp.status_code == 429, (where, resp.status_code)
    assert_wait_in_words(body, int(resp.headers["Retry-After"]))
