"""The JSON API: Better Auth's session endpoints for Flask apps.

Paths, field names (camelCase) and client calls mirror Better Auth so code and
habits carry over, without its flaw of listing raw session tokens: sessions are
identified by their public id only. Every handler calls :mod:`..glue.actions`,
so the pages, the CLI and this API follow the same rules, and every error is a
:class:`~flask_sessionauth.SessionAuthError` answered by one handler.

Cross-site request forgery is stopped twice for every state-changing call: the
origin checks of :mod:`..glue.csrf` (here an ``Origin`` or ``Sec-Fetch-Site``
header is required: API calls come from browsers' ``fetch`` or from clients
that say where they come from) and Flask-WTF's token in ``X-CSRFToken``
(whenever ``WTF_CSRF_ENABLED`` is on). Bodies must be flat JSON objects of
the endpoint's fields, which a plain HTML form cannot send.
"""

from __future__ import annotations

import typing as t

from flask import Blueprint
from flask import Flask
from flask import jsonify
from flask import request
from flask.wrappers import Response
from flask_wtf.csrf import CSRFError
from flask_wtf.csrf import generate_csrf
from flask_wtf.csrf import validate_csrf
from werkzeug.exceptions import HTTPException
from werkzeug.exceptions import RequestEntityTooLarge
from wtforms import ValidationError

from ..core.errors import CrossOriginRequest
from ..core.errors import FreshLoginRequired
from ..core.errors import InvalidCredentials
from ..core.errors import InvalidPassword
from ..core.errors import NotSignedIn
from ..core.errors import SessionAuthError
from ..core.errors import SessionNotFound
from ..glue import actions
from ..glue.csrf import SAFE_METHODS
from ..glue.csrf import csrf_enabled
from ..glue.csrf import is_same_origin_request
from ..glue.csrf import submitted_csrf_token
from ..glue.proxies import current_session
from ..glue.proxies import current_user
from ..glue.proxies import sensitive
from ..glue.responses import error_response
from ..glue.responses import json_error
from ..glue.state import app_state
from .openapi import build_openapi
from .wire import CsrfInvalid
from .wire import CsrfMissing
from .wire import InvalidBody
from .wire import UnsupportedMediaType
from .wire import boolean_field
from .wire import json_body
from .wire import session_and_user
from .wire import session_json
from .wire import string_field

#: Name of the API blueprint (``url_for("sessionauth_api.list_sessions")``).
BLUEPRINT_NAME = "sessionauth_api"
#: Largest request body the API reads, in bytes.
MAX_BODY = 16 * 1024


# -- request checks --------------------------------------------------------------


def check_origin() -> None:
    """Same-origin or trusted ``Origin``; unlike the pages, a call saying
    nothing about where it comes from is refused too."""
    if request.headers.get("Origin") is None and request.headers.get("Sec-Fetch-Site") is None:
        raise CrossOriginRequest("Send an Origin header from an allowed origin.")
    if not is_same_origin_request():
        raise CrossOriginRequest()


def check_content_type() -> None:
    """A body, if any, must be JSON: forms and ``text/plain`` (what a cross-site
    ``<form>`` can send without a preflight) are refused."""
    has_body = bool(request.content_length) or bool(request.headers.get("Transfer-Encoding"))
    if (has_body or request.mimetype) and not request.is_json:
        raise UnsupportedMediaType()


def check_csrf_token() -> None:
    if not csrf_enabled():
        return
    token = submitted_csrf_token()
    if token is None:
        raise CsrfMissing()
    try:
        validate_csrf(token)
    except ValidationError as exc:
        raise CsrfInvalid(str(exc.args[0]) if exc.args else None) from None


def _signed_in() -> None:
    if not actions.is_authenticated():
        raise NotSignedIn()


def _fresh(body: dict[str, t.Any]) -> None:
    """Sudo mode, as on the pages; an API client may confirm the password in the
    same call with ``{"password": ...}`` (the pages' confirm step)."""
    if actions.is_fresh():
        return
    password = body.get("password")
    if password is None:
        raise FreshLoginRequired()
    if not isinstance(password, str):
        raise InvalidBody("'password' must be a string.")
    try:
        actions.reauthenticate(password)
    except InvalidPassword as exc:
        raise _as_bad_request(exc) from None


def _as_bad_request(exc: SessionAuthError) -> SessionAuthError:
    """A wrong current password is a 400 here, as Better Auth answers it."""
    error = SessionAuthError(exc.message)
    error.status, error.code = 400, exc.code
    return error


# -- the blueprint -----------------------------------------------------------------


