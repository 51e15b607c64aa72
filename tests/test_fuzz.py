"""Hostile input, property-based (hypothesis): cookie values, user agents,
client addresses, form fields, JSON bodies and ``next`` targets.

Whatever arrives: never a 500, never a signed-in request that did not present
the real token, stored header values are clean and bounded, and ``next`` only
ever leads to a path on this site.
"""

from __future__ import annotations

import json
import string
import typing as t
from urllib.parse import urlsplit

import pytest
import sqlalchemy as sa
from flask import Flask
from hypothesis import HealthCheck
from hypothesis import example
from hypothesis import given
from hypothesis import settings
from hypothesis import strategies as st

from flask_sessionauth.core.redirects import is_safe_redirect
from flask_sessionauth.storage.model import IP_LENGTH
from flask_sessionauth.storage.model import USER_AGENT_LENGTH
from tests.conftest import db
from tests.helpers import ORIGIN
from tests.helpers import PASSWORD
from tests.helpers import cookie_name
from tests.helpers import raw_client
from tests.helpers import session_row

# Shared app across examples; each example leaves it as it found it (or only adds rows).
FUZZ = settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow, HealthCheck.data_too_large],
)
TOKEN_ALPHABET = string.ascii_letters + string.digits + "-_"
ORIGIN_HEADER = {"Origin": ORIGIN}


@pytest.fixture
def app_config() -> dict[str, t.Any]:
    # The forms' CSRF check would answer every fuzzed POST with 400 before the
    # input reaches the code under test; the API keeps its Origin check.
    return {
        "WTF_CSRF_ENABLED": False,
        "SESSIONAUTH_RATE_LIMIT_ACCOUNT": 10**6,
        "SESSIONAUTH_RATE_LIMIT_IP": 10**6,
        "SESSIONAUTH_RATE_LIMIT_SESSIONS_IP": None,
    }


def wsgi(value: str) -> str:
    """A header value as a real server puts it in the WSGI environ (UTF-8 bytes as latin-1)."""
    return value.encode("utf-8", "surrogatepass").decode("latin-1")


def is_clean(value: str | None, limit: int) -> bool:
    return value is None or (0 < len(value) <= limit and all(c >= " " and c != "\x7f" for c in value))


def signed_in_token(app: Flask) -> str:
    c = raw_client(app)
    resp = c.post("/test/login", data={"email": "alice@example.com", "password": PASSWORD})
    assert resp.status_code == 200
    return resp.headers["Set-Cookie"].split(";", 1)[0].partition("=")[2]


def whoami(app: Flask, cookie_header: str) -> t.Any:
    resp = raw_client(app).get("/whoami", environ_overrides={"HTTP_COOKIE": wsgi(cookie_header)})
    assert resp.status_code == 200, resp.data
    return resp.json["user_id"]


def assert_not_signed_in(app: Flask, resp: t.Any) -> None:
    assert resp.status_code < 500, resp.data[:500]
    for header in resp.headers.getlist("Set-Cookie"):
        name, _, rest = header.partition("=")
        if name == cookie_name(app):
            assert rest.startswith(";") or rest.startswith('""'), header  # only ever cleared


# -- cookie values -----------------------------------------------------------------------

cookie_values = st.one_of(
    st.text(max_size=200),
    st.text(alphabet=TOKEN_ALPHABET + ".", min_size=60, max_size=70),
    st.builds(
        "{}.{}".format,
        st.text(TOKEN_ALPHABET, min_size=22, max_size=22),
        st.text(TOKEN_ALPHABET, min_size=43, max_size=43),
    ),
    st.lists(st.text(TOKEN_ALPHABET, max_size=43), min_size=2, max_size=6).map(".".join),
    st.integers(8000, 8300).map(lambda n: "A" * n),
    st.text(alphabet=st.characters(codec="latin-1"), max_size=66),
)


