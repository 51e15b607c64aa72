"""Approximate locations (issue 17.1): resolved once per sign-in, shown on the
devices page, in the API and the CLI, carried by Redis and the cookie cache;
the privacy switches; resolvers that fail or hang never fail a sign-in; a
CDN's country header believed only behind a trusted proxy.

Abuse considered: a forged ``CF-IPCountry`` sent straight to the app (ignored
without a trusted proxy), hostile bytes from a resolver or a header (only a
two-letter code and bounded printable place names are stored), a resolver that
raises or never answers (logged, no location, at most ``MAX_STUCK`` threads),
a lookup per request (never: the tests count resolver calls), the full address
kept against the app's wish (truncated or none, tested on the row).
"""

from __future__ import annotations

import datetime as dt
import logging
import pathlib
import re
import sys
import threading
import time
import typing as t

import pytest
import time_machine
from flask import Flask
from flask import jsonify

from flask_sessionauth import current_session
from flask_sessionauth.core import geoip
from flask_sessionauth.core.location import LOCAL
from flask_sessionauth.core.location import Location
from flask_sessionauth.core.location import checked
from flask_sessionauth.core.location import describe
from flask_sessionauth.core.location import stored_address
from flask_sessionauth.core.presentation import format_date
from flask_sessionauth.core.presentation import format_time
from flask_sessionauth.core.records import Client
from flask_sessionauth.core.records import record_from_json
from flask_sessionauth.core.records import record_to_json
from flask_sessionauth.glue import location as glue_location
from tests import mmdb
from tests.conftest import EVERY_STORAGE
from tests.conftest import create_app
from tests.conftest import dispose
from tests.helpers import API
from tests.helpers import UA_FIREFOX
from tests.helpers import device
from tests.helpers import login
from tests.helpers import session_row
from tests.helpers import state_of
from tests.helpers import text

#: Public addresses the fake resolver places (never looked up anywhere).
LYON_IP = "81.250.0.1"
LYON_IP6 = "2a01:cb00::1"
ELSEWHERE_IP = "93.184.216.34"
LYON = Location("FR", "Auvergne-Rhône-Alpes", "Lyon")
calls: list[str] = []


def fake_resolver(ip: str) -> Location | None:
    calls.append(ip)
    return LYON if ip in (LYON_IP, LYON_IP6) else None


@pytest.fixture(autouse=True)
def _forget_calls() -> None:
    calls.clear()


@pytest.fixture
def app_config() -> dict[str, t.Any]:
    return {"SESSIONAUTH_GEOIP_RESOLVER": fake_resolver}


def make_app(tmp_path: pathlib.Path, **config: t.Any) -> Flask:
    """An app of its own (SQLite file) with these settings."""
    app = create_app({"SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path / 'own.db'}", **config})
    with app.app_context():
        app.extensions["sqlalchemy"].create_all()
        app.extensions["sessionauth"].create_user("alice@example.com", "correct horse battery")
    return app


def signed_in_row(app: Flask, remote_addr: str, **environ: str) -> t.Any:
    """Sign in through a real request from ``remote_addr``; the new row."""
    client = device(app, UA_FIREFOX, remote_addr)
    client.environ_base.update(environ)
    return session_row(app, login(client))


# -- resolved once, shown everywhere ------------------------------------------------------


@pytest.mark.storage(*EVERY_STORAGE)
def test_location_is_resolved_once_and_shown_everywhere(app: Flask, user: t.Any) -> None:
    @app.get("/where")
    def where() -> t.Any:  # an ordinary view: the cookie cache or Redis answers it
        return jsonify(country=current_session.country, city=current_session.city, region=current_session.region)

    client = device(app, UA_FIREFOX, LYON_IP)
    session = client.sign_in(user)
    assert (session.country, session.region, session.city) == tuple(LYON)
    for _ in range(3):
        assert client.get("/where").json == {"country": "FR", "city": "Lyon", "region": "Auvergne-Rhône-Alpes"}
    page = text(client.get("/account/devices"))
    assert "Firefox 133 on Windows" in page and "near Lyon, France" in page
    [listed] = client.get(f"{API}/list-sessions").json
    expected = {"country": "FR", "region": "Auvergne-Rhône-Alpes", "city": "Lyon", "location": "near Lyon, France"}
    assert {key: listed[key] for key in expected} == expected
    current = client.get(f"{API}/get-session").json["session"]
    assert {key: current[key] for key in expected} == expected
    out = app.test_cli_runner().invoke(args=["sessionauth", "list", "alice@example.com"]).output
    assert "LOCATION" in out and "near Lyon, France" in out
    activity = text(client.get("/account/activity"))  # the sign-in event says it the same way
    assert "near Lyon, France" in activity and "Lyon, Auvergne" not in activity
    assert calls == [LYON_IP]  # once, at sign-in; no request after asked again


