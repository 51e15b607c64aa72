"""The OpenAPI document's building blocks and component schemas (see :mod:`.openapi`)."""

from __future__ import annotations

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
            "deviceName": {**_NULLABLE_STRING, "description": 'The name its owner gave it, e.g. "Work laptop".'},
            "country": {**_NULLABLE_STRING, "description": 'ISO 3166-1 alpha-2 at sign-in; "ZZ": local network.'},
            "region": _NULLABLE_STRING,
            "city": _NULLABLE_STRING,
            "location": {**_NULLABLE_STRING, "description": 'Readable, e.g. "near Lyon, France".'},
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
