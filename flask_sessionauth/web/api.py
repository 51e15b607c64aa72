"""The JSON API: Better Auth's session endpoints for Flask apps.

Paths, request fields, answers, error codes and statuses are Better Auth's, so
its unmodified client (``createAuthClient`` from ``better-auth/client``, and
the ``useSession`` hooks built on it) works against a Flask back end; the
``/user/...`` aliases serve the ``authClient.user.x()`` spelling. Never a
credential in a body: where Better Auth puts a session ``token``, this API
puts the public session id (``token: null`` after sign-in and password
change). Every handler calls :mod:`..glue.actions`, so the pages, the CLI and
this API follow the same rules, and every error is a
:class:`~flask_sessionauth.SessionAuthError` answered by one handler.

Cross-site request forgery: every call that changes state must come from this
site's origin or a trusted one (:func:`..glue.csrf.check_api_origin`; an
``Origin`` header, or ``Sec-Fetch-Site: same-origin``), with a JSON body if it
has one, and a flat JSON object of the endpoint's fields, which a plain HTML
form cannot send. No token header (Better Auth's client sends none; see
docs/api.md). Trusted other origins get CORS (:mod:`.cors`).
"""

from __future__ import annotations

import typing as t

from flask import Blueprint
from flask import Flask
from flask import jsonify
from flask import request
from flask import url_for
from flask.wrappers import Response
from flask_wtf.csrf import generate_csrf
from sqlalchemy.exc import SQLAlchemyError
from werkzeug.exceptions import HTTPException
from werkzeug.exceptions import RequestEntityTooLarge

from ..core.errors import FreshLoginRequired
from ..core.errors import InvalidCredentials
from ..core.errors import NotSignedIn
from ..core.errors import SessionAuthError
from ..core.i18n import _l
from ..glue import actions
from ..glue.csrf import check_api_origin
from ..glue.csrf import check_fetch_mode
from ..glue.hook import request_state
from ..glue.proxies import current_session
from ..glue.proxies import current_user
from ..glue.proxies import sensitive
from ..glue.proxies import session_proxy
from ..glue.responses import error_response
from ..glue.responses import storage_error_response
from ..glue.state import app_state
from .activity import add_api as add_activity_api
from .cors import add_cors_headers
from .cors import preflight
from .openapi import build_openapi
from .recovery_api import RECOVERY_ROUTES
from .wire import MAX_BODY
from .wire import InvalidBody
from .wire import MethodNotAllowed
from .wire import NotFound
from .wire import PayloadTooLarge
from .wire import UnsupportedMediaType
from .wire import boolean_field
from .wire import json_body
from .wire import query_number
from .wire import session_and_user
from .wire import session_json
from .wire import session_reference
from .wire import string_field
from .wire import token_and_user

#: Largest ``offset`` of list-sessions (far beyond any cap; keeps the number small).
MAX_OFFSET = 1_000_000
#: Name of the API blueprint (``url_for("sessionauth_api.list_sessions")``).
BLUEPRINT_NAME = "sessionauth_api"
#: Better Auth's client sends ``authClient.user.revokeSessions()`` and
#: ``.user.revokeOtherSessions()`` (no arguments) as GET: these GET routes
#: change state, so they get the POST rules and more (see :func:`protect`).
STATE_CHANGING_GETS = frozenset(
    f"{BLUEPRINT_NAME}.{name}" for name in ("user_revoke_sessions", "user_revoke_other_sessions")
)


# -- request checks --------------------------------------------------------------


def changes_state() -> bool:
    if request.method in ("GET", "HEAD"):  # Flask runs a GET view for HEAD too
        return request.endpoint in STATE_CHANGING_GETS
    return request.method != "OPTIONS"


def check_content_type() -> None:
    """A body, if any, must be JSON: forms and ``text/plain`` (what a cross-site
    ``<form>`` can send without a preflight) are refused."""
    has_body = bool(request.content_length) or bool(request.headers.get("Transfer-Encoding"))
    if (has_body or request.mimetype) and not request.is_json:
        raise UnsupportedMediaType()


def protect() -> Response | None:
    """Before every API view: answer CORS preflights; for a call that changes
    state, cap the body, then check the origin (and, for a GET, that a script
    sent it), then the content type."""
    answer = preflight()
    if answer is not None or not changes_state():
        return answer
    # Every body here is a few fields; never buffer more than this.
    limit = request.max_content_length
    request.max_content_length = MAX_BODY if limit is None else min(limit, MAX_BODY)
    if request.method != "POST":
        check_fetch_mode()
    check_api_origin()
    check_content_type()
    return None


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
        raise InvalidBody(_l("'%(field)s' must be a string.", field="password"))
    actions.reauthenticate(password)


