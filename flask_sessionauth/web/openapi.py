"""OpenAPI 3 description of the JSON API, served at ``<prefix>/openapi.json``.

Written by hand next to the code it describes (rather than generated) so it can
state what matters to a client: the origin rules, which calls need a fresh
sign-in, the ``/user/...`` aliases, CORS preflights and every error status.
``tests/test_openapi.py`` runs schemathesis against the app to keep the two in
step. Every operation is built from one row of :data:`_ENDPOINTS`.
"""

from __future__ import annotations

import copy
import functools
import typing as t

from .openapi_schemas import _BOOLEAN
from .openapi_schemas import _FIELD
from .openapi_schemas import _NULL_TOKEN
from .openapi_schemas import _NULLABLE_STRING
from .openapi_schemas import _RESP
from .openapi_schemas import _SCHEMAS
from .openapi_schemas import _STATUS
from .openapi_schemas import _STRING
from .openapi_schemas import _SUDO
from .openapi_schemas import _json
from .openapi_schemas import _object
from .openapi_schemas import _ref

_ERROR_TEXT = {
    400: "VALIDATION_ERROR, INVALID_PASSWORD, PASSWORD_TOO_SHORT, PASSWORD_TOO_LONG or INVALID_TOKEN.",
    401: "UNAUTHORIZED (not signed in) or INVALID_EMAIL_OR_PASSWORD.",
    403: "INVALID_ORIGIN or MISSING_OR_NULL_ORIGIN (see the origin rules), SESSION_NOT_FRESH or SESSION_REFUSED.",
    404: "NOT_FOUND: no such path under the prefix; SESSION_NOT_FOUND: no such session of the caller's.",
    413: "PAYLOAD_TOO_LARGE: the body is larger than 16 KiB.",
    415: "UNSUPPORTED_MEDIA_TYPE: the body is not application/json.",
    429: "TOO_MANY_REQUESTS; see Retry-After (also X-Retry-After, Better Auth's header).",
    503: "STORAGE_UNAVAILABLE; see Retry-After.",
}
_SECONDS = {"description": "Seconds to wait.", "schema": {"type": "integer", "minimum": 1}}
_WAIT_HEADERS = {429: ("Retry-After", "X-Retry-After"), 503: ("Retry-After",)}
#: What every call that changes state can meet: a bad body, a foreign origin, a big or non-JSON body.
_MUTATION_ERRORS = (400, 403, 413, 415)


class _Endpoint(t.NamedTuple):
    """One endpoint: ``name`` is Better Auth's client call and the operationId."""

    method: str
    path: str
    name: str
    ok: dict[str, t.Any]  # the 200 body
    errors: tuple[int, ...] = ()
    body: dict[str, t.Any] | None = None
    public: bool = False
    alias: bool = False  # also served under /user/ (authClient.user.x())
    get_alias: bool = False  # /user/x also answers a body-less GET (the client's choice)
    query: tuple[dict[str, t.Any], ...] = ()  # query parameters
    ok_headers: dict[str, t.Any] | None = None  # headers of the 200


_SESSION_OR_NULL = {**copy.deepcopy(_SCHEMAS["SessionWithUser"]), "nullable": True}
_SESSIONS = {"type": "array", "items": _ref("Session")}
_EVENTS = {"type": "array", "items": _ref("Event")}
_TOKEN = {**_FIELD, "description": "A listed session's token (its id)."}
_PAGING = (
    {
        "name": "limit",
        "in": "query",
        "required": False,
        "description": "Sessions per answer; default and maximum SESSIONAUTH_LIST_LIMIT (100); more is capped.",
        "schema": {"type": "integer", "minimum": 1, "maximum": 999_999_999},
    },
    {
        "name": "offset",
        "in": "query",
        "required": False,
        "description": "Sessions to skip, in the listing's order (default 0).",
        "schema": {"type": "integer", "minimum": 0, "maximum": 999_999_999},
    },
)
_PAGE_HEADERS = {
    "X-Total-Count": {"description": "How many active sessions in all.", "schema": {"type": "integer", "minimum": 0}},
    "Link": {"description": 'The next page, as <url>; rel="next", when there is one.', "schema": _STRING},
}
_REVOKE = _object({"token": _TOKEN, "id": _FIELD}, minProperties=1)
_RENAME = _object(
    {"token": _TOKEN, "id": _FIELD, "name": {**_NULLABLE_STRING, "maxLength": 60, "description": "Empty: clears."}},
    minProperties=1,
)
_RENAMED = _object({"status": _BOOLEAN, "deviceName": _NULLABLE_STRING}, ["status", "deviceName"])
_CHANGE = _object(
    {"currentPassword": _FIELD, "newPassword": _FIELD, "revokeOtherSessions": {**_BOOLEAN, "default": False}},
    ["currentPassword", "newPassword"],
)
_CHANGED = _object({"token": _NULL_TOKEN, "session": _ref("Session"), "user": _ref("User")}, ["token", "user"])
_SIGN_IN = _object(
    {"email": _FIELD, "password": _FIELD, "rememberMe": {**_BOOLEAN, "default": True}, "callbackURL": _STRING},
    ["email", "password"],
)
_SIGNED_IN = copy.deepcopy(_CHANGED)
_SIGNED_IN["properties"]["redirect"] = {**_BOOLEAN, "enum": [False]}
_SIGNED_IN["required"].insert(0, "redirect")
_SUCCESS = _object({"success": _BOOLEAN}, ["success"])
_CSRF = _object({"csrfToken": _STRING}, ["csrfToken"])
_RESET_ASKED = _object({"status": _BOOLEAN, "message": _STRING}, ["status", "message"])
_RESET_ASK = _object({"email": _FIELD, "redirectTo": _STRING}, ["email"])
_RESET = _object({"newPassword": _FIELD, "token": _STRING}, ["newPassword", "token"])
#: The mailed link: a redirect, not JSON (added to the paths by hand).
_RESET_LINK = {
    "get": {
        "operationId": "resetPasswordCallback",
        "summary": "The mailed reset link: redirects to callbackURL with ?token= or ?error=INVALID_TOKEN.",
        "security": [],
        "parameters": [
            {"name": "token", "in": "path", "required": True, "schema": _STRING},
            {"name": "callbackURL", "in": "query", "required": False, "schema": _STRING},
        ],
        "responses": {
            "302": {"description": "On to callbackURL (a same-site path or a trusted origin; else the reset page)."},
            "400": {"$ref": "#/components/responses/400"},
            "503": {"$ref": "#/components/responses/503"},
        },
    }
}