def test_the_new_device_mail_says_where_as_the_pages_do(tmp_path: pathlib.Path) -> None:
    sent: list[t.Any] = []
    app = make_app(tmp_path, SESSIONAUTH_MAIL_SEND=sent.append, SESSIONAUTH_GEOIP_RESOLVER=fake_resolver)
    signed_in_row(app, LYON_IP)
    assert state_of(app).mailer.wait()
    [mail] = sent
    for part in ("plain", "html"):
        body = mail.get_body(preferencelist=(part,)).get_content()
        assert "near Lyon, France" in body and "Auvergne" not in body, part
    dispose(app)


@pytest.mark.parametrize("address", ["127.0.0.1", "10.1.2.3", "192.168.0.9", "::1", "fe80::1", "100.64.0.1"])
def test_loopback_and_private_addresses_read_local_network(app: Flask, user: t.Any, address: str) -> None:
    row = signed_in_row(app, address)
    assert (row.country, row.region, row.city) == tuple(LOCAL)
    assert calls == []  # nothing to look up
    assert describe(row.country) == "Local network"


def test_an_unknown_address_has_no_location(app: Flask, user: t.Any) -> None:
    client = device(app, UA_FIREFOX, ELSEWHERE_IP)
    client.sign_in(user)
    assert client.get(f"{API}/get-session").json["session"]["location"] is None
    assert "near" not in text(client.get("/account/devices"))


def test_identical_devices_are_told_apart_by_time_and_location(app: Flask, user: t.Any) -> None:
    """Two sign-ins from the same browser: sign-in time and location differ on the page."""
    earlier = dt.datetime.now(dt.timezone.utc).replace(second=0, microsecond=0) - dt.timedelta(hours=3)
    with time_machine.travel(earlier, tick=False):
        device(app, UA_FIREFOX, LYON_IP).sign_in(user)
    second = device(app, UA_FIREFOX, ELSEWHERE_IP)
    second.sign_in(user)
    page = text(second.get("/account/devices"))
    names = re.findall(r'class="sa-session__name">\s*<span[^>]*><bdi>([^<]*)</bdi>', page)
    assert names == ["Firefox 133 on Windows"] * 2
    assert "near Lyon, France" in page and f"{format_date(earlier)}, {format_time(earlier)}" in page


# -- resolvers that fail ----------------------------------------------------------------


def test_a_raising_resolver_never_fails_a_sign_in(tmp_path: pathlib.Path, caplog: pytest.LogCaptureFixture) -> None:
    def broken(ip: str) -> Location:
        raise RuntimeError("database corrupt")

    app = make_app(tmp_path, SESSIONAUTH_GEOIP_RESOLVER=broken)
    with caplog.at_level(logging.ERROR, logger="flask_sessionauth"):
        row = signed_in_row(app, LYON_IP)
    assert row.country is None and row.city is None
    assert any("resolver failed" in r.getMessage() for r in caplog.records)
    assert not any(LYON_IP in r.getMessage() for r in caplog.records)
    dispose(app)


def test_a_slow_resolver_is_given_up_on(tmp_path: pathlib.Path, caplog: pytest.LogCaptureFixture) -> None:
    release = threading.Event()

    def hanging(ip: str) -> Location:
        release.wait(10)
        return LYON

    app = make_app(tmp_path, SESSIONAUTH_GEOIP_RESOLVER=hanging, SESSIONAUTH_GEOIP_TIMEOUT=0.2)
    try:
        started = time.monotonic()
        with caplog.at_level(logging.WARNING, logger="flask_sessionauth"):
            row = signed_in_row(app, LYON_IP)
        assert time.monotonic() - started < 3
        assert row.country is None
        assert any("took over 0.2 s" in r.getMessage() for r in caplog.records)
    finally:
        release.set()
        dispose(app)


