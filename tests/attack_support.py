"""Shared helpers for the issue-10 attack tests (not a test module).

Everything here drives the package through its public contract only: HTTP
routes, documented configuration keys, ``SessionAuth`` methods and signals.
Apps come from ``tests.conftest.create_app``; servers, certificates, Redis
clean-up and thread helpers are defined here so each test file stays small.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import http.client
import ipaddress
import json
import logging
import re
import ssl
import threading
import typing as t
import urllib.parse

import pytest
from flask import Flask
from werkzeug.serving import WSGIRequestHandler
from werkzeug.serving import make_server

from tests.conftest import REDIS_URL
from tests.conftest import PrivateRedis
from tests.conftest import create_app
from tests.conftest import db
from tests.conftest import require
from tests.helpers import PASSWORD

#: A port nothing listens on: Redis "down" without touching the real server.
DEAD_REDIS_URL = "redis://127.0.0.1:1/0"
NEW_PASSWORD = "a brand new passphrase"
OUTAGE_MESSAGE = "Sign-in is temporarily unavailable"


# -- apps -----------------------------------------------------------------------------


def sqlite_url(tmp_path: t.Any, name: str = "app.db") -> str:
    return f"sqlite:///{tmp_path / name}"


def build_app(database_url: str, users: t.Sequence[str] = ("alice@example.com",), **config: t.Any) -> Flask:
    """The conftest app on ``database_url`` with fresh tables and ``users``
    (created in order, so the first is id 1 on an empty database)."""
    app = create_app({"SQLALCHEMY_DATABASE_URI": database_url, "WTF_CSRF_ENABLED": True, **config})
    with app.app_context():
        db.drop_all()
        db.create_all()
        for email in users:
            app.extensions["sessionauth"].create_user(email, PASSWORD)
    return app


def dispose(app: Flask, drop: bool = True) -> None:
    with app.app_context():
        db.session.remove()
        if drop:
            with contextlib.suppress(Exception):
                db.drop_all()
        db.engine.dispose()


@contextlib.contextmanager
def app_on(database_url: str, users: t.Sequence[str] = ("alice@example.com",), **config: t.Any) -> t.Iterator[Flask]:
    app = build_app(database_url, users, **config)
    try:
        yield app
    finally:
        dispose(app)


def user_id(app: Flask, email: str) -> t.Any:
    from tests.conftest import User

    with app.app_context():
        return db.session.execute(db.select(User.id).where(User.email == email)).scalar_one()


def session_rows(app: Flask, uid: t.Any = None) -> int:
    with app.app_context():
        model = app.extensions["sessionauth"].session_model
        stmt = db.select(db.func.count()).select_from(model)
        if uid is not None:
            stmt = stmt.where(model.user_id == uid)
        return int(db.session.execute(stmt).scalar_one())


# -- Redis ----------------------------------------------------------------------------


@contextlib.contextmanager
def private_redis_space() -> t.Iterator[PrivateRedis]:
    """A key prefix of this test's own on the test Redis (``SESSIONAUTH_TEST_REDIS``):
    apps configured with ``space.config`` write only under it, and only its keys are
    deleted afterwards (never FLUSHDB, never a key of another test or program)."""
    require("redis")
    space = PrivateRedis(REDIS_URL)
    try:
        yield space
    finally:
        space.close()


# -- pages and API through the test client -------------------------------------------


def text(resp: t.Any) -> str:
    return str(resp.get_data(as_text=True))


def csrf_from(html: str) -> str:
    match = re.search(r'<meta name="csrf-token" content="([^"]+)"', html) or re.search(
        r'name="csrf_token"[^>]*value="([^"]+)"', html
    )
    assert match, html[:2000]
    return match.group(1)


def csrf_token(client: t.Any, path: str = "/account/login") -> str:
    resp = client.get(path)
    return csrf_from(text(resp))


#: The test client's own origin (``http://localhost``).
LOCAL_ORIGIN = "http://localhost"


def same_origin(origin: str = LOCAL_ORIGIN) -> dict[str, str]:
    """What a browser sends with a form POST to its own site."""
    return {"Origin": origin, "Sec-Fetch-Site": "same-origin"}


def page_sign_in(
    client: t.Any,
    email: str = "alice@example.com",
    password: str = PASSWORD,
    prefix: str = "",
    origin: str = LOCAL_ORIGIN,
    **extra: t.Any,
) -> t.Any:
    data = {"email": email, "password": password, "csrf_token": csrf_token(client, prefix + "/account/login")}
    data.update(extra)
    return client.post(prefix + "/account/login", data=data, headers=same_origin(origin))


def page_post(
    client: t.Any,
    path: str,
    data: dict[str, t.Any] | None = None,
    page: str = "/account/devices",
    origin: str = LOCAL_ORIGIN,
) -> t.Any:
    """A form POST as the page's own form sends it: its CSRF token, same-origin headers."""
    return client.post(path, data={"csrf_token": csrf_token(client, page), **(data or {})}, headers=same_origin(origin))


