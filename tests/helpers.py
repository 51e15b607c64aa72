"""Helpers shared by the test modules: clients, cookies, form and API calls,
session rows, statement and round-trip counters.

Plain functions and classes only; fixtures live in ``tests/conftest.py``.
Nothing here imports the conftest (the conftest imports from here), so the
database handle is taken from the app (``app.extensions["sqlalchemy"]``).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import re
import socket
import typing as t

import pytest
import redis
import sqlalchemy as sa
import time_machine
from flask import Flask

from flask_sessionauth.testing import SessionAuthClient

UTC = dt.timezone.utc
PASSWORD = "correct horse battery"
NEW_PASSWORD = "a brand new passphrase"
UA_FIREFOX = "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:133.0) Gecko/20100101 Firefox/133.0"
UA_CHROME = (
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 "
    "(KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36"
)
UA_IPHONE = (
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 "
    "(KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1"
)
API = "/api/auth"
ORIGIN = "http://localhost"  # the test client's own origin
#: The API's state-changing endpoints.
API_POST_ENDPOINTS = [
    "revoke-session",
    "update-session-name",
    "revoke-sessions",
    "revoke-other-sessions",
    "change-password",
    "sign-in/email",
    "sign-out",
]


# -- the app's parts ----------------------------------------------------------------


def auth_of(app: Flask) -> t.Any:
    """The app's ``SessionAuth`` object."""
    return app.extensions["sessionauth"]


def state_of(app: Flask) -> t.Any:
    """The app's ``AppState`` (store, limiter, settings, ...)."""
    return auth_of(app).state_for(app)


def store_of(app: Flask) -> t.Any:
    """The app's ``SessionStore``."""
    return state_of(app).store


def db_of(app: Flask) -> t.Any:
    """The app's Flask-SQLAlchemy object."""
    return app.extensions["sqlalchemy"]


# -- clients and cookies -------------------------------------------------------------


def device(app: Flask, user_agent: str = UA_CHROME, remote_addr: str = "127.0.0.1") -> t.Any:
    """A test client that presents itself as one browser on one address
    (``client.sign_in(user)`` signs it in without the form)."""
    c = SessionAuthClient(app, app.response_class, use_cookies=True)
    c.environ_base.update(HTTP_USER_AGENT=user_agent, REMOTE_ADDR=remote_addr)
    return c


def raw_client(app: Flask) -> t.Any:
    """A client without a cookie jar, for sending exact ``Cookie`` headers."""
    c = app.test_client(use_cookies=False)
    c.environ_base.update(HTTP_USER_AGENT=UA_CHROME)
    return c


def cookie_name(app: Flask) -> str:
    return str(state_of(app).settings.cookie_name)


def cache_cookie_name(app: Flask) -> str:
    return cookie_name(app) + "_cache"


def device_cookie_name(app: Flask) -> str:
    return str(state_of(app).devices.name)


def forget_device(client: t.Any, app: Flask) -> None:
    """Drop the client's known-device cookie (a stranger's browser)."""
    client.delete_cookie(device_cookie_name(app))


def session_cookie(client: t.Any, app: Flask) -> str | None:
    cookie = client.get_cookie(cookie_name(app))
    return None if cookie is None else str(cookie.value)


def cache_cookie(client: t.Any, app: Flask) -> str | None:
    cookie = client.get_cookie(cache_cookie_name(app))
    return None if cookie is None else str(cookie.value)


def max_age(resp: t.Any) -> int | None:
    """The session cookie's ``Max-Age`` in ``resp`` (``None``: a browser-session cookie)."""
    header = resp.headers["Set-Cookie"]
    for part in header.split(";"):
        if part.strip().lower().startswith("max-age="):
            return int(part.split("=")[1])
    return None


def set_cookies(resp: t.Any) -> dict[str, str]:
    """The cookies ``resp`` sets (or clears), by name: ``{name: Set-Cookie header}``."""
    return {header.split("=", 1)[0]: header for header in resp.headers.getlist("Set-Cookie")}


def text(resp: t.Any) -> str:
    return str(resp.get_data(as_text=True))


@contextlib.contextmanager
def in_request(app: Flask, client: t.Any) -> t.Iterator[t.Any]:
    """A request context carrying ``client``'s session cookie, the hook run."""
    value = session_cookie(client, app)
    with app.test_request_context("/", headers={"Cookie": f"{cookie_name(app)}={value}"}) as ctx:
        app.preprocess_request()
        yield ctx


# -- signing in, and who is signed in --------------------------------------------------