def test_hung_resolver_calls_are_capped(tmp_path: pathlib.Path) -> None:
    """Every call hangs: after ``MAX_STUCK`` of them no new thread is started."""
    release = threading.Event()
    started: list[str] = []

    def hanging(ip: str) -> Location:
        started.append(ip)
        release.wait(10)
        return LYON

    app = make_app(tmp_path, SESSIONAUTH_GEOIP_RESOLVER=hanging, SESSIONAUTH_GEOIP_TIMEOUT=0.05)
    locator = state_of(app).locator
    try:
        client = Client(LYON_IP, UA_FIREFOX)
        for _ in range(glue_location.MAX_STUCK + 3):
            assert locator.locate(client) is None
        assert len(started) == glue_location.MAX_STUCK
    finally:
        release.set()
        dispose(app)
    deadline = time.monotonic() + 5
    while locator._running and time.monotonic() < deadline:
        time.sleep(0.01)
    assert locator._running == 0


def test_what_a_resolver_returns_is_made_safe() -> None:
    assert checked(("fr", "R" * 500, "\x1b[31mLyon\u202e")) == Location("FR", "R" * 80, "[31mLyon")
    for junk in (("XX",), ("T1",), ("ZZ ",), ("FRA",), ("<b",), (None,), "FR", 42, (), [("FR",)]):
        assert checked(junk) is None, junk
    assert checked(LOCAL) == LOCAL


# -- CDN country headers ------------------------------------------------------------------

BEHIND_PROXY = {"SESSIONAUTH_TRUSTED_PROXIES": ["10.0.0.0/8"], "SESSIONAUTH_GEOIP_HEADER": "CF-IPCountry"}


def via_proxy(app: Flask, country: str, client_ip: str = ELSEWHERE_IP) -> t.Any:
    return signed_in_row(app, "10.0.0.2", HTTP_X_FORWARDED_FOR=client_ip, HTTP_CF_IPCOUNTRY=country)


def test_a_cdn_country_header_is_believed_only_through_a_trusted_proxy(tmp_path: pathlib.Path) -> None:
    app = make_app(tmp_path, SESSIONAUTH_GEOIP_RESOLVER=None, **BEHIND_PROXY)
    assert via_proxy(app, "de").country == "DE"
    # Straight to the app (not from the proxy's network): anyone can send the header.
    assert signed_in_row(app, ELSEWHERE_IP, HTTP_CF_IPCOUNTRY="DE").country is None
    for value in ("XX", "T1", "ZZ", "DEU", "<script>", "", "d\u0435"):
        assert via_proxy(app, value).country is None, value
    dispose(app)


def test_a_header_is_not_believed_when_no_proxy_is_trusted(tmp_path: pathlib.Path) -> None:
    app = make_app(tmp_path, SESSIONAUTH_GEOIP_RESOLVER=None, SESSIONAUTH_GEOIP_HEADER="X-Vercel-IP-Country")
    assert signed_in_row(app, ELSEWHERE_IP, HTTP_X_VERCEL_IP_COUNTRY="DE").country is None
    dispose(app)


def test_the_headers_country_wins_and_the_resolver_adds_the_city(tmp_path: pathlib.Path) -> None:
    app = make_app(tmp_path, SESSIONAUTH_GEOIP_RESOLVER=fake_resolver, **BEHIND_PROXY)
    assert (lambda r: (r.country, r.city))(via_proxy(app, "FR", LYON_IP)) == ("FR", "Lyon")
    assert (lambda r: (r.country, r.city))(via_proxy(app, "DE", LYON_IP)) == ("DE", None)
    dispose(app)


# -- privacy switches ---------------------------------------------------------------------


def test_no_location_means_no_lookup(tmp_path: pathlib.Path) -> None:
    app = make_app(tmp_path, SESSIONAUTH_GEOIP_RESOLVER=fake_resolver, SESSIONAUTH_STORE_LOCATION=False)
    row = signed_in_row(app, LYON_IP)
    assert (row.country, row.city, row.ip_address) == (None, None, LYON_IP)
    assert calls == []
    dispose(app)


@pytest.mark.parametrize(
    ("address", "kept"),
    [(LYON_IP, "81.250.0.0"), (LYON_IP6, "2a01:cb00::"), ("2a01:cb00:1234:5678::9", "2a01:cb00:1234::")],
)
def test_truncated_addresses_keep_only_the_network(tmp_path: pathlib.Path, address: str, kept: str) -> None:
    app = make_app(tmp_path, SESSIONAUTH_GEOIP_RESOLVER=fake_resolver, SESSIONAUTH_STORE_IP="truncated")
    row = signed_in_row(app, address)
    assert row.ip_address == kept
    assert calls == [address]  # the location still comes from the full address
    dispose(app)


