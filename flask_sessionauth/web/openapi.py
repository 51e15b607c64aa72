"""OpenAPI 3 description of the JSON API, served at ``<prefix>/openapi.json``.

Written by hand next to the code it describes (rather than generated) so it can
state what matters to a client: which calls need the CSRF token, which need a
fresh sign-in, and every error status. ``tests/test_openapi.py`` runs
schemathesis against the app to keep the two in step.
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


def _errors(*statuses: int) -> dict[str, t.Any]:
    return {str(status): {"$ref": _RESP + str(status)} for status in statuses}


def _body(properties: dict[str, t.Any], required: list[str], *, optional_body: bool = False) -> dict[str, t.Any]:
    schema: dict[str, t.Any] = {"type": "object", "properties": properties}
    if required:
        schema["required"] = required
    return {"required": not optional_body, "content": {"application/json": {"schema": schema}}}


_NULLABLE_DATE = {"type": "string", "format": "date-time", "nullable": True}
_STATUS = {
    "type": "object",
    "required": ["status"],
    "properties": {"status": {"type": "boolean"}, "revoked": {"type": "integer", "minimum": 0}},
}
# Calls that change state: Origin check plus the CSRF token (see the API docs).
_MUTATION_ERRORS = (400, 403, 413, 415)
_SUDO_BODY = _body(
    {"password": {"type": "string", "description": "Confirms the password when the session is not fresh."}},
    [],
    optional_body=True,
)

_SCHEMAS: dict[str, t.Any] = {
    "Session": {
        "type": "object",
        "description": "One signed-in device. Never includes the token, its secret or hash.",
        "additionalProperties": False,
        "required": [
            "id",
            "userId",
            "expiresAt",
            "ipAddress",
            "userAgent",
            "device",
            "createdAt",
            "updatedAt",
            "lastActiveAt",
            "current",
        ],
        "properties": {
            "id": {"type": "string", "description": "Public session id (safe to show)."},
            "userId": {"type": "string"},
            "expiresAt": {"type": "string", "format": "date-time"},
            "ipAddress": {"type": "string", "nullable": True},
            "userAgent": {"type": "string", "nullable": True},
            "device": {"type": "string", "description": 'Readable name, e.g. "Chrome 131 on macOS".'},
            "createdAt": {"type": "string", "format": "date-time"},
            "updatedAt": {"type": "string", "format": "date-time"},
            "lastActiveAt": _NULLABLE_DATE,
            "current": {"type": "boolean", "description": "Whether this is the caller's session."},
        },
    },
    "User": {
        "type": "object",
        "additionalProperties": False,
        "required": ["id", "email", "name"],
        "properties": {
            "id": {"type": "string"},
            "email": {"type": "string"},
            "name": {"type": "string", "nullable": True},
        },
    },
    "SessionWithUser": {
        "type": "object",
        "additionalProperties": False,
        "required": ["session", "user"],
        "properties": {"session": _ref("Session"), "user": _ref("User")},
    },
    "Error": {
        "type": "object",
        "additionalProperties": False,
        "required": ["error"],
        "properties": {
            "error": {
                "type": "object",
                "required": ["code", "message"],
                "properties": {
                    "code": {"type": "string", "description": "Stable machine-readable code."},
                    "message": {"type": "string", "description": "Human-readable; safe to show."},
                },
            }
        },
    },
}

_ERROR_TEXT = {
    400: "Invalid body, wrong password, or a password that breaks the policy.",
    401: "Not signed in, or wrong credentials.",
    403: "Cross-site request, missing/invalid CSRF token, or a fresh sign-in is required.",
    404: "No such session among the caller's.",
    413: "The body is larger than 16 KiB.",
    415: "The body is not application/json.",
    429: "Too many attempts; see Retry-After.",
    503: "Session storage is unreachable; see Retry-After.",
}


def _error_response(status: int) -> dict[str, t.Any]:
    response = _json(_ref("Error"), _ERROR_TEXT[status])
    if status in (429, 503):
        response["headers"] = {
            "Retry-After": {"description": "Seconds to wait.", "schema": {"type": "integer", "minimum": 1}}
        }
    return response


def _operation(
    operation_id: str,
    summary: str,
    mirrors: str,
    responses: dict[str, t.Any],
    *,
    body: dict[str, t.Any] | None = None,
    mutation: bool = False,
    public: bool = False,
) -> dict[str, t.Any]:
    op: dict[str, t.Any] = {
        "operationId": operation_id,
        "summary": summary,
        "description": f"Mirrors Better Auth's `{mirrors}`.",
        "responses": responses,
    }
    if body is not None:
        op["requestBody"] = body
    if mutation:
        op["parameters"] = [{"$ref": "#/components/parameters/CSRFToken"}]
        for status in _MUTATION_ERRORS:
            op["responses"].setdefault(str(status), {"$ref": _RESP + str(status)})
    # Any call carrying a cookie may meet a storage outage (fail closed).
    op["responses"].setdefault("503", {"$ref": _RESP + "503"})
    if public:
        op["security"] = []
    return op


@functools.lru_cache(maxsize=8)
def _build(prefix: str) -> dict[str, t.Any]:
    session_with_user = _json(_ref("SessionWithUser"), "The session and its user.")
    paths: dict[str, t.Any] = {
        "/get-session": {
            "get": _operation(
                "getSession",
                "The current session and user, or null when signed out.",
                "getSession",
                {
                    "200": _json(
                        {**copy.deepcopy(_SCHEMAS["SessionWithUser"]), "nullable": True},
                        "The session and user, or null.",
                    )
                },
                public=True,
            )
        },
        "/list-sessions": {
            "get": _operation(
                "listSessions",
                "The caller's active sessions, most recently active first.",
                "authClient.user.listSessions",
                {"200": _json({"type": "array", "items": _ref("Session")}, "Active sessions."), **_errors(401)},
            )
        },
        "/revoke-session": {
            "post": _operation(
                "revokeSession",
                "Sign out one of the caller's sessions by id.",
                "authClient.user.revokeSession",
                {"200": _json(_STATUS, "Revoked."), **_errors(401, 404)},
                body=_body({"id": {"type": "string"}}, ["id"]),
                mutation=True,
            )
        },
        "/revoke-sessions": {
            "post": _operation(
                "revokeSessions",
                "Sign out every session, this one included (needs a fresh sign-in).",
                "authClient.user.revokeSessions",
                {"200": _json(_STATUS, "Revoked."), **_errors(401, 429)},
                body=_SUDO_BODY,
                mutation=True,
            )
        },
        "/revoke-other-sessions": {
            "post": _operation(
                "revokeOtherSessions",
                "Sign out every session but this one (needs a fresh sign-in).",
                "authClient.user.revokeOtherSessions",
                {"200": _json(_STATUS, "Revoked."), **_errors(401, 429)},
                body=_SUDO_BODY,
                mutation=True,
            )
        },
        "/change-password": {
            "post": _operation(
                "changePassword",
                "Change the password; optionally sign out every other session.",
                "authClient.user.changePassword",
                {"200": session_with_user, **_errors(401, 429)},
                body=_body(
                    {
                        "currentPassword": {"type": "string"},
                        "newPassword": {"type": "string"},
                        "revokeOtherSessions": {"type": "boolean", "default": False},
                    },
                    ["currentPassword", "newPassword"],
                ),
                mutation=True,
            )
        },
        "/sign-in/email": {
            "post": _operation(
                "signInEmail",
                "Sign in with email and password; the token goes only into the cookie.",
                "authClient.signIn.email",
                {"200": session_with_user, **_errors(401, 429)},
                body=_body(
                    {
                        "email": {"type": "string"},
                        "password": {"type": "string"},
                        "rememberMe": {"type": "boolean", "default": True},
                    },
                    ["email", "password"],
                ),
                mutation=True,
                public=True,
            )
        },
        "/sign-out": {
            "post": _operation(
                "signOut",
                "End this session (succeeds when already signed out).",
                "authClient.signOut",
                {
                    "200": _json(
                        {"type": "object", "required": ["success"], "properties": {"success": {"type": "boolean"}}},
                        "Signed out.",
                    )
                },
                mutation=True,
                public=True,
            )
        },
        "/csrf-token": {
            "get": _operation(
                "csrfToken",
                "The CSRF token to send in X-CSRFToken.",
                "(none: Better Auth relies on origin checks only)",
                {
                    "200": _json(
                        {
                            "type": "object",
                            "additionalProperties": False,
                            "required": ["csrfToken"],
                            "properties": {"csrfToken": {"type": "string"}},
                        },
                        "The token.",
                    )
                },
                public=True,
            )
        },
        "/openapi.json": {
            "get": _operation(
                "openapi",
                "This description.",
                "openAPI plugin",
                {"200": _json({"type": "object"}, "OpenAPI document.")},
                public=True,
            )
        },
    }
    return {
        "openapi": "3.0.3",
        "info": {
            "title": "flask-sessionauth JSON API",
            "version": "1",
            "description": (
                "Revocable, database-backed sessions with Better Auth's endpoint names. "
                "State-changing calls need a same-origin (or trusted) Origin, or "
                "Sec-Fetch-Site: same-origin, plus the CSRF token in X-CSRFToken."
            ),
        },
        "servers": [{"url": prefix}],
        "paths": paths,
        "components": {
            "schemas": copy.deepcopy(_SCHEMAS),
            "responses": {str(status): _error_response(status) for status in _ERROR_TEXT},
            "parameters": {
                "CSRFToken": {
                    "name": "X-CSRFToken",
                    "in": "header",
                    "required": False,
                    "description": "Flask-WTF CSRF token (GET csrf-token or <meta name=csrf-token>).",
                    "schema": {"type": "string"},
                }
            },
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