def login(client: t.Any, email: str = "alice@example.com", password: str = PASSWORD, remember: bool = True) -> str:
    """Sign ``client`` in through the test route; returns the session id."""
    resp = client.post("/test/login", data={"email": email, "password": password, "remember": "1" if remember else "0"})
    assert resp.status_code == 200, resp.data
    return str(resp.json["id"])


def signed_in_as(client: t.Any) -> t.Any:
    """The user id storage says ``client``'s session belongs to (``None``: anonymous).

    Asks ``/whoami/storage``, a view marked ``@sensitive``: with the cookie
    cache on, ordinary views trust a fresh cache cookie for up to its max-age
    after a revoke (the documented delay, tested in ``test_cookie_cache.py``);
    this answer is the one every storage mode agrees on.
    """
    return client.get("/whoami/storage").json["user_id"]


def stale(app: Flask) -> t.Any:
    """A clock past the sudo window (``FRESH_AGE``) but well inside the session's life."""
    later = dt.datetime.now(UTC) + dt.timedelta(seconds=app.config["SESSIONAUTH_FRESH_AGE"] + 600)
    return time_machine.travel(later, tick=True)


# -- account pages (HTML forms) -----------------------------------------------------------


def without_tokens(body: str) -> str:
    """Pages differ only by their (time-stamped) CSRF token; drop it to compare."""
    return re.sub(
        r'(csrf-token" content|name="csrf_token" type="hidden" value|name="csrf_token" value)="[^"]+"', "", body
    )


def page_csrf_token(client: t.Any, path: str = "/account/login") -> str:
    """The token a browser would submit: read from the page's meta tag."""
    page = client.get(path)
    match = re.search(r'<meta name="csrf-token" content="([^"]+)"', page.get_data(as_text=True))
    assert match, page.get_data(as_text=True)
    return match.group(1)


def page_sign_in(client: t.Any, email: str = "alice@example.com", password: str = PASSWORD, **extra: t.Any) -> t.Any:
    """Submit the sign-in page's form."""
    data = {"email": email, "password": password, "csrf_token": page_csrf_token(client), **extra}
    return client.post("/account/login", data=data)


def form_post(
    client: t.Any, path: str, data: dict[str, t.Any] | None = None, *, page: str = "/account/devices"
) -> t.Any:
    """POST like the page's own form: with the CSRF token the page carries."""
    return client.post(path, data={"csrf_token": page_csrf_token(client, page), **(data or {})})


# -- JSON API ----------------------------------------------------------------------------


def api_csrf_token(client: t.Any, **kwargs: t.Any) -> str:
    resp = client.get(f"{API}/csrf-token", **kwargs)
    assert resp.status_code == 200
    return str(resp.json["csrfToken"])


def api_post(
    client: t.Any, path: str, body: t.Any = None, *, headers: dict[str, str | None] | None = None, **kwargs: t.Any
) -> t.Any:
    """A same-origin POST as a browser's ``fetch`` sends it: Origin and JSON
    (the API needs no CSRF token). A header given as ``None`` is left out."""
    sent: dict[str, str | None] = {"Origin": ORIGIN}
    sent.update(headers or {})
    clean = {k: v for k, v in sent.items() if v is not None}
    if body is None:
        return client.post(f"{API}/{path}", headers=clean, **kwargs)
    return client.post(f"{API}/{path}", json=body, headers=clean, **kwargs)


def wire_code(resp: t.Any) -> str:
    """The top-level (Better Auth) ``code`` of a JSON error, after checking the
    whole shape: ``{code, message}`` plus the deprecated nested ``error``."""
    assert resp.is_json, resp.data
    assert set(resp.json) == {"code", "message", "error"}
    assert isinstance(resp.json["message"], str) and resp.json["message"]
    assert set(resp.json["error"]) == {"code", "message"}
    assert resp.json["error"]["message"] == resp.json["message"]
    assert resp.json["error"]["code"].islower()
    return str(resp.json["code"])


def error_code(resp: t.Any) -> str:
    """The legacy lower-case ``code`` (the deprecated nested ``error``)."""
    wire_code(resp)
    return str(resp.json["error"]["code"])


def api_signed_in(client: t.Any) -> bool:
    """Whether ``get-session`` (an API call: always read from storage) finds a session."""
    return client.get(f"{API}/get-session").json is not None


# -- real browsers (Playwright pages) ------------------------------------------------------


