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

_REF = "#/components/schemas/"
_RESP = "#/components/responses/"


def _ref(name: str) -> dict[str, str]:
    return {"$ref": _REF + name}


def _json(schema: dict[str, t.Any], description: str) -> dict[str, t.Any]:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def _object(properties: dict[str, t.Any], required: t.Sequence[str] = (), **extra: t.Any) -> dict[str, t.Any]:
    schema: dict[str, t.Any] = {"type": "object", "additionalProperties": False, "properties": properties, **extra}
    if required:
        schema["required"] = list(required)
    return schema


_STRING = {"type": "string"}
_FIELD = {"type": "string", "minLength": 1}
_BOOLEAN = {"type": "boolean"}
_DATE = {"type": "string", "format": "date-time"}
_NULLABLE_DATE = {**_DATE, "nullable": True}
_NULLABLE_STRING = {"type": "string", "nullable": True}
_NULL_TOKEN = {
    "type": "string",
    "nullable": True,
    "enum": [None],
    "description": "Always null: the cookie is the only credential (Better Auth sends the token here).",
}
_STATUS = _object({"status": _BOOLEAN, "revoked": {"type": "integer", "minimum": 0}}, ["status"])
_SUDO = _object({"password": {**_FIELD, "description": "Confirms the password when the session is not fresh."}})

_SCHEMAS: dict[str, t.Any] = {
    "Event": _object(
        {
            "id": {"type": "integer"},
            "kind": {"type": "string", "description": 'What happened, e.g. "sign_in", "session_revoked".'},
            "label": _STRING,
            "reason": _NULLABLE_STRING,
            "createdAt": _DATE,
            "device": _STRING,
            **dict.fromkeys(
                ("ipAddress", "country", "region", "city", "sessionId", "targetSessionId", "targetDevice"),
                _NULLABLE_STRING,
            ),
            "newDevice": {**_BOOLEAN, "nullable": True},
            "byAdministrator": _BOOLEAN,
        },
        ["id", "kind", "label", "createdAt", "device", "byAdministrator"],
    ),
    "Session": _object(
        {
            "id": {"type": "string", "description": "Public session id (safe to show)."},
            "token": {"type": "string", "description": "Better Auth's field: the public id again, never a credential."},
            "userId": _STRING,
            "expiresAt": _DATE,
            "ipAddress": _NULLABLE_STRING,
            "userAgent": _NULLABLE_STRING,
            "device": {"type": "string", "description": 'Readable name, e.g. "Chrome 131 on macOS".'},
            "createdAt": _DATE,
            "updatedAt": _DATE,
            "lastActiveAt": _NULLABLE_DATE,
            "current": {"type": "boolean", "description": "Whether this is the caller's session."},
        },
        ["id", "token", "userId", "expiresAt", "ipAddress", "userAgent", "device", "createdAt", "updatedAt"]
        + ["lastActiveAt", "current"],
        description="One signed-in device. Never includes the cookie's secret or its hash.",
    ),
    "User": _object(
        {
            "id": _STRING,
            "email": _STRING,
            "name": _NULLABLE_STRING,
            "emailVerified": _BOOLEAN,
            "image": _NULLABLE_STRING,
            "createdAt": _NULLABLE_DATE,
            "updatedAt": _NULLABLE_DATE,
        },
        ["id", "email", "name", "emailVerified", "image", "createdAt", "updatedAt"],
        description="null where the user model has no such column.",
    ),
    "SessionWithUser": _object({"session": _ref("Session"), "user": _ref("User")}, ["session", "user"]),
    "Error": _object(
        {
            "code": {"type": "string", "description": "Better Auth's code, e.g. SESSION_NOT_FRESH."},
            "message": {"type": "string", "description": "Human-readable; safe to show."},
            "error": _object(
                {"code": {"type": "string", "description": "The older lower-case code."}, "message": _STRING},
                ["code", "message"],
                deprecated=True,
                description="Deprecated (one release): the same error with the older code.",
            ),
        },
        ["code", "message", "error"],
    ),
}

_ERROR_TEXT = {
    400: "VALIDATION_ERROR, INVALID_PASSWORD, PASSWORD_TOO_SHORT or PASSWORD_TOO_LONG.",
    401: "UNAUTHORIZED (not signed in) or INVALID_EMAIL_OR_PASSWORD.",
    403: "INVALID_ORIGIN or MISSING_OR_NULL_ORIGIN (see the origin rules), or SESSION_NOT_FRESH.",
    404: "NOT_FOUND: no such path under the prefix.",
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
    _Endpoint("post", "/revoke-sessions", "revokeSessions", _STATUS, (401, 429), _SUDO, alias=True, get_alias=True),
    _Endpoint(
        "post", "/revoke-other-sessions", "revokeOtherSessions", _STATUS, (401, 429), _SUDO, alias=True, get_alias=True
    ),
    _Endpoint("post", "/change-password", "changePassword", _CHANGED, (401, 429), _CHANGE, alias=True),
    _Endpoint("post", "/sign-in/email", "signIn.email", _SIGNED_IN, (401, 429), _SIGN_IN, public=True),
    _Endpoint("post", "/sign-out", "signOut", _SUCCESS, body=_object({}), public=True),
    _Endpoint("get", "/csrf-token", "csrfToken", _CSRF, public=True),
    _Endpoint("get", "/openapi.json", "openapi", {"type": "object"}, public=True),
)
_SUMMARIES = {
    "getSession": "The current session and user, or null when signed out (query parameters are ignored).",
    "listSessions": "The caller's active sessions, most recently active first, one page (limit, offset) of them.",
    "listActivity": "The caller's security events, newest first, one page (limit, offset; kind filters) of them.",
    "revokeSession": "Sign out one of the caller's sessions; a token that is none of them changes nothing (200).",
    "revokeSessions": "Sign out every session, this one included (sudo mode: fresh, or send the password).",
    "revokeOtherSessions": "Sign out every session but this one (sudo mode: fresh, or send the password).",
    "changePassword": "Change the password; optionally sign out every other session. This session is rotated.",
    "signIn.email": "Sign in with email and password; the token goes only into the cookie.",
    "signOut": "End this session (succeeds when already signed out).",
    "csrfToken": "Flask-WTF's token, for clients of older releases; the API no longer asks for it.",
    "openapi": "This description.",
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