_ENDPOINTS = (
    _Endpoint("get", "/get-session", "getSession", _SESSION_OR_NULL, public=True),
    _Endpoint(
        "get",
        "/list-sessions",
        "listSessions",
        _SESSIONS,
        (400, 401),
        alias=True,
        query=_PAGING,
        ok_headers=_PAGE_HEADERS,
    ),
    _Endpoint(
        "get",
        "/list-activity",
        "listActivity",
        _EVENTS,
        (400, 401),
        query=(*_PAGING, {"name": "kind", "in": "query", "required": False, "schema": _STRING}),
        ok_headers=_PAGE_HEADERS,
    ),
    _Endpoint("post", "/revoke-session", "revokeSession", _STATUS, (401,), _REVOKE, alias=True),
    _Endpoint("post", "/update-session-name", "updateSessionName", _RENAMED, (401, 404), _RENAME),
    _Endpoint("post", "/revoke-sessions", "revokeSessions", _STATUS, (401, 429), _SUDO, alias=True, get_alias=True),
    _Endpoint(
        "post", "/revoke-other-sessions", "revokeOtherSessions", _STATUS, (401, 429), _SUDO, alias=True, get_alias=True
    ),
    _Endpoint("post", "/change-password", "changePassword", _CHANGED, (401, 429), _CHANGE, alias=True),
    _Endpoint("post", "/sign-in/email", "signIn.email", _SIGNED_IN, (401, 429), _SIGN_IN, public=True),
    _Endpoint("post", "/sign-out", "signOut", _SUCCESS, body=_object({}), public=True),
    _Endpoint("get", "/csrf-token", "csrfToken", _CSRF, public=True),
    _Endpoint("get", "/openapi.json", "openapi", {"type": "object"}, public=True),
    _Endpoint("post", "/request-password-reset", "requestPasswordReset", _RESET_ASKED, (429,), _RESET_ASK, public=True),
    _Endpoint("post", "/reset-password", "resetPassword", _STATUS, (), _RESET, public=True),
)
_SUMMARIES = {
    "getSession": "The current session and user, or null when signed out (query parameters are ignored).",
    "listSessions": "The caller's active sessions, most recently active first, one page (limit, offset) of them.",
    "listActivity": "The caller's security events, newest first, one page (limit, offset; kind filters) of them.",
    "revokeSession": "Sign out one of the caller's sessions; a token that is none of them changes nothing (200).",
    "updateSessionName": "Name one of the caller's sessions (at most 60 characters); another user's is a 404.",
    "revokeSessions": "Sign out every session, this one included (sudo mode: fresh, or send the password).",
    "revokeOtherSessions": "Sign out every session but this one (sudo mode: fresh, or send the password).",
    "changePassword": "Change the password; optionally sign out every other session. This session is rotated.",
    "signIn.email": "Sign in with email and password; the token goes only into the cookie.",
    "signOut": "End this session (succeeds when already signed out).",
    "csrfToken": "Flask-WTF's token, for clients of older releases; the API no longer asks for it.",
    "openapi": "This description.",
    "requestPasswordReset": "Mail a reset link if an account has this email (the same answer and time if not).",
    "resetPassword": "Set a new password with a mailed token (single-use); every session ends by default.",
}