def api_headers(client: t.Any, origin: str = LOCAL_ORIGIN) -> dict[str, str]:
    token = client.get("/api/auth/csrf-token").json["csrfToken"]
    return {"Origin": origin, "X-CSRFToken": token}


def api_post(
    client: t.Any, path: str, body: t.Any = None, *, raw: bytes | None = None, origin: str = LOCAL_ORIGIN
) -> t.Any:
    data = raw if raw is not None else (b"" if body is None else json.dumps(body).encode())
    kwargs: dict[str, t.Any] = {"headers": api_headers(client, origin), "data": data}
    if data:
        kwargs["content_type"] = "application/json"
    return client.post("/api/auth/" + path, **kwargs)


def whoami(client: t.Any) -> t.Any:
    resp = client.get("/whoami")
    assert resp.status_code == 200, (resp.status_code, text(resp)[:500])
    return resp.json["user_id"]


def cookie_value(client: t.Any, name: str) -> str | None:
    cookie = client.get_cookie(name)
    return None if cookie is None else str(cookie.value)


def session_cookie_name(app: Flask) -> str:
    """The documented name: ``__Host-`` + SESSIONAUTH_COOKIE_NAME when secure."""
    name = app.config.get("SESSIONAUTH_COOKIE_NAME", "sessionauth")
    return f"__Host-{name}" if app.config.get("SESSIONAUTH_COOKIE_SECURE", True) else name


def cookie_header(app: Flask, client: t.Any) -> str:
    """The ``Cookie`` header ``client`` would send (all its cookies)."""
    parts = []
    for name in (session_cookie_name(app), session_cookie_name(app) + "_cache"):
        value = cookie_value(client, name)
        if value is not None:
            parts.append(f"{name}={value}")
    return "; ".join(parts)


def raw_get(app: Flask, path: str, cookie: str, base_url: str | None = None, **environ: t.Any) -> t.Any:
    c = app.test_client(use_cookies=False)
    kwargs: dict[str, t.Any] = {"base_url": base_url} if base_url else {}
    return c.get(path, headers={"Cookie": cookie}, environ_base=environ, **kwargs)


def client_at(app: Flask, base_url: str, **environ: t.Any) -> t.Any:
    """A test client whose every request goes to ``base_url`` (scheme, host,
    script root): the test client takes these from ``base_url`` only."""
    c = app.test_client()
    c.environ_base.update(environ)
    open_ = c.open

    def open_at(*args: t.Any, **kwargs: t.Any) -> t.Any:
        kwargs.setdefault("base_url", base_url)
        return open_(*args, **kwargs)

    c.open = open_at  # type: ignore[method-assign]
    return c


# -- logs -----------------------------------------------------------------------------