@FUZZ
@given(value=cookie_values)
@example(value="\x00" * 66)
@example(value="é" * 66)
@example(value="a.b.c")
@example(value="A" * 8192)
def test_any_cookie_value_is_anonymous(app: Flask, user: t.Any, value: str) -> None:
    name = cookie_name(app)
    assert whoami(app, f"{name}={value}") is None
    resp = raw_client(app).get("/me", environ_overrides={"HTTP_COOKIE": wsgi(f"{name}={value}")})
    assert resp.status_code in (302, 401)


@pytest.fixture
def token(app: Flask, user: t.Any) -> str:
    return signed_in_token(app)


def mutations(token: str) -> st.SearchStrategy[str]:
    session_id, _, secret = token.partition(".")
    flip = st.tuples(st.integers(0, len(token) - 1), st.sampled_from(TOKEN_ALPHABET + ".\x00é")).map(
        lambda p: token[: p[0]] + p[1] + token[p[0] + 1 :]
    )
    return st.one_of(
        flip,
        st.integers(1, len(token) - 1).map(lambda n: token[:n]),
        st.text(TOKEN_ALPHABET, min_size=1, max_size=5).map(lambda s: token + s),
        st.just(token.swapcase()),
        st.just(f"{session_id}..{secret}"),
        st.just(f"{token}.{secret}"),
        st.just(f"{secret}.{session_id}"),
        st.text(TOKEN_ALPHABET, min_size=43, max_size=43).map(lambda s: f"{session_id}.{s}"),
    )


@FUZZ
@given(data=st.data())
def test_altered_tokens_are_anonymous(app: Flask, token: str, data: st.DataObject) -> None:
    """Right id with a wrong secret, truncations, extensions, extra parts: all
    anonymous; and presenting them does not sign the real owner out."""
    name = cookie_name(app)
    forged = data.draw(mutations(token))
    if forged != token:
        assert whoami(app, f"{name}={forged}") is None
    assert whoami(app, f"{name}={token}") is not None


@FUZZ
@given(other=cookie_values, first=st.booleans())
@example(other="", first=True)
def test_two_session_cookies_fail_closed(app: Flask, token: str, other: str, first: bool) -> None:
    """Cookie tossing: a second cookie with the session name, whatever its value
    (even a copy of the real one), makes the request anonymous."""
    name = cookie_name(app)
    pair = [f"{name}={token}", f"{name}={other.replace(';', '')}"]
    if not first:
        pair.reverse()
    assert whoami(app, "; ".join(pair)) is None
    assert whoami(app, f"{name}={token}; {name}={token}") is None
    assert whoami(app, f"{name}={token}") is not None


@pytest.mark.parametrize(
    "header",
    [
        '{name}="; {name}={token}',
        '{name}={token}; {name}="x',
        "{name}=0 0; {name}={token}",
        'x="a; {name}={token}; y=b"; {name}={token}',
    ],
)
def test_malformed_cookie_pair_cannot_hide_a_second_session_cookie(app: Flask, token: str, header: str) -> None:
    """Without the ``__Host-`` prefix a sibling domain can plant cookies. Werkzeug
    drops pairs it cannot parse (unbalanced quote, space) and lets a quoted value
    swallow the pairs after it; the hook counts the name in the raw header, so a
    malformed second cookie still fails closed."""
    assert whoami(app, header.format(name=cookie_name(app), token=token)) is None


# -- user agents and addresses -------------------------------------------------------------

user_agents = st.one_of(
    st.text(max_size=700),
    st.text(st.characters(max_codepoint=0x1F), max_size=50),
    st.builds(lambda s, n: (s * n)[:10240], st.text(min_size=1, max_size=16), st.just(10240)),
)


