"""Issue 10, item 8: per-address limits must follow the real client.

IPv4-mapped IPv6 (``::ffff:a.b.c.d``, what a dual-stack listener reports for
IPv4 clients) and NAT64 (``64:ff9b::a.b.c.d``) addresses embed one IPv4 client
each; counting them per /64 merges every IPv4 client into one bucket. An
empty ``remote_addr`` (a UNIX socket) must still be limited, with one warning.
"""

from __future__ import annotations

import logging
import re
import typing as t

import pytest

from tests.attack_support import all_logs
from tests.attack_support import build_app
from tests.attack_support import dispose
from tests.attack_support import sqlite_url
from tests.helpers import device

IP_LIMIT = 20  # SESSIONAUTH_RATE_LIMIT_IP default


@pytest.fixture
def app(tmp_path: t.Any) -> t.Iterator[t.Any]:
    # Plain-http test client: keep item 20's "Secure cookie over http" detection
    # (whose warning may mention the address) out of the warning count below.
    app = build_app(sqlite_url(tmp_path), SESSIONAUTH_COOKIE_SECURE=False)
    yield app
    dispose(app)


_counter = iter(range(10**9))


def wrong_sign_in(app: t.Any, address: str) -> int:
    """One failed sign-in from ``address`` for a never-seen email (so only the
    per-address counter can ever refuse it)."""
    c = device(app, remote_addr=address)
    resp = c.post("/test/login", data={"email": f"nobody{next(_counter)}@example.com", "password": "wrong"})
    return int(resp.status_code)


def exhaust(app: t.Any, address: str) -> None:
    statuses = [wrong_sign_in(app, address) for _ in range(IP_LIMIT)]
    assert statuses == [401] * IP_LIMIT, statuses
    assert wrong_sign_in(app, address) == 429  # this client is now limited


@pytest.mark.parametrize(
    ("guesser", "bystander", "same_client"),
    [
        ("::ffff:1.2.3.4", "::ffff:5.6.7.8", "1.2.3.4"),
        ("::ffff:1.2.3.4", "5.6.7.8", "1.2.3.4"),
        ("64:ff9b::1.2.3.4", "64:ff9b::5.6.7.8", None),
        ("64:ff9b::102:304", "64:ff9b::506:708", None),
    ],
    ids=["mapped-vs-mapped", "mapped-vs-plain", "nat64-dotted", "nat64-hex"],
)
def test_embedded_ipv4_clients_have_their_own_buckets(
    app: t.Any, guesser: str, bystander: str, same_client: str | None
) -> None:
    exhaust(app, guesser)
    status = wrong_sign_in(app, bystander)
    assert status == 401, f"{IP_LIMIT} failures from {guesser} also limited {bystander} ({status})"
    if same_client is not None:
        # ...and the mapped form is the same client as the plain IPv4 address.
        assert wrong_sign_in(app, same_client) == 429, f"{guesser} and {same_client} should share one bucket"


def test_control_native_ipv6_still_counts_per_64(app: t.Any) -> None:
    """Passes today: two hosts of one /64 are one bucket, another /64 is not."""
    exhaust(app, "2001:db8:1:2::1")
    assert wrong_sign_in(app, "2001:db8:1:2::ffff") == 429
    assert wrong_sign_in(app, "2001:db8:1:3::1") == 401


def address_warnings(records: t.Any) -> list[str]:
    pattern = re.compile(r"remote[_ ]?addr|client address|\baddress\b|\bIP\b|UNIX socket", re.IGNORECASE)
    return [m for m in records.messages(logging.WARNING) if pattern.search(m)]


def test_empty_remote_addr_is_still_limited_and_warned_about_once(app: t.Any) -> None:
    with all_logs() as records:
        statuses = [wrong_sign_in(app, "") for _ in range(IP_LIMIT + 1)]
        more = wrong_sign_in(app, "")
    assert 429 in statuses + [more], (
        f"{IP_LIMIT + 2} failed sign-ins without a client address were never limited: {statuses + [more]}"
    )
    assert statuses[:IP_LIMIT] == [401] * IP_LIMIT
    warnings = address_warnings(records)
    assert len(warnings) == 1, f"expected one warning about the missing client address, got {warnings}"


# -- issue 15, item 4: addresses an attacker could multiply ---------------------------


def test_a_port_is_not_a_new_bucket(app: t.Any) -> None:
    statuses = [wrong_sign_in(app, f"203.0.113.9:{40000 + i}") for i in range(IP_LIMIT + 1)]
    assert statuses == [401] * IP_LIMIT + [429]
    assert wrong_sign_in(app, "203.0.113.9") == 429


def test_brackets_and_ports_around_ipv6_are_stripped(app: t.Any) -> None:
    forms = ["[2001:db8:5:6::1]", "[2001:db8:5:6::2]:443", "2001:db8:5:6::3", "[2001:db8:5:6::4%eth0]:8080"]
    statuses = [wrong_sign_in(app, forms[i % len(forms)]) for i in range(IP_LIMIT + 1)]
    assert statuses == [401] * IP_LIMIT + [429]


def test_unparsable_addresses_share_one_bucket_logged_once(app: t.Any) -> None:
    garbage = ["garbage-{}", "1.2.3.{}.4", "[::1", "203.0.113.{}:port", "unknown{}", "999.1.1.{}"]
    with all_logs() as records:
        statuses = [wrong_sign_in(app, garbage[i % len(garbage)].format(i)) for i in range(IP_LIMIT + 1)]
    assert statuses == [401] * IP_LIMIT + [429]
    warnings = [w for w in address_warnings(records) if "parse" in w]
    assert len(warnings) == 1, warnings


@pytest.mark.parametrize(
    ("written", "client"),
    [("::1.2.3.4", "1.2.3.4"), ("64:ff9b:1::102:304", "1.2.3.4"), ("64:ff9b:1:ab::1.2.3.4", "1.2.3.4")],
    ids=["ipv4-compatible", "local-use-nat64", "local-use-nat64-subnet"],
)
def test_more_embedded_ipv4_forms_count_as_their_client(app: t.Any, written: str, client: str) -> None:
    exhaust(app, written)
    assert wrong_sign_in(app, client) == 429
    other = written.replace("102:304", "506:708").replace("1.2.3.4", "5.6.7.8")
    assert wrong_sign_in(app, other) == 401  # another IPv4 client behind the same translator


def test_one_48_is_one_bucket_beyond_its_64s(app: t.Any) -> None:
    """21 /64s of one /48: each /64 is far below its limit, the /48 is not."""
    statuses = [wrong_sign_in(app, f"2001:db8:7:{i:x}::1") for i in range(21) for _ in range(3)]
    assert statuses == [401] * 60 + [429] * 3
    assert wrong_sign_in(app, "2001:db8:8::1") == 401  # the next /48 is another network
