"""Issue 15, item 4: behind a reverse proxy, every client is itself.

``SESSIONAUTH_TRUSTED_PROXIES`` (a hop count, on Werkzeug's ``ProxyFix``, or
the proxies' networks) says whose ``X-Forwarded-For`` to believe. Unset, the
header is ignored, and a log line says so once: otherwise a new user behind
a proxy finds every client in the proxy's one rate-limit bucket.
"""

from __future__ import annotations

import logging
import typing as t

import pytest
from werkzeug.middleware.proxy_fix import ProxyFix

from flask_sessionauth.glue import forwarded
from tests.conftest import create_app
from tests.helpers import PASSWORD
from tests.helpers import device
from tests.helpers import session_row

PROXY = "10.0.0.2"
IP_LIMIT = 20  # SESSIONAUTH_RATE_LIMIT_IP


def through_proxy(app: t.Any, client_ip: str, email: str, password: str = "wrong", **headers: str) -> int:
    """A sign-in from ``client_ip`` as the proxy forwards it."""
    c = device(app, remote_addr=PROXY)
    resp = c.post(
        "/test/login",
        data={"email": email, "password": password},
        headers={"X-Forwarded-For": client_ip, "X-Forwarded-Proto": "https", **headers},
    )
    return int(resp.status_code)


def flask_sessionauth_warnings(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == "flask_sessionauth" and r.levelno >= logging.WARNING]


def test_without_the_setting_the_proxy_is_one_client_and_a_log_says_so(
    app: t.Any, user: t.Any, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING, logger="flask_sessionauth"):
        statuses = [through_proxy(app, f"203.0.113.{i}", f"user{i}@example.com") for i in range(IP_LIMIT + 1)]
    assert statuses == [401] * IP_LIMIT + [429]  # the forged-header-safe default, unchanged
    warnings = flask_sessionauth_warnings(caplog)
    unused = [w for w in warnings if "X-Forwarded-For" in w and "SESSIONAUTH_TRUSTED_PROXIES" in w]
    hot = [w for w in warnings if PROXY in w and "per-address limit" in w]
    assert len(unused) == 1, warnings
    assert len(hot) == 1, warnings


@pytest.mark.parametrize(
    "app_config",
    [{"SESSIONAUTH_TRUSTED_PROXIES": 1}, {"SESSIONAUTH_TRUSTED_PROXIES": ["10.0.0.0/8"]}],
    ids=["hop-count", "networks"],
)
def test_with_trusted_proxies_each_client_is_counted_alone(
    app: t.Any, user: t.Any, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING, logger="flask_sessionauth"):
        statuses = [through_proxy(app, f"203.0.113.{i}", f"user{i}@example.com") for i in range(IP_LIMIT + 1)]
        assert statuses == [401] * (IP_LIMIT + 1)
        # One client is still limited as itself.
        alone = [through_proxy(app, "198.51.100.7", f"other{i}@example.com") for i in range(IP_LIMIT + 1)]
    assert alone[-1] == 429
    assert not flask_sessionauth_warnings(caplog)


def test_the_apps_own_proxy_fix_is_not_warned_about(app: t.Any, user: t.Any, caplog: pytest.LogCaptureFixture) -> None:
    app.wsgi_app = ProxyFix(app.wsgi_app, x_for=1)
    with caplog.at_level(logging.WARNING, logger="flask_sessionauth"):
        assert through_proxy(app, "203.0.113.1", "alice@example.com", PASSWORD) == 200
    assert not flask_sessionauth_warnings(caplog)


@pytest.mark.parametrize(
    ("app_config", "forwarded_for", "recorded"),
    [
        ({"SESSIONAUTH_TRUSTED_PROXIES": 1}, "6.6.6.6, 198.51.100.7", "198.51.100.7"),
        ({"SESSIONAUTH_TRUSTED_PROXIES": ["10.0.0.0/8"]}, "6.6.6.6, 198.51.100.7, 10.1.2.3", "198.51.100.7"),
    ],
    ids=["hop-count", "networks"],
)
def test_a_forged_left_entry_is_not_the_client(app: t.Any, user: t.Any, forwarded_for: str, recorded: str) -> None:
    c = device(app, remote_addr=PROXY)
    resp = c.post(
        "/test/login",
        data={"email": "alice@example.com", "password": PASSWORD},
        headers={"X-Forwarded-For": forwarded_for},
    )
    assert resp.status_code == 200
    assert session_row(app, resp.json["id"]).ip_address == recorded


@pytest.mark.parametrize("app_config", [{"SESSIONAUTH_TRUSTED_PROXIES": ["10.0.0.0/8"]}])
def test_forwarded_for_from_an_untrusted_peer_is_ignored(app: t.Any, user: t.Any) -> None:
    c = device(app, remote_addr="192.0.2.99")
    resp = c.post(
        "/test/login", data={"email": "alice@example.com", "password": PASSWORD}, headers={"X-Forwarded-For": "6.6.6.6"}
    )
    assert session_row(app, resp.json["id"]).ip_address == "192.0.2.99"


@pytest.mark.parametrize("setting", [0, -1, True, "not a network", ["10.0.0.0/8", "bogus"], [], {"10.0.0.0/8": 1}])
def test_a_bad_setting_is_refused_at_init_app(setting: t.Any, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.ERROR, logger="flask_sessionauth"), pytest.raises(ValueError) as info:
        create_app({"SESSIONAUTH_TRUSTED_PROXIES": setting})
    assert "SESSIONAUTH_TRUSTED_PROXIES" in str(info.value)
    assert any("SESSIONAUTH_TRUSTED_PROXIES" in r.getMessage() for r in caplog.records)


def test_parse_accepts_a_single_network_and_hop_counts() -> None:
    assert forwarded.parse(None) is None
    assert forwarded.parse(2) == 2
    assert [str(n) for n in t.cast(list[t.Any], forwarded.parse("10.0.0.0/8"))] == ["10.0.0.0/8"]