# -- the views -------------------------------------------------------------------


def get_session() -> t.Any:
    """Better Auth ``getSession``: the session and user, or ``null`` when signed
    out. Query parameters (``disableCookieCache``, ...) are accepted and need
    nothing: the API always reads storage."""
    if not actions.is_authenticated():
        return jsonify(None)
    return jsonify(session_and_user(session_proxy._get_current_object(), current_user._get_current_object()))


def list_sessions() -> t.Any:
    """Better Auth ``listSessions``: the caller's active sessions, newest
    activity first; still the plain array Better Auth's client expects, but
    one page of it: ``?limit=`` (default and maximum ``SESSIONAUTH_LIST_LIMIT``)
    and ``?offset=``. ``X-Total-Count`` says how many there are, and a
    ``Link: <...>; rel="next"`` header points at the next page, if any."""
    _signed_in()
    most = app_state().list_limit
    limit = query_number("limit", most, 1, most)
    offset = query_number("offset", 0, 0, MAX_OFFSET)
    current_id = current_session.id
    listed, total = actions.page_of_sessions(limit, offset)
    response = jsonify([session_json(obj, current_id) for obj in listed])
    response.headers["X-Total-Count"] = str(total)
    if offset + limit < total:
        following = url_for(f"{BLUEPRINT_NAME}.list_sessions", limit=limit, offset=offset + limit)
        response.headers["Link"] = f'<{following}>; rel="next"'
    return response


def revoke_session() -> t.Any:
    """Better Auth ``revokeSession({token})`` (the listed ``token``, i.e. the
    public id; ``{id}`` too). A session that is not the caller's is answered
    like one that was revoked, and nothing changes (as in Better Auth)."""
    _signed_in()
    body = json_body("id", "token")
    actions.revoke(None, [session_reference(body)], keep_current=False, reason="revoke")
    return jsonify(status=True)


def update_session_name() -> t.Any:
    """Name one of the caller's sessions: ``{id}`` (or ``{token}``, the listed
    public id) and ``{name}`` (empty or null clears it). Another user's
    session is answered exactly like one that does not exist (404)."""
    _signed_in()
    body = json_body("id", "token", "name")
    name = actions.rename_session(session_reference(body), body.get("name"))
    return jsonify(status=True, deviceName=name)


def revoke_sessions() -> t.Any:
    """Better Auth ``revokeSessions``: every session, this one included."""
    _signed_in()
    _fresh(json_body("password"))
    return jsonify(status=True, revoked=actions.revoke(None, None, keep_current=False, reason="revoke_all"))


def revoke_other_sessions() -> t.Any:
    """Better Auth ``revokeOtherSessions``: every session but this one."""
    _signed_in()
    _fresh(json_body("password"))
    return jsonify(status=True, revoked=actions.revoke(None, None, keep_current=True, reason="revoke_others"))


def change_password() -> t.Any:
    """Better Auth ``changePassword``; the current password is always required."""
    _signed_in()
    body = json_body("currentPassword", "newPassword", "revokeOtherSessions")
    current_password = string_field(body, "currentPassword")
    new_password = string_field(body, "newPassword")
    revoke_others = boolean_field(body, "revokeOtherSessions", False)
    user = current_user._get_current_object()
    rotated = actions.change_password(user, current_password, new_password, revoke_others)
    return jsonify(token_and_user(rotated or session_proxy._get_current_object(), user))


def sign_in_email() -> t.Any:
    """Better Auth ``signIn.email``. The cookie is the only place the token goes."""
    body = json_body("email", "password", "rememberMe", "callbackURL")
    email = string_field(body, "email")
    password = string_field(body, "password")
    remember = boolean_field(body, "rememberMe", True)
    user = actions.authenticate(email, password)
    if user is None:
        # Same answer for unknown emails, wrong passwords and disabled accounts.
        raise InvalidCredentials()
    session_obj = actions.login_user(user, remember=remember)
    return jsonify(redirect=False, **token_and_user(session_obj, user))


def sign_out() -> t.Any:
    """Better Auth ``signOut``: ends this session; harmless when signed out."""
    json_body()
    actions.logout_user()
    return jsonify(success=True)


def csrf_token() -> t.Any:
    """Flask-WTF's token, for clients of older releases (the API no longer asks for it)."""
    return jsonify(csrfToken=generate_csrf())


def openapi() -> t.Any:
    state = request_state()
    name = state.cookie_name if state is not None else app_state().settings.cookie_name
    return jsonify(build_openapi(request.script_root + app_state().api_prefix, name))