def create_api_blueprint(app: Flask) -> Blueprint:
    """Build the API blueprint; ``init_app`` registers it under ``SESSIONAUTH_API_PREFIX``."""
    bp = Blueprint(BLUEPRINT_NAME, __name__)
    prefix = app.extensions["sessionauth.state"].api_prefix

    @bp.before_request
    def protect() -> None:
        if request.method in SAFE_METHODS:
            return
        # Every body here is a few fields; never buffer more than this.
        limit = request.max_content_length
        request.max_content_length = MAX_BODY if limit is None else min(limit, MAX_BODY)
        check_origin()
        check_content_type()
        check_csrf_token()

    @bp.after_request
    def no_store(response: Response) -> Response:
        # Answers carry personal data and depend on the cookie; nosniff keeps
        # a cross-site <script src> from reading JSON as script.
        response.headers["Cache-Control"] = "no-store"
        response.headers["X-Content-Type-Options"] = "nosniff"
        response.vary.add("Cookie")
        return response

    @bp.errorhandler(RequestEntityTooLarge)
    def too_large(error: RequestEntityTooLarge) -> Response:
        return json_error("payload_too_large", f"The body must be at most {MAX_BODY} bytes.", 413)

    @bp.errorhandler(SessionAuthError)
    def api_error(error: SessionAuthError) -> Response:
        return error_response(error)

    @bp.errorhandler(CSRFError)
    def csrf_error(error: CSRFError) -> Response:
        # Raised by an app-wide CSRFProtect that was set up after this
        # blueprint (so it could not be exempted); answer in the API's format.
        return json_error("csrf_invalid", str(error.description), 403)

    def get_session() -> t.Any:
        """Better Auth ``getSession``: the session and user, or ``null`` when signed out."""
        if not actions.is_authenticated():
            return jsonify(None)
        return jsonify(session_and_user(current_session._get_current_object(), current_user._get_current_object()))

    def list_sessions() -> t.Any:
        """Better Auth ``listSessions``: the caller's active sessions, newest activity first."""
        _signed_in()
        current_id = current_session.id
        return jsonify([session_json(obj, current_id) for obj in actions.list_sessions()])

    def revoke_session() -> t.Any:
        """Better Auth ``revokeSession`` (by public ``id``, not by token)."""
        _signed_in()
        body = json_body("id", "token")
        session_id = string_field(body, "id")
        if not actions.revoke(None, [session_id], keep_current=False, reason="revoke"):
            raise SessionNotFound("No such session.")
        return jsonify(status=True)

    def revoke_sessions() -> t.Any:
        """Better Auth ``revokeSessions``: every session, this one included."""
        _signed_in()
        body = json_body("password")
        _fresh(body)
        return jsonify(status=True, revoked=actions.revoke(None, None, keep_current=False, reason="revoke_all"))

    def revoke_other_sessions() -> t.Any:
        """Better Auth ``revokeOtherSessions``: every session but this one."""
        _signed_in()
        body = json_body("password")
        _fresh(body)
        return jsonify(status=True, revoked=actions.revoke(None, None, keep_current=True, reason="revoke_others"))

    def change_password() -> t.Any:
        """Better Auth ``changePassword``; the current password is always required."""
        _signed_in()
        body = json_body("currentPassword", "newPassword", "revokeOtherSessions")
        current_password = string_field(body, "currentPassword")
        new_password = string_field(body, "newPassword")
        revoke_others = boolean_field(body, "revokeOtherSessions", False)
        user = current_user._get_current_object()
        try:
            rotated = actions.change_password(user, current_password, new_password, revoke_others)
        except InvalidPassword as exc:
            raise _as_bad_request(exc) from None
        session_obj = rotated or current_session._get_current_object()
        return jsonify(session_and_user(session_obj, user))

    def sign_in_email() -> t.Any:
        """Better Auth ``signIn.email``. The cookie is the only place the token goes."""
        body = json_body("email", "password", "rememberMe", "callbackURL")
        email = string_field(body, "email")
        password = string_field(body, "password")
        remember = boolean_field(body, "rememberMe", True)
        user = actions.authenticate(email, password)
        if user is None:
            # Same answer for unknown emails, wrong passwords and disabled accounts.
            raise InvalidCredentials("Invalid email or password.")
        session_obj = actions.login_user(user, remember=remember)
        return jsonify(session_and_user(session_obj, user))

    def sign_out() -> t.Any:
        """Better Auth ``signOut``: ends this session; harmless when signed out."""
        json_body()
        actions.logout_user()
        return jsonify(success=True)

    def csrf_token() -> t.Any:
        """The Flask-WTF token for the ``X-CSRFToken`` header (pages also carry
        it in ``<meta name="csrf-token">``)."""
        return jsonify(csrfToken=generate_csrf())

    def openapi() -> t.Any:
        return jsonify(build_openapi(request.script_root + prefix, app_state().settings.cookie_name))

    for rule, view, method in (
        ("/get-session", get_session, "GET"),
        ("/list-sessions", list_sessions, "GET"),
        ("/revoke-session", revoke_session, "POST"),
        ("/revoke-sessions", revoke_sessions, "POST"),
        ("/revoke-other-sessions", revoke_other_sessions, "POST"),
        ("/change-password", change_password, "POST"),
        ("/sign-in/email", sign_in_email, "POST"),
        ("/sign-out", sign_out, "POST"),
        ("/csrf-token", csrf_token, "GET"),
        ("/openapi.json", openapi, "GET"),
    ):
        # The API's session always comes from storage, never the cookie cache.
        bp.add_url_rule(rule, view.__name__, sensitive(view), methods=[method])

    csrf = app.extensions.get("csrf")
    if csrf is not None:
        # The API checks origin and token itself and answers in JSON.
        csrf.exempt(bp)
    _json_routing_errors(app, prefix)
    return bp


def _json_routing_errors(app: Flask, prefix: str) -> None:
    """Unknown paths and wrong methods under the API prefix answer in JSON too.

    Routing errors happen before any blueprint is chosen, so this needs an app
    handler; it leaves every other path (and handlers the app set first) alone.
    """
    for status in (404, 405):
        if status in app.error_handler_spec[None]:
            continue

        def handler(error: HTTPException) -> t.Any:
            if not request.path.startswith(prefix + "/"):
                return error
            response = json_error(
                "not_found" if error.code == 404 else "method_not_allowed",
                str(error.description),
                int(error.code or 500),
            )
            if error.code == 405:
                response.headers["Allow"] = ", ".join(getattr(error, "valid_methods", None) or [])
            return response

        app.register_error_handler(status, handler)
