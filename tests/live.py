"""Helpers for the real-browser tests: Debian's Chromium (never a downloaded
browser) and the test app served by a real WSGI server on 127.0.0.1."""

from __future__ import annotations

import contextlib
import os
import shutil
import threading
import typing as t

from flask import Flask
from werkzeug.serving import WSGIRequestHandler
from werkzeug.serving import make_server

from tests.conftest import create_app
from tests.conftest import db
from tests.helpers import PASSWORD

CHROMIUM = os.environ.get("SESSIONAUTH_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


def chromium_available() -> bool:
    if not (os.path.exists(CHROMIUM) or shutil.which(CHROMIUM)):
        return False
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return False
    return True


def live_app(database_path: str, **config: t.Any) -> Flask:
    """The conftest app on a SQLite file, over plain http (so no ``__Host-`` prefix)."""
    app = create_app(
        {
            "SQLALCHEMY_DATABASE_URI": f"sqlite:///{database_path}",
            "SESSIONAUTH_COOKIE_SECURE": False,
            "WTF_CSRF_ENABLED": True,
            **config,
        }
    )
    with app.app_context():
        db.drop_all()
        db.create_all()
        app.extensions["sessionauth"].create_user("alice@example.com", PASSWORD, name="Alice")
    return app


class QuietHandler(WSGIRequestHandler):
    """No access log lines in the test output."""

    def log_request(self, *args: t.Any, **kwargs: t.Any) -> None:
        pass


@contextlib.contextmanager
def serve(app: Flask) -> t.Iterator[str]:
    """Serve any WSGI ``app`` on 127.0.0.1 (a free port) in a thread; yields the base URL."""
    server = make_server("127.0.0.1", 0, app, threaded=True, request_handler=QuietHandler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(10)


@contextlib.contextmanager
def live_server(app: Flask) -> t.Iterator[str]:
    """Serve the test ``app`` like :func:`serve`, then release its database."""
    try:
        with serve(app) as url:
            yield url
    finally:
        with app.app_context():
            db.session.remove()
            db.engine.dispose()


@contextlib.contextmanager
def launch_chromium() -> t.Iterator[t.Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()