def browser_sign_in(page: t.Any, base: str, password: str = PASSWORD) -> None:
    """Sign in through the sign-in page as a person would; lands on the devices page."""
    page.goto(f"{base}/account/login")
    page.get_by_label("Email address").fill("alice@example.com")
    page.get_by_label("Password", exact=True).fill(password)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(f"{base}/account/devices")


def session_cards(page: t.Any) -> t.Any:
    """The devices page's session cards."""
    return page.locator("#session-list > li[data-session-id]")


# -- rows ---------------------------------------------------------------------------------


def session_row(app: Flask, session_id: str) -> t.Any:
    """The session's row as a detached ORM object, or ``None``."""
    db = db_of(app)
    with app.app_context():
        obj = db.session.get(state_of(app).model, session_id)
        db.session.expunge_all()
        return obj


def session_rows(app: Flask, user_id: t.Any = None) -> list[t.Any]:
    """Session rows (of ``user_id``, or all) as detached ORM objects."""
    db = db_of(app)
    with app.app_context():
        model = state_of(app).model
        stmt = sa.select(model)
        if user_id is not None:
            stmt = stmt.where(model.user_id == user_id)
        rows = list(db.session.execute(stmt).scalars())
        db.session.expunge_all()
        return rows


def session_ids(app: Flask, user_id: t.Any = None) -> set[str]:
    return {row.id for row in session_rows(app, user_id)}


def user_row(app: Flask, user_id: t.Any) -> t.Any:
    """The user's row (the app's user model) as a detached object."""
    db = db_of(app)
    with app.app_context():
        user = db.session.get(state_of(app).user_model, user_id)
        db.session.expunge_all()
        return user


# -- counting work ------------------------------------------------------------------------


def session_reads(storage: str, *, cache_fresh: bool = False) -> int:
    """SQL reads that finding a request's session costs in a storage mode: none
    when Redis holds it or a fresh cache cookie vouches for it (views marked
    ``@sensitive``, like the account pages and the API, never use the cache)."""
    if "redis" in storage or ("cookie_cache" in storage and cache_fresh):
        return 0
    return 1


class StatementCounter:
    """Counts SQL statements (and transaction control) sent by an engine."""

    def __init__(self, engine: sa.Engine) -> None:
        self.engine = engine
        self.statements: list[str] = []

    def __enter__(self) -> StatementCounter:
        sa.event.listen(self.engine, "before_cursor_execute", self._on_execute)
        return self

    def __exit__(self, *exc: t.Any) -> None:
        sa.event.remove(self.engine, "before_cursor_execute", self._on_execute)

    def _on_execute(self, conn: t.Any, cursor: t.Any, statement: str, *args: t.Any) -> None:
        self.statements.append(statement)

    @property
    def reads(self) -> list[str]:
        return [s for s in self.statements if s.lstrip().upper().startswith("SELECT")]

    @property
    def writes(self) -> list[str]:
        return [s for s in self.statements if s.lstrip().upper().split(" ", 1)[0] in {"INSERT", "UPDATE", "DELETE"}]


#: What redis-py sends when it opens a connection or finds a node (Sentinel, Cluster):
#: not round trips of the request being counted, and present or not by pool state.
_CONNECTION_SETUP = {b"CLIENT", b"HELLO", b"AUTH", b"SELECT", b"READONLY", b"SENTINEL", b"CLUSTER", b"PING"}


def _command_name(command: t.Any) -> bytes:
    """The first word of a packed command (``*3\\r\\n$6\\r\\nCLIENT\\r\\n…`` → ``CLIENT``)."""
    packed = b"".join(command) if isinstance(command, (list, tuple)) else bytes(command)
    parts = packed.split(b"\r\n", 3)
    return parts[2].upper() if len(parts) > 2 else b""


class RoundTrips:
    """Counts requests sent to Redis (a pipeline or a script is one)."""

    def __init__(self) -> None:
        self.count = 0

    @contextlib.contextmanager
    def watch(self, monkeypatch: pytest.MonkeyPatch) -> t.Iterator[RoundTrips]:
        original = redis.connection.AbstractConnection.send_packed_command

        def counted(conn: t.Any, command: t.Any, check_health: bool = True) -> t.Any:
            if _command_name(command) not in _CONNECTION_SETUP:  # a new connection's handshake is no request
                self.count += 1
            return original(conn, command, check_health)

        with monkeypatch.context() as m:
            m.setattr(redis.connection.AbstractConnection, "send_packed_command", counted)
            yield self


def free_port() -> int:
    """A port on 127.0.0.1 nothing listens on now (for a server a test starts)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])