def test_no_address_and_no_user_agent_stored(tmp_path: pathlib.Path) -> None:
    private = {"SESSIONAUTH_STORE_IP": "none", "SESSIONAUTH_STORE_USER_AGENT": False}
    app = make_app(tmp_path, SESSIONAUTH_GEOIP_RESOLVER=fake_resolver, **private)
    client = device(app, UA_FIREFOX, LYON_IP)
    row = session_row(app, login(client))
    assert (row.ip_address, row.user_agent, row.city) == (None, None, "Lyon")
    [listed] = client.get(f"{API}/list-sessions").json
    assert (listed["ipAddress"], listed["userAgent"]) == (None, None)
    dispose(app)


def test_stored_address_modes() -> None:
    assert stored_address("::ffff:81.250.7.9", "truncated") == "81.250.7.0"
    assert stored_address("not an address", "truncated") is None
    assert stored_address(LYON_IP, "full") == LYON_IP
    assert stored_address(LYON_IP, "none") is None


@pytest.mark.parametrize(
    "setting",
    [
        {"SESSIONAUTH_STORE_IP": "partial"},
        {"SESSIONAUTH_GEOIP_RESOLVER": "maxmind"},
        {"SESSIONAUTH_GEOIP_TIMEOUT": 0},
        {"SESSIONAUTH_GEOIP_HEADER": " "},
    ],
)
def test_wrong_settings_fail_at_init_app(setting: dict[str, t.Any]) -> None:
    with pytest.raises(ValueError, match=next(iter(setting))):
        create_app(setting)


# -- the resolvers ------------------------------------------------------------------------


def test_the_bundled_geoip2fast_data_knows_countries_for_ipv4_and_ipv6() -> None:
    resolve = geoip.GeoIP2FastResolver()
    assert resolve(LYON_IP) == Location("FR")
    assert resolve(LYON_IP6) == Location("FR")
    assert resolve("::ffff:81.250.0.1") == Location("FR")
    assert resolve("not an address") is None


def test_without_geoip2fast_there_is_no_location_and_one_log_line(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setitem(sys.modules, "geoip2fast", None)  # as if not installed
    monkeypatch.setattr(geoip.GeoIP2FastResolver, "_reader", None)
    monkeypatch.setattr(geoip.GeoIP2FastResolver, "_missing_logged", False)
    resolve = geoip.GeoIP2FastResolver()
    with caplog.at_level(logging.WARNING, logger="flask_sessionauth"):
        assert resolve(LYON_IP) is None
        assert resolve(LYON_IP) is None
    assert [r.getMessage() for r in caplog.records if "geoip2fast is not installed" in r.getMessage()] == [
        "flask-sessionauth: geoip2fast is not installed, so sessions get no location; "
        "install flask-sessionauth[geoip] or set SESSIONAUTH_GEOIP_RESOLVER"
    ]


def test_a_maxmind_database_the_app_provides(tmp_path: pathlib.Path) -> None:
    path = mmdb.write(
        tmp_path / "city.mmdb",
        {
            "81.250.0.0/16": {
                "country": {"iso_code": "FR", "names": {"en": "France"}},
                "subdivisions": [{"iso_code": "ARA", "names": {"en": "Auvergne-Rhône-Alpes"}}],
                "city": {"names": {"en": "Lyon", "fr": "Lyon"}},
            },
            "2a01:cb00::/32": {"country": {"iso_code": "JP"}},
        },
    )
    app = make_app(tmp_path, SESSIONAUTH_GEOIP_RESOLVER=geoip.MaxMindResolver(str(path)))
    client = device(app, UA_FIREFOX, LYON_IP)
    login(client)
    assert "near Lyon, France" in text(client.get("/account/devices"))
    assert (lambda r: (r.country, r.city))(signed_in_row(app, LYON_IP6)) == ("JP", None)
    assert signed_in_row(app, ELSEWHERE_IP).country is None
    dispose(app)


# -- what carries the fields ------------------------------------------------------------------


def test_redis_entries_of_the_previous_format_read_as_no_location(app: Flask, user: t.Any) -> None:
    client = device(app, UA_FIREFOX, LYON_IP)
    session = client.sign_in(user)
    with app.app_context():
        record = state_of(app).store.load(session.id)
    values = record_to_json(record)
    assert record_from_json(list(values)) == record
    old = values[:11] + values[-1:]  # what was cached before location and names
    assert record_from_json(old) == record._replace(country=None, region=None, city=None)
