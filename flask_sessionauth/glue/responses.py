"""Answers that are not a view's own: errors, "sign in first", "confirm your
password". One mapping from error to response serves pages and API alike:
the error carries its status, code and message; the request decides between
HTML (the ``sessionauth/error.html`` template) and JSON."""

from __future__ import annotations

import typing as t
from urllib.parse import urlencode

from flask import current_app
from flask import g
from flask import has_request_context
from flask import jsonify
from flask import redirect
from flask import render_template
from flask import request
from flask import url_for
from flask.wrappers import Response
from jinja2 import TemplateNotFound
from sqlalchemy.exc import SQLAlchemyError
from werkzeug.exceptions import Unauthorized

from ..core import messages
from ..core.errors import ConfigurationError
from ..core.errors import FreshLoginRequired
from ..core.errors import NotSignedIn
from ..core.errors import RateLimited
from ..core.errors import SessionAuthError
from ..core.errors import StorageUnavailable
from ..core.i18n import Text
from ..core.i18n import _l
from ..core.redirects import safe_redirect
from ..storage.errors import classify
from .state import STATE_KEY

#: Page titles for errors answered as HTML.
_TITLES = {
    429: _l("Too many attempts"),
    503: _l("Temporarily unavailable"),
    401: _l("Please sign in"),
    403: _l("Confirm your password"),
    404: _l("Not found"),
}


def storage_error_response(error: SQLAlchemyError) -> Response:
    """A database failure the extension's own views did not expect (e.g. an
    expired attribute reloading after a commit, while storage went away): the
    same logged, typed 503 as any storage error, never a 500."""
    return error_response(classify(error))


def wants_json() -> bool:
    """API paths and clients that prefer JSON get JSON errors."""
    if not has_request_context():
        return False
    state = current_app.extensions.get(STATE_KEY)
    prefix = state.api_prefix if state is not None else "/api/auth"
    if request.path.startswith(prefix + "/") or request.is_json:
        return True
    best = request.accept_mimetypes.best_match(["text/html", "application/json"])
    return best == "application/json" and request.accept_mimetypes[best] > request.accept_mimetypes["text/html"]


def json_error(error: SessionAuthError) -> Response:
    """The API's error body, one shape for every error: Better Auth's
    ``{"code", "message"}`` at the top level (``code`` is ``wire_code``), and,
    deprecated and kept for one release, ``{"error": {"code", "message"}}``
    with the older lower-case ``code``."""
    response = jsonify(
        code=error.wire_code,
        message=error.message,
        error={"code": error.code, "message": error.message},
    )
    response.status_code = error.status
    response.vary.add("Accept-Language")  # ``message`` is in the caller's language
    return response


def error_headers(error: SessionAuthError) -> dict[str, str]:
    headers = {"Cache-Control": "no-store"}
    retry_after = getattr(error, "retry_after", None)
    if retry_after is not None and isinstance(error, (RateLimited, StorageUnavailable)):
        headers["Retry-After"] = str(int(retry_after))
        if isinstance(error, RateLimited):
            headers["X-Retry-After"] = headers["Retry-After"]  # Better Auth's header
    return headers


def error_page(status: int, title: Text, message: Text, **context: t.Any) -> Response:
    """An HTML error page from the ``sessionauth/error.html`` template (plain
    text when the account pages are not registered)."""
    try:
        # No CSRF token on an error page: it must not start a Flask session.
        body = render_template(
            "sessionauth/error.html", title=title, message=message, sessionauth_error_page=True, **context
        )
        response = current_app.make_response((body, status))
    except TemplateNotFound:
        response = current_app.make_response((f"{title}\n\n{message}\n", status, {"Content-Type": "text/plain"}))
    return response


def error_response(error: SessionAuthError) -> Response:
    """Any :class:`SessionAuthError` as a response: the app-wide handler."""
    headers = error_headers(error)
    if isinstance(error, StorageUnavailable):
        # Storage is gone: answer as nobody, but keep the cookie (not a sign-out).
        state = g.get("_sessionauth")
        if state is not None:
            state.set_record(None)
    if wants_json():
        response = json_error(error)
    else:
        title: Text = _TITLES.get(error.status) or _l("Something went wrong")
        if isinstance(error, ConfigurationError):  # not an outage: waiting will not help
            title = messages.NOT_SET_UP_TITLE
        response = error_page(error.status, title, error.message)
    response.headers.update(headers)
    return response


def current_path() -> str:
    """This request's path (with ``script_root``), safe to come back to."""
    path = request.script_root + (request.full_path if request.query_string else request.path)
    return safe_redirect(path, "/")


def unauthorized() -> t.Any:
    """What :func:`login_required` answers anonymous users."""
    state = current_app.extensions[STATE_KEY]
    if state.unauthorized_callback is not None:
        return state.unauthorized_callback()
    if wants_json():
        return error_response(NotSignedIn())
    # Only a page is worth returning to: a POST-only URL answers a GET with 405.
    target = current_path() if request.method in ("GET", "HEAD") else None
    view = current_app.config["SESSIONAUTH_LOGIN_VIEW"]
    if view:
        if "/" not in view:  # an endpoint, else a URL
            return redirect(url_for(view, next=target))
        query = urlencode({"next": target}, safe="/") if target else ""
        return redirect(f"{view}{'&' if '?' in view else '?'}{query}" if query else view)
    if "sessionauth" in current_app.blueprints:
        return redirect(url_for("sessionauth.login", next=target))
    raise Unauthorized()


def needs_fresh_login() -> t.Any:
    """What :func:`fresh_login_required` answers a stale session."""
    if wants_json():
        return error_response(FreshLoginRequired())
    if "sessionauth" in current_app.blueprints:
        return redirect(url_for("sessionauth.confirm", next=current_path()))
    raise Unauthorized()