@FUZZ
@given(ua=user_agents)
@example(ua="Mozilla/5.0 " + "x" * 10_000)
@example(ua="\x00\x00\x00")
@example(ua="<script>alert(1)</script>\u202e\ufeff")
def test_any_user_agent_signs_in_and_is_stored_clean(app: Flask, user: t.Any, ua: str) -> None:
    client = app.test_client()
    client.environ_base.update(HTTP_USER_AGENT=wsgi(ua), REMOTE_ADDR="192.0.2.1")
    resp = client.post("/test/login", data={"email": "alice@example.com", "password": PASSWORD})
    assert resp.status_code == 200, resp.data
    row = session_row(app, resp.json["id"])
    assert is_clean(row.user_agent, USER_AGENT_LENGTH)
    devices = client.get("/account/devices")
    assert devices.status_code == 200
    assert "<script>alert(1)" not in devices.get_data(as_text=True)
    assert client.get("/api/auth/list-sessions").status_code == 200
    assert client.post("/test/logout").status_code == 200


addresses = st.one_of(
    st.text(max_size=100),
    st.ip_addresses().map(str),
    st.builds(lambda a: f"{a}, 6.6.6.6", st.ip_addresses().map(str)),
    st.just("x" * 5000),
)


@FUZZ
@given(ip=addresses)
@example(ip="")
@example(ip="\x00127.0.0.1")
@example(ip="ffff:ffff:ffff:ffff:ffff:ffff:255.255.255.255%eth0-very-long-zone-id")
def test_any_client_address_is_stored_clean(app: Flask, user: t.Any, ip: str) -> None:
    client = app.test_client()
    client.environ_base.update(REMOTE_ADDR=wsgi(ip))
    resp = client.post("/test/login", data={"email": "alice@example.com", "password": PASSWORD})
    assert resp.status_code == 200, resp.data
    row = session_row(app, resp.json["id"])
    assert is_clean(row.ip_address, IP_LENGTH)
    assert client.get("/account/devices").status_code == 200
    # Failed attempts from that address are counted without error too.
    bad = client.post("/test/login", data={"email": "alice@example.com", "password": "nope"})
    assert bad.status_code == 401
    assert client.post("/test/logout").status_code == 200


# -- form fields and JSON bodies -----------------------------------------------------------

field_values = st.one_of(
    st.text(max_size=300),
    st.sampled_from(["alice@example.com", "ALICE@EXAMPLE.COM", " alice@example.com\x00", PASSWORD + "\x00"]),
    st.integers(300, 2000).map(lambda n: "a" * n),
)
forms = st.dictionaries(
    st.sampled_from(["email", "password", "remember", "next", "csrf_token", "id", "x" * 300]),
    field_values,
    max_size=5,
)


@FUZZ
@given(form=forms, path=st.sampled_from(["/test/login", "/account/login"]))
@example(form={"email": "alice@example.com"}, path="/account/login")
@example(form={"email": "alice@example.com", "password": PASSWORD + "\x00"}, path="/account/login")
@example(form={"email": "alice@example.com\x00", "password": PASSWORD}, path="/test/login")
def test_sign_in_forms_never_fail_or_let_in(app: Flask, user: t.Any, form: dict[str, str], path: str) -> None:
    if form.get("password") == PASSWORD and form.get("email", "").strip().lower() == "alice@example.com":
        form["password"] += "!"  # the one input that should sign in
    client = app.test_client()
    resp = client.post(path, data=form)
    assert_not_signed_in(app, resp)
    assert client.get("/whoami").json == {"user_id": None}


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=50),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=4),
    max_leaves=20,
)
sign_in_bodies = st.one_of(
    json_values,
    st.fixed_dictionaries(
        {"email": json_values | field_values, "password": json_values | field_values},
        optional={"rememberMe": json_values},
    ),
)