def _errors(statuses: t.Iterable[int]) -> dict[str, t.Any]:
    return {str(status): {"$ref": _RESP + str(status)} for status in statuses}


def _operation(endpoint: _Endpoint, operation_id: str, *, with_body: bool) -> dict[str, t.Any]:
    mutation = endpoint.method == "post"
    op: dict[str, t.Any] = {
        "operationId": operation_id,
        "summary": _SUMMARIES[endpoint.name],
        "description": f"Better Auth's `authClient.{endpoint.name}()`.",
        # Any call may meet a storage outage (fail closed).
        "responses": {
            "200": _json(endpoint.ok, "Success."),
            **_errors((*endpoint.errors, *(_MUTATION_ERRORS if mutation else ()), 503)),
        },
    }
    if endpoint.ok_headers:
        op["responses"]["200"]["headers"] = copy.deepcopy(endpoint.ok_headers)
    if endpoint.query:
        op["parameters"] = copy.deepcopy(list(endpoint.query))
    if with_body and endpoint.body is not None:
        required = bool(endpoint.body.get("required") or endpoint.body.get("minProperties"))
        op["requestBody"] = {"required": required, "content": {"application/json": {"schema": endpoint.body}}}
    if endpoint.public:
        op["security"] = []
    return op


def _preflight(operation_id: str) -> dict[str, t.Any]:
    """CORS preflight: only an origin of ``SESSIONAUTH_TRUSTED_ORIGINS`` gets ``Access-Control-Allow-*``."""
    return {
        "operationId": operation_id,
        "summary": "CORS preflight; allows credentials, GET and POST, Content-Type to trusted origins only.",
        "security": [],
        "parameters": [
            {
                "name": "Access-Control-Request-Method",
                "in": "header",
                "required": True,
                "schema": {"type": "string", "enum": ["GET", "POST"]},
            },
            {"name": "Access-Control-Request-Headers", "in": "header", "required": False, "schema": _STRING},
        ],
        "responses": {"204": {"description": "The preflight's answer (no Access-Control-Allow-* unless trusted)."}},
    }


def _paths() -> dict[str, t.Any]:
    paths: dict[str, t.Any] = {}
    for endpoint in _ENDPOINTS:
        operation_id = endpoint.name.replace(".", "")
        paths[endpoint.path] = {endpoint.method: _operation(endpoint, operation_id, with_body=True)}
        if endpoint.method == "post":
            paths[endpoint.path]["options"] = _preflight(f"{operation_id}Preflight")
        if not endpoint.alias:
            continue
        alias = f"user{operation_id[0].upper()}{operation_id[1:]}"
        item = {endpoint.method: _operation(endpoint, alias, with_body=True)}
        if endpoint.get_alias:
            item["get"] = _operation(
                endpoint._replace(method="get", errors=(*endpoint.errors, 403)), f"{alias}Get", with_body=False
            )
            item["get"]["description"] += (
                " The client sends it as GET without arguments: only a script's fetch is accepted."
            )
        if endpoint.method == "post":
            item["options"] = _preflight(f"{alias}Preflight")
        paths[f"/user{endpoint.path}"] = item
    paths["/reset-password/{token}"] = copy.deepcopy(_RESET_LINK)
    return paths


def _error_response(status: int) -> dict[str, t.Any]:
    response = _json(_ref("Error"), _ERROR_TEXT[status])
    if status in _WAIT_HEADERS:
        response["headers"] = {name: _SECONDS for name in _WAIT_HEADERS[status]}
    return response


@functools.lru_cache(maxsize=8)
def _build(prefix: str) -> dict[str, t.Any]:
    return {
        "openapi": "3.0.3",
        "info": {
            "title": "flask-sessionauth JSON API",
            "version": "2",
            "description": (
                "Better Auth's session endpoints over revocable, database-backed sessions. "
                "Calls that change state need an Origin of this site or of SESSIONAUTH_TRUSTED_ORIGINS "
                "(or Sec-Fetch-Site: same-origin without one) and JSON bodies; no CSRF token header. "
                "Trusted origins get CORS with credentials."
            ),
        },
        "servers": [{"url": prefix}],
        "paths": _paths(),
        "components": {
            "schemas": copy.deepcopy(_SCHEMAS),
            "responses": {str(status): _error_response(status) for status in _ERROR_TEXT},
            "securitySchemes": {
                "sessionCookie": {"type": "apiKey", "in": "cookie", "name": "__Host-sessionauth"},
            },
        },
        "security": [{"sessionCookie": []}],
    }


def build_openapi(prefix: str, cookie_name: str | None = None) -> dict[str, t.Any]:
    """The OpenAPI document for an API mounted at ``prefix`` (a fresh copy)."""
    spec = copy.deepcopy(_build(prefix))
    if cookie_name:
        spec["components"]["securitySchemes"]["sessionCookie"]["name"] = cookie_name
    return spec