class Records(logging.Handler):
    """Collects every log record of every logger while installed."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)

    def texts(self, level: int = logging.DEBUG) -> list[str]:
        out = []
        for r in self.records:
            if r.levelno < level:
                continue
            body = r.getMessage()
            if r.exc_info:
                body += "\n" + logging.Formatter().formatException(r.exc_info)
            out.append(body)
        return out

    def messages(self, level: int = logging.DEBUG) -> list[str]:
        return [r.getMessage() for r in self.records if r.levelno >= level]


@contextlib.contextmanager
def all_logs(level: int = logging.DEBUG, verbose: t.Sequence[str] = ()) -> t.Iterator[Records]:
    """Every record of every logger at ``level`` and above; the loggers named in
    ``verbose`` (e.g. ``sqlalchemy.engine``, which SQLAlchemy sets to WARNING)
    are opened up to ``level`` for the duration too."""
    root = logging.getLogger()
    handler = Records()
    old = root.level
    opened = {name: logging.getLogger(name).level for name in verbose}
    root.addHandler(handler)
    root.setLevel(level)
    for name in verbose:
        logging.getLogger(name).setLevel(level)
    try:
        yield handler
    finally:
        root.removeHandler(handler)
        root.setLevel(old)
        for name, previous in opened.items():
            logging.getLogger(name).setLevel(previous)


# -- threads --------------------------------------------------------------------------


def run_threads(targets: t.Sequence[t.Callable[[], t.Any]], timeout: float = 120) -> list[t.Any]:
    """Run each callable in its own thread; return results (or raised exceptions) in order."""
    results: list[t.Any] = [None] * len(targets)

    def wrap(i: int, fn: t.Callable[[], t.Any]) -> None:
        try:
            results[i] = fn()
        except BaseException as exc:  # noqa: BLE001 - reported to the test
            results[i] = exc

    threads = [threading.Thread(target=wrap, args=(i, fn), daemon=True) for i, fn in enumerate(targets)]
    for th in threads:
        th.start()
    for th in threads:
        th.join(timeout)
    alive = [th for th in threads if th.is_alive()]
    if alive:
        pytest.fail(f"{len(alive)} thread(s) still running after {timeout} s")
    return results


# -- HTTP over real sockets -------------------------------------------------------------


class Http:
    """A tiny cookie-less HTTP client for a server on 127.0.0.1."""

    def __init__(self, base_url: str, timeout: float = 60) -> None:
        parts = urllib.parse.urlsplit(base_url)
        self.host = parts.hostname or "127.0.0.1"
        self.port = parts.port or 80
        self.timeout = timeout

    def request(
        self, method: str, path: str, body: bytes | None = None, headers: dict[str, str] | None = None
    ) -> tuple[int, dict[str, str], bytes]:
        conn = http.client.HTTPConnection(self.host, self.port, timeout=self.timeout)
        try:
            conn.request(method, path, body=body, headers=headers or {})
            resp = conn.getresponse()
            data = resp.read()
            return resp.status, folded_headers(resp), data
        finally:
            conn.close()

    def form(
        self, path: str, fields: dict[str, str], headers: dict[str, str] | None = None
    ) -> tuple[int, dict[str, str], bytes]:
        body = urllib.parse.urlencode(fields).encode()
        return self.request(
            "POST", path, body, {"Content-Type": "application/x-www-form-urlencoded", **(headers or {})}
        )


def folded_headers(resp: t.Any) -> dict[str, str]:
    """An ``http.client`` response's headers by lower-case name, repeated ones
    (``Set-Cookie``) folded with ", " in order."""
    folded: dict[str, str] = {}
    for key, value in resp.getheaders():
        key = key.lower()
        folded[key] = f"{folded[key]}, {value}" if key in folded else value
    return folded


def set_cookie_value(headers: dict[str, str], name: str) -> str | None:
    """The value ``Set-Cookie`` gives ``name`` (http.client folds repeated headers with ', ')."""
    raw = headers.get("set-cookie", "")
    match = re.search(rf"(?:^|[,;]\s*){re.escape(name)}=([^;,]*)", raw)
    return match.group(1) if match else None


class QuietHandler(WSGIRequestHandler):
    def log_request(self, *args: t.Any, **kwargs: t.Any) -> None:
        pass


# -- TLS ------------------------------------------------------------------------------


def self_signed_cert(directory: t.Any, names: t.Sequence[str]) -> tuple[str, str]:
    """A throwaway certificate for ``names`` (and 127.0.0.1); returns (cert, key) paths."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, names[0])])
    now = dt.datetime.now(dt.timezone.utc)
    sans: list[x509.GeneralName] = [x509.DNSName(n) for n in names]
    sans.append(x509.IPAddress(ipaddress.ip_address("127.0.0.1")))
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=2))
        .add_extension(x509.SubjectAlternativeName(sans), critical=False)
        .sign(key, hashes.SHA256())
    )
    cert_path = directory / "cert.pem"
    key_path = directory / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    return str(cert_path), str(key_path)


@contextlib.contextmanager
def tls_server(wsgi_app: t.Any, cert: str, key: str) -> t.Iterator[int]:
    """Serve ``wsgi_app`` over HTTPS on 127.0.0.1 (threaded); yields the port."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    server = make_server("127.0.0.1", 0, wsgi_app, threaded=True, ssl_context=context, request_handler=QuietHandler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server.server_port
    finally:
        server.shutdown()
        server.server_close()
        thread.join(10)


def host_dispatcher(apps: dict[str, t.Any]) -> t.Callable[..., t.Any]:
    """One WSGI app serving several host names (``Host`` header without port)."""

    def dispatch(environ: dict[str, t.Any], start_response: t.Any) -> t.Any:
        host = environ.get("HTTP_HOST", "").rsplit(":", 1)[0].lower()
        app = apps.get(host)
        if app is None:
            start_response("421 Misdirected Request", [("Content-Type", "text/plain")])
            return [b"unknown host"]
        return app(environ, start_response)

    return dispatch


# -- Chromium -------------------------------------------------------------------------


def chromium_path() -> str:
    import os

    return os.environ.get("SESSIONAUTH_CHROMIUM", "/usr/bin/chromium")


def require_chromium() -> None:
    import os
    import shutil

    from tests.conftest import REQUIRE_SERVICES

    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        ok = False
    else:
        ok = os.path.exists(chromium_path()) or shutil.which(chromium_path()) is not None
    if ok:
        return
    if REQUIRE_SERVICES:
        pytest.fail(f"Chromium ({chromium_path()}) and Playwright are required")
    pytest.skip(f"Chromium not found at {chromium_path()}")


@contextlib.contextmanager
def chromium(*extra_args: str) -> t.Iterator[t.Any]:
    """Debian's Chromium (never a downloaded one) with ``extra_args``."""
    from playwright.sync_api import sync_playwright

    from tests.live import CHROMIUM_ARGS

    require_chromium()
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium_path(), args=[*CHROMIUM_ARGS, *extra_args])
        try:
            yield browser
        finally:
            browser.close()