@FUZZ
@given(body=sign_in_bodies)
@example(body={"email": "alice@example.com", "password": PASSWORD, "rememberMe": "yes"})
@example(body={"email": ["alice@example.com"], "password": PASSWORD})
@example(body={"email": "alice@example.com", "password": {"$ne": ""}})
def test_sign_in_api_never_fails_or_lets_in(app: Flask, user: t.Any, body: t.Any) -> None:
    if isinstance(body, dict) and body.get("password") == PASSWORD and body.get("rememberMe", True) in (True, False):
        body["password"] = PASSWORD + "!"
    client = app.test_client()
    resp = client.post(
        "/api/auth/sign-in/email", data=json.dumps(body), content_type="application/json", headers=ORIGIN_HEADER
    )
    assert_not_signed_in(app, resp)
    assert resp.status_code in (400, 401, 415)
    assert "error" in resp.json
    assert client.get("/api/auth/get-session").json is None


CONTENT_TYPES = st.sampled_from(["application/json", "text/plain", "application/x-www-form-urlencoded"])
raw_bodies = st.one_of(
    st.binary(max_size=300),
    st.integers(1, 200).map(lambda n: b"[" * n),
    st.just(b"\xff\xfe{}"),
    st.just(b'{"email": "alice@example.com", "password": "' + PASSWORD.encode() + b'"'),
)


@FUZZ
@given(
    body=raw_bodies,
    content_type=st.sampled_from(["application/json", "text/plain", "application/x-www-form-urlencoded"]),
)
def test_malformed_bodies_are_client_errors(app: Flask, user: t.Any, body: bytes, content_type: str) -> None:
    client = app.test_client()
    for path, headers in (("/api/auth/sign-in/email", ORIGIN_HEADER), ("/account/login", {}), ("/test/login", {})):
        resp = client.post(path, data=body, content_type=content_type, headers=headers)
        assert_not_signed_in(app, resp)
        assert resp.status_code in (400, 401, 413, 415), (path, resp.status_code)


@pytest.mark.parametrize("body", [b"[" * 100_000, b'{"a":' * 50_000], ids=["array", "object"])
@pytest.mark.parametrize("path", ["/api/auth/sign-in/email", "/account/login"])
def test_deeply_nested_json_is_a_client_error(app: Flask, user: t.Any, path: str, body: bytes) -> None:
    """Python's JSON parser raises RecursionError (not ValueError) on deep nesting."""
    resp = app.test_client().post(path, data=body, content_type="application/json", headers=ORIGIN_HEADER)
    assert resp.status_code in (400, 413, 415)
    assert_not_signed_in(app, resp)


# -- oversized input ---------------------------------------------------------------------


@pytest.mark.parametrize("path", ["/test/login", "/account/login"])
def test_oversized_form_is_rejected(app: Flask, user: t.Any, path: str) -> None:
    client = app.test_client()
    resp = client.post(path, data={"email": "alice@example.com", "password": "p" * 2_000_000})
    assert resp.status_code in (400, 401, 413)
    assert_not_signed_in(app, resp)


def test_oversized_json_is_rejected(app: Flask, user: t.Any) -> None:
    body = json.dumps({"email": "alice@example.com", "password": "p" * 5_000_000})
    resp = app.test_client().post(
        "/api/auth/sign-in/email", data=body, content_type="application/json", headers=ORIGIN_HEADER
    )
    assert resp.status_code in (400, 401, 413)
    assert_not_signed_in(app, resp)


def test_oversized_cookie_header_is_anonymous(app: Flask, token: str) -> None:
    name = cookie_name(app)
    padding = "; ".join(f"c{i}={'x' * 100}" for i in range(1000))
    assert whoami(app, f"{padding}; {name}={'y' * 100_000}") is None
    assert whoami(app, f"{padding}; {name}={token}") is not None


def test_oversized_user_agent_is_truncated_not_refused(app: Flask, user: t.Any) -> None:
    client = app.test_client()
    client.environ_base.update(HTTP_USER_AGENT="Mozilla/5.0 " + "€" * 100_000)
    resp = client.post("/test/login", data={"email": "alice@example.com", "password": PASSWORD})
    assert resp.status_code == 200
    ua = session_row(app, resp.json["id"]).user_agent
    assert len(ua) == USER_AGENT_LENGTH


