"""The JSON API: Better Auth's session endpoints for Flask apps.

Paths, field names (camelCase) and client calls mirror Better Auth so code and
habits carry over, without its flaw of listing raw session tokens: sessions are
identified by their public id only. Everything goes through the extension's
public API, so the pages, the CLI and this API follow the same rules.

Cross-site request forgery is stopped twice for every state-changing call: the
``Origin`` (or, without one, ``Sec-Fetch-Site``) must be this site or an exactly
listed ``SESSIONAUTH_TRUSTED_ORIGINS`` entry, and Flask-WTF's token must come in
the ``X-CSRFToken`` header (checked whenever ``WTF_CSRF_ENABLED`` is on). Bodies
must be JSON, which a plain HTML form cannot send.
"""

from __future__ import annotations

import datetime as dt
import functools
import typing as t

from flask import Blueprint
from flask import Flask
from flask import current_app
from flask import jsonify
from flask import request
from flask.wrappers import Response
from flask_wtf.csrf import CSRFError
from flask_wtf.csrf import generate_csrf
from flask_wtf.csrf import validate_csrf
from werkzeug.exceptions import HTTPException
from werkzeug.exceptions import RequestEntityTooLarge
from wtforms import ValidationError

from .context import current_session
from .context import current_user
from .context import extension
from .exceptions import InvalidPassword
from .exceptions import PasswordPolicyError
from .exceptions import RateLimited
from .exceptions import SessionAuthError
from .extension import json_error
from .openapi import build_openapi
from .useragent import describe

F = t.TypeVar("F", bound=t.Callable[..., t.Any])
UTC = dt.timezone.utc

#: Name of the API blueprint (``url_for("sessionauth_api.list_sessions")``).
BLUEPRINT_NAME = "sessionauth_api"
_SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
_DEFAULT_CSRF_HEADERS = ("X-CSRFToken", "X-CSRF-Token")
#: Largest request body the API reads, in bytes.
MAX_BODY = 16 * 1024