#: ``(rule, view, methods, Better Auth's path too)``: the ``/user/...`` aliases
#: serve ``authClient.user.x()``, which the real client turns into ``/user/x``.
ROUTES: tuple[tuple[str, t.Callable[..., t.Any], tuple[str, ...], bool], ...] = (
    ("/get-session", get_session, ("GET",), False),
    ("/list-sessions", list_sessions, ("GET",), True),
    ("/revoke-session", revoke_session, ("POST",), True),
    ("/update-session-name", update_session_name, ("POST",), False),
    ("/revoke-sessions", revoke_sessions, ("POST",), True),
    ("/revoke-other-sessions", revoke_other_sessions, ("POST",), True),
    ("/change-password", change_password, ("POST",), True),
    ("/sign-in/email", sign_in_email, ("POST",), False),
    ("/sign-out", sign_out, ("POST",), False),
    ("/csrf-token", csrf_token, ("GET",), False),
    ("/openapi.json", openapi, ("GET",), False),
    *RECOVERY_ROUTES,
)


# -- the blueprint -----------------------------------------------------------------


def create_api_blueprint(app: Flask) -> Blueprint:
    """Build the API blueprint; ``init_app`` registers it under ``SESSIONAUTH_API_PREFIX``."""
    bp = Blueprint(BLUEPRINT_NAME, __name__)
    bp.before_request(protect)

    @bp.errorhandler(RequestEntityTooLarge)
    def too_large(error: RequestEntityTooLarge) -> Response:
        return error_response(PayloadTooLarge())

    @bp.errorhandler(SessionAuthError)
    def api_error(error: SessionAuthError) -> Response:
        return error_response(error)

    bp.register_error_handler(SQLAlchemyError, storage_error_response)

    for rule, view, methods, aliased in ROUTES:
        # The API's session always comes from storage, never the cookie cache.
        bp.add_url_rule(rule, view.__name__, sensitive(view), methods=list(methods))
        if aliased:
            get_too = view in (revoke_sessions, revoke_other_sessions)
            alias_methods = ["GET", *methods] if get_too else list(methods)
            bp.add_url_rule(f"/user{rule}", f"user_{view.__name__}", view, methods=alias_methods)

    add_activity_api(bp)
    prefix = app.extensions["sessionauth.state"].api_prefix
    _exempt_from_csrf_protect(app, bp)
    _api_headers(app, prefix)
    _json_routing_errors(app, prefix)
    return bp


def _exempt_from_csrf_protect(app: Flask, bp: Blueprint) -> None:
    """An app-wide Flask-WTF ``CSRFProtect`` would ask API calls for a token
    that Better Auth's client never sends: exempt the blueprint, whether
    ``CSRFProtect`` was set up before us (now) or after (on each request,
    before its own check, which it registered after ours)."""

    def exempt() -> None:
        csrf = app.extensions.get("csrf")
        if csrf is not None:
            csrf.exempt(bp)

    exempt()
    app.before_request(exempt)


def _api_headers(app: Flask, prefix: str) -> None:
    """Headers of every answer under the prefix, the app's own error answers
    (404, 405, 503, ...) included."""

    @app.after_request
    def api_headers(response: Response) -> Response:
        if not request.path.startswith(prefix + "/"):
            return response
        # Answers carry personal data and depend on the cookie; nosniff keeps
        # a cross-site <script src> from reading JSON as script.
        response.headers["Cache-Control"] = "no-store"
        response.headers["X-Content-Type-Options"] = "nosniff"
        response.vary.add("Cookie")
        return add_cors_headers(response)


def _json_routing_errors(app: Flask, prefix: str) -> None:
    """Unknown paths and wrong methods under the API prefix answer in JSON too.

    Routing errors happen before any blueprint is chosen, so this needs an app
    handler; it leaves every other path (and handlers the app set first) alone.
    """
    for status in (404, 405):
        # The account pages' styled handler (not the app's) is chained to.
        previous = next(iter(app.error_handler_spec[None].get(status, {}).values()), None)
        if previous is not None and not getattr(previous, "sessionauth_fallback", False):
            continue

        def handler(error: HTTPException, previous: t.Any = previous) -> t.Any:
            if not request.path.startswith(prefix + "/"):
                return error if previous is None else previous(error)
            if error.code != 405:
                return error_response(NotFound())
            response = error_response(MethodNotAllowed())
            response.headers["Allow"] = ", ".join(getattr(error, "valid_methods", None) or [])
            return response

        app.register_error_handler(status, handler)
