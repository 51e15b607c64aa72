"""Issue 10, items 1 and 2: what one app writes must never sign anyone in to another.

Two apps with different databases (and, for Redis, different ``SECRET_KEY``s)
share one real Redis database with the default ``SESSIONAUTH_REDIS_PREFIX``, or
share a ``SECRET_KEY`` (current or fallback) with the cookie cache on. User 1
of app A must not become user 1 of app B, and a session that has no row in
B's database must not authenticate there.
"""

from __future__ import annotations

import typing as t

import pytest

from tests.attack_support import app_on
from tests.attack_support import cookie_header
from tests.attack_support import private_redis_space
from tests.attack_support import raw_get
from tests.attack_support import sqlite_url
from tests.attack_support import user_id
from tests.attack_support import whoami
from tests.helpers import device
from tests.helpers import login

pytestmark = pytest.mark.slow


@pytest.fixture
def redis_pair(tmp_path: t.Any) -> t.Iterator[tuple[t.Any, t.Any]]:
    """App A (alice is user 1) and app B (bob is user 1): own databases and
    keys, one Redis database, one prefix (the test's own)."""
    with private_redis_space() as space:
        with app_on(
            sqlite_url(tmp_path, "a.db"),
            ["alice@example.com"],
            SECRET_KEY="key-of-app-a",
            **space.config,
        ) as a:
            with app_on(
                sqlite_url(tmp_path, "b.db"),
                ["bob@example.com"],
                SECRET_KEY="key-of-app-b",
                **space.config,
            ) as b:
                assert user_id(a, "alice@example.com") == user_id(b, "bob@example.com") == 1
                yield a, b


def test_redis_entry_written_by_one_app_is_not_accepted_by_another(redis_pair: tuple[t.Any, t.Any]) -> None:
    """Item 1: alice's cookie for app A, presented to app B, is anonymous there,
    sudo-protected views included."""
    a, b = redis_pair
    alice = device(a)
    login(alice, "alice@example.com")
    cookie = cookie_header(a, alice)
    assert raw_get(a, "/whoami", cookie).json["user_id"] == 1  # control: valid on A

    assert raw_get(b, "/whoami", cookie).json["user_id"] is None, "app B accepted app A's session (Redis entry)"
    me = raw_get(b, "/me", cookie)
    assert me.status_code in (302, 401), f"app B served /me as {me.get_data(as_text=True)!r}"
    sudo = raw_get(b, "/sudo", cookie)
    assert sudo.get_data(as_text=True) != "sudo ok", "app B granted sudo mode to app A's session"


def test_signing_out_everywhere_in_one_app_leaves_the_other_apps_sessions(redis_pair: tuple[t.Any, t.Any]) -> None:
    """Item 1 (user index and tombstones): bob (user 1 of B) signing out
    everywhere must not end alice's session (user 1 of A)."""
    a, b = redis_pair
    alice = device(a)
    login(alice, "alice@example.com")
    bob = device(b)
    login(bob, "bob@example.com")
    assert whoami(alice) == 1

    resp = bob.post(
        "/api/auth/revoke-sessions",
        headers={"Origin": "http://localhost", "X-CSRFToken": bob.get("/api/auth/csrf-token").json["csrfToken"]},
    )
    assert resp.status_code == 200, resp.get_data(as_text=True)
    assert whoami(bob) is None  # control: bob is out of B

    assert whoami(alice) == 1, "app B's revoke-all tombstoned app A's session"


@pytest.fixture
def cache_apps(tmp_path: t.Any) -> t.Iterator[t.Callable[..., tuple[t.Any, t.Any]]]:
    """Two apps with the cookie cache on and no Redis; app A has alice as
    user 7, app B has only bob (user 1), so user 7 has no row in B."""
    stack: list[t.Any] = []

    def make(key_a: str, key_b: str, fallbacks_b: list[str] | None = None) -> tuple[t.Any, t.Any]:
        a_cm = app_on(
            sqlite_url(tmp_path, "a.db"),
            [f"filler{i}@example.com" for i in range(1, 7)] + ["alice@example.com"],
            SECRET_KEY=key_a,
            SESSIONAUTH_COOKIE_CACHE_MAX_AGE=300,
        )
        b_cm = app_on(
            sqlite_url(tmp_path, "b.db"),
            ["bob@example.com"],
            SECRET_KEY=key_b,
            SECRET_KEY_FALLBACKS=fallbacks_b or [],
            SESSIONAUTH_COOKIE_CACHE_MAX_AGE=300,
        )
        a = a_cm.__enter__()
        stack.append(a_cm)
        b = b_cm.__enter__()
        stack.append(b_cm)
        assert user_id(a, "alice@example.com") == 7
        return a, b

    yield make
    for cm in reversed(stack):
        cm.__exit__(None, None, None)


def _cache_cookie_from(a: t.Any) -> str:
    alice = device(a)
    login(alice, "alice@example.com")
    alice.get("/whoami")  # a storage-verified request: the cache cookie is (re)issued
    cookie = cookie_header(a, alice)
    assert "_cache=" in cookie, cookie
    assert raw_get(a, "/whoami", cookie).json["user_id"] == 7  # control: valid on A
    return cookie


def test_cache_cookie_minted_with_the_same_secret_key_is_refused_by_another_app(
    cache_apps: t.Callable[..., tuple[t.Any, t.Any]],
) -> None:
    """Item 2: anyone holding B's SECRET_KEY runs the library against their own
    database (here: app A) and mints a cache cookie for user 7, who has no
    row in B. B must not treat it as a signed-in session."""
    a, b = cache_apps("one-shared-key", "one-shared-key")
    cookie = _cache_cookie_from(a)
    assert raw_get(b, "/whoami", cookie).json["user_id"] is None, (
        "app B accepted a cache cookie minted by another app for a user with no database row"
    )


def test_cache_cookie_signed_with_a_fallback_key_is_refused_by_another_app(
    cache_apps: t.Callable[..., tuple[t.Any, t.Any]],
) -> None:
    """Item 2: a retired key left in SECRET_KEY_FALLBACKS must not let another
    app (or whoever kept the old key) mint sessions for B."""
    a, b = cache_apps("retired-key", "current-key", ["retired-key"])
    cookie = _cache_cookie_from(a)
    assert raw_get(b, "/whoami", cookie).json["user_id"] is None, (
        "app B accepted a cache cookie signed with its fallback key by another app"
    )