class ApiError(Exception):
    """An error answered as ``{"error": {"code", "message"}}`` with ``status``."""

    def __init__(self, code: str, message: str, status: int, **headers: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.status = status
        self.headers = headers

    def response(self) -> Response:
        return json_error(self.code, self.message, self.status, **self.headers)


# -- serialisation -------------------------------------------------------------


def iso(value: dt.datetime | None) -> str | None:
    """ISO 8601 in UTC with milliseconds and ``Z``, as JavaScript's ``toISOString()``."""
    if value is None:
        return None
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def session_json(obj: t.Any, current_id: str | None) -> dict[str, t.Any]:
    """A session as the API shows it: public fields only, never the secret or its hash."""
    return {
        "id": obj.id,
        "userId": str(obj.user_id),
        "expiresAt": iso(obj.expires_at),
        "ipAddress": obj.ip_address,
        "userAgent": obj.user_agent,
        "device": describe(obj.user_agent).name,
        "createdAt": iso(obj.created_at),
        "updatedAt": iso(obj.updated_at),
        "lastActiveAt": iso(obj.last_active_at),
        "current": obj.id == current_id,
    }


def user_json(user: t.Any) -> dict[str, t.Any]:
    identity_field = current_app.config["SESSIONAUTH_USER_IDENTITY_FIELD"]
    name = getattr(user, "name", None)
    return {
        "id": str(user.id),
        "email": getattr(user, identity_field),
        "name": name if isinstance(name, str) else None,
    }


def _session_and_user(session_obj: t.Any, user: t.Any) -> dict[str, t.Any]:
    return {"session": session_json(session_obj, session_obj.id), "user": user_json(user)}


# -- request checks --------------------------------------------------------------


def _own_origin() -> str:
    return f"{request.scheme}://{request.host}".lower()


def trusted_origins() -> set[str]:
    """This site's origin plus ``SESSIONAUTH_TRUSTED_ORIGINS``. The ``Origin``
    header must equal one of them exactly, as browsers serialise it (lower-case
    scheme and host, no path, no trailing slash): no wildcards, no suffix or
    case-insensitive matching. Configured entries lose a trailing slash."""
    configured = current_app.config.get("SESSIONAUTH_TRUSTED_ORIGINS") or []
    if isinstance(configured, str):
        configured = [configured]
    return {_own_origin(), *(str(origin).rstrip("/") for origin in configured)}


def check_origin() -> None:
    """Refuse cross-site calls: the first of the two CSRF defences.

    Browsers send ``Origin`` on every cross-origin and on same-origin
    ``fetch`` POSTs. Without it, ``Sec-Fetch-Site`` must say ``same-origin``;
    with neither we cannot tell, so the call is refused (non-browser clients
    set ``Origin`` themselves).
    """
    origin = request.headers.get("Origin")
    site = request.headers.get("Sec-Fetch-Site")
    if origin is not None:
        if origin == _own_origin() and site not in (None, "same-origin"):
            raise ApiError("forbidden_origin", "Cross-site requests are not allowed.", 403)
        if origin in trusted_origins():
            return
        raise ApiError("forbidden_origin", "Cross-site requests are not allowed.", 403)
    if site != "same-origin":
        raise ApiError("forbidden_origin", "Send an Origin header from an allowed origin.", 403)


def check_content_type() -> None:
    """A body, if any, must be JSON: forms and ``text/plain`` (what a cross-site
    ``<form>`` can send without a preflight) are refused."""
    has_body = bool(request.content_length) or bool(request.headers.get("Transfer-Encoding"))
    if (has_body or request.mimetype) and not request.is_json:
        raise ApiError("unsupported_media_type", "Send the body as application/json.", 415)


def csrf_enabled() -> bool:
    """The token check follows Flask-WTF's own switch, so tests that turn
    ``WTF_CSRF_ENABLED`` off for forms do so for the API as well. The origin
    check stays on regardless."""
    return bool(current_app.config.get("WTF_CSRF_ENABLED", True))


def check_csrf_token() -> None:
    if not csrf_enabled():
        return
    headers = current_app.config.get("WTF_CSRF_HEADERS") or _DEFAULT_CSRF_HEADERS
    token = next((request.headers[name] for name in headers if request.headers.get(name)), None)
    if token is None:
        raise ApiError("csrf_missing", "The CSRF token is missing (send it in the X-CSRFToken header).", 403)
    try:
        validate_csrf(token)
    except ValidationError as exc:
        raise ApiError("csrf_invalid", str(exc.args[0]) if exc.args else "The CSRF token is invalid.", 403) from None


def json_body() -> dict[str, t.Any]:
    """The request's JSON object (``{}`` for an empty body)."""
    if not request.get_data(cache=True):
        return {}
    data = request.get_json(silent=True)
    if not isinstance(data, dict):
        raise ApiError("invalid_body", "The body must be a JSON object.", 400)
    return data


def _string(body: dict[str, t.Any], key: str) -> str:
    value = body.get(key)
    if not isinstance(value, str) or not value:
        raise ApiError("invalid_body", f"'{key}' is required and must be a string.", 400)
    return value


def _boolean(body: dict[str, t.Any], key: str, default: bool) -> bool:
    value = body.get(key, default)
    if value is None:
        return default
    if not isinstance(value, bool):
        raise ApiError("invalid_body", f"'{key}' must be true or false.", 400)
    return value


def signed_in(view: F) -> F:
    """401 JSON for anonymous callers (no redirect: this is an API)."""

    @functools.wraps(view)
    def wrapper(*args: t.Any, **kwargs: t.Any) -> t.Any:
        if not extension().is_authenticated():
            raise ApiError("unauthorized", "Sign in to continue.", 401)
        return view(*args, **kwargs)

    return t.cast(F, wrapper)


def fresh(view: F) -> F:
    """Sudo mode, as on the pages: the password must have been entered in this
    session within ``SESSIONAUTH_FRESH_AGE``. An API client may confirm it in
    the same call with ``{"password": ...}`` (the pages' confirm step)."""

    @functools.wraps(view)
    def wrapper(*args: t.Any, **kwargs: t.Any) -> t.Any:
        ext = extension()
        if not ext.is_fresh():
            password = json_body().get("password")
            if password is None:
                raise ApiError("fresh_login_required", "Confirm your password to continue.", 403)
            if not isinstance(password, str):
                raise ApiError("invalid_body", "'password' must be a string.", 400)
            try:
                ext.reauthenticate(password)
            except InvalidPassword as exc:
                raise ApiError(exc.code, exc.message, 400) from None
            except RateLimited:
                raise  # the app's handler answers 429 JSON with Retry-After
            except SessionAuthError as exc:  # the session ended meanwhile
                raise ApiError("unauthorized", exc.message, 401) from None
        return view(*args, **kwargs)

    return t.cast(F, wrapper)


# -- the blueprint -----------------------------------------------------------------


def create_api_blueprint(app: Flask) -> Blueprint:
    """Build the API blueprint; ``init_app`` registers it under ``SESSIONAUTH_API_PREFIX``."""
    bp = Blueprint(BLUEPRINT_NAME, __name__)
    prefix = app.config.get("SESSIONAUTH_API_PREFIX") or "/api/auth"

    @bp.before_request
    def protect() -> None:
        if request.method in _SAFE_METHODS:
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

    @bp.errorhandler(ApiError)
    def api_error(error: ApiError) -> Response:
        return error.response()

    @bp.errorhandler(CSRFError)
    def csrf_error(error: CSRFError) -> Response:
        # Raised by an app-wide CSRFProtect that was set up after this
        # blueprint (so it could not be exempted); answer in the API's format.
        return json_error("csrf_invalid", str(error.description), 403)

    @bp.get("/get-session")
    def get_session() -> t.Any:
        """Better Auth ``getSession``: the session and user, or ``null`` when signed out."""
        if not extension().is_authenticated():
            return jsonify(None)
        return jsonify(_session_and_user(current_session._get_current_object(), current_user._get_current_object()))

    @bp.get("/list-sessions")
    @signed_in
    def list_sessions() -> t.Any:
        """Better Auth ``listSessions``: the caller's active sessions, newest activity first."""
        current_id = current_session.id
        return jsonify([session_json(obj, current_id) for obj in extension().list_sessions()])

    @bp.post("/revoke-session")
    @signed_in
    def revoke_session() -> t.Any:
        """Better Auth ``revokeSession`` (by public ``id``, not by token)."""
        session_id = _string(json_body(), "id")
        if not extension().revoke_session(session_id):
            raise ApiError("session_not_found", "No such session.", 404)
        return jsonify(status=True)

    @bp.post("/revoke-sessions")
    @signed_in
    @fresh
    def revoke_sessions() -> t.Any:
        """Better Auth ``revokeSessions``: every session, this one included."""
        json_body()
        return jsonify(status=True, revoked=extension().revoke_sessions())

    @bp.post("/revoke-other-sessions")
    @signed_in
    @fresh
    def revoke_other_sessions() -> t.Any:
        """Better Auth ``revokeOtherSessions``: every session but this one."""
        json_body()
        return jsonify(status=True, revoked=extension().revoke_other_sessions())

    @bp.post("/change-password")
    @signed_in
    def change_password() -> t.Any:
        """Better Auth ``changePassword``; the current password is always required."""
        body = json_body()
        current_password = _string(body, "currentPassword")
        new_password = _string(body, "newPassword")
        revoke_others = _boolean(body, "revokeOtherSessions", False)
        user = current_user._get_current_object()
        try:
            rotated = extension().change_password(user, current_password, new_password, revoke_others)
        except InvalidPassword as exc:
            raise ApiError(exc.code, exc.message, 400) from None
        except PasswordPolicyError as exc:
            raise ApiError(exc.code, exc.message, 400) from None
        session_obj = rotated or current_session._get_current_object()
        return jsonify(_session_and_user(session_obj, user))

    @bp.post("/sign-in/email")
    def sign_in_email() -> t.Any:
        """Better Auth ``signIn.email``. The cookie is the only place the token goes."""
        body = json_body()
        email = _string(body, "email")
        password = _string(body, "password")
        remember = _boolean(body, "rememberMe", True)
        ext = extension()
        user = ext.authenticate(email, password)
        if user is None:
            # Same answer for unknown emails, wrong passwords and disabled accounts.
            raise ApiError("invalid_credentials", "Invalid email or password.", 401)
        try:
            session_obj = ext.login_user(user, remember=remember)
        except SessionAuthError as exc:
            raise ApiError("invalid_credentials", "Invalid email or password.", 401) from exc
        return jsonify(_session_and_user(session_obj, user))

    @bp.post("/sign-out")
    def sign_out() -> t.Any:
        """Better Auth ``signOut``: ends this session; harmless when signed out."""
        json_body()
        extension().logout_user()
        return jsonify(success=True)

    @bp.get("/csrf-token")
    def csrf_token() -> t.Any:
        """The Flask-WTF token for the ``X-CSRFToken`` header (pages also carry
        it in ``<meta name="csrf-token">``)."""
        return jsonify(csrfToken=generate_csrf())

    @bp.get("/openapi.json")
    def openapi() -> t.Any:
        return jsonify(build_openapi(request.script_root + prefix, extension().settings.cookie_name))

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