# -- open redirects ------------------------------------------------------------------------

CLASSIC_REDIRECTS = [
    "//evil.example",
    "///evil.example",
    "////evil.example",
    "/\\evil.example",
    "\\\\evil.example",
    "\\/evil.example",
    "/\\/evil.example",
    "https://evil.example",
    "http:evil.example",
    "https:/evil.example",
    "https:\\\\evil.example",
    "//evil.example/%2f..",
    "/\t/evil.example",
    "/\n/evil.example",
    "/\r\n/evil.example",
    " //evil.example",
    "\x00//evil.example",
    "javascript:alert(1)",
    "JaVaScRiPt:alert(1)",
    "data:text/html,<script>alert(1)</script>",
    "//google.com@evil.example",
    "@evil.example",
    "evil.example",
    ".evil.example",
    "%2F%2Fevil.example",
    "／／evil.example",
    "//evil.example\\@localhost/",
    "/" + "a" * 3000,
    "",
]


@pytest.mark.parametrize("target", CLASSIC_REDIRECTS)
def test_classic_open_redirect_payloads_are_refused(target: str) -> None:
    assert not is_safe_redirect(target)


@pytest.mark.parametrize("target", ["/", "/account/devices", "/a?b=c#d", "/%2F%2Fevil.example", "/a//b"])
def test_same_site_paths_are_allowed(target: str) -> None:
    assert is_safe_redirect(target)


def browser_view(target: str) -> str:
    """Roughly how a browser reads a Location value: tabs and newlines dropped,
    backslashes as slashes, leading C0 controls and spaces stripped."""
    cleaned = "".join(c for c in target if c not in "\t\n\r").replace("\\", "/")
    return cleaned.lstrip("".join(map(chr, range(0x21))))


@settings(max_examples=300, deadline=None)
@given(
    target=st.one_of(
        st.text(max_size=60),
        st.builds(
            "".join,
            st.lists(
                st.sampled_from(["/", "\\", "\t", "\n", " ", "@", ":", "evil.example", "%2f", "http", "."]), max_size=8
            ),
        ),
    )
)
def test_safe_redirects_stay_on_this_site(target: str) -> None:
    if not is_safe_redirect(target):
        return
    seen = browser_view(target)
    assert seen.startswith("/") and not seen.startswith("//")
    parts = urlsplit(seen)
    assert not parts.scheme and not parts.netloc


@pytest.mark.parametrize("target", CLASSIC_REDIRECTS[:20])
def test_sign_in_ignores_foreign_next(app: Flask, user: t.Any, target: str) -> None:
    client = app.test_client()
    resp = client.post(
        "/account/login", query_string={"next": target}, data={"email": "alice@example.com", "password": PASSWORD}
    )
    assert resp.status_code in (302, 303)
    location = urlsplit(resp.headers["Location"])
    assert location.netloc in ("", "localhost")
    assert location.path.startswith("/") and not location.path.startswith("//")
    assert "evil" not in resp.headers["Location"]


@pytest.mark.parametrize("next_value", ["/account/password", "/sudo?x=1"])
def test_sign_in_follows_same_site_next(app: Flask, user: t.Any, next_value: str) -> None:
    resp = app.test_client().post(
        "/account/login", query_string={"next": next_value}, data={"email": "alice@example.com", "password": PASSWORD}
    )
    assert resp.headers["Location"].endswith(next_value)


def test_session_rows_unchanged_by_fuzzing_sql(app: Flask, token: str) -> None:
    """Injection-looking cookie ids never reach SQL as anything but a bound value."""
    name = cookie_name(app)
    for payload in ("' OR '1'='1", "x'; DROP TABLE user_session; --", "%", "_" * 22 + "." + "%" * 43):
        assert whoami(app, f"{name}={payload}") is None
    with app.app_context():
        model = app.extensions["sessionauth"].session_model
        assert db.session.execute(sa.select(sa.func.count()).select_from(model)).scalar() == 1
