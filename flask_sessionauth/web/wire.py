"""What goes over the API's wire: request bodies in, JSON shapes out.

One place for the field names, shapes and body rules, so every endpoint
reads and writes them the same way (and so do the docs and the OpenAPI file).
"""

from __future__ import annotations

import json
import typing as t

from flask import request

from ..core.errors import SessionAuthError
from ..core.presentation import iso
from ..core.useragent import describe
from ..glue.state import app_state


class InvalidBody(SessionAuthError, code="invalid_body", message="The body must be a JSON object."):
    """Not a flat JSON object of the endpoint's fields."""


class UnsupportedMediaType(
    SessionAuthError, status=415, code="unsupported_media_type", message="Send the body as application/json."
):
    """A form or text body, which a cross-site ``<form>`` could send."""


class CsrfMissing(
    SessionAuthError,
    status=403,
    code="csrf_missing",
    message="The CSRF token is missing (send it in the X-CSRFToken header).",
):
    """No token in the header."""


class CsrfInvalid(SessionAuthError, status=403, code="csrf_invalid", message="The CSRF token is invalid."):
    """A token that does not verify."""


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
    name = getattr(user, "name", None)
    return {
        "id": str(user.id),
        "email": getattr(user, app_state().identity_attr),
        "name": name if isinstance(name, str) else None,
    }


def session_and_user(session_obj: t.Any, user: t.Any) -> dict[str, t.Any]:
    return {"session": session_json(session_obj, session_obj.id), "user": user_json(user)}


def json_body(*fields: str) -> dict[str, t.Any]:
    """The request's JSON object (``{}`` for an empty body): a flat object whose
    keys are among ``fields`` and whose values are strings, numbers, booleans
    or null. Anything else (nesting at any depth included) is a 400."""
    raw = request.get_data(cache=True)
    if not raw:
        return {}
    try:
        data = json.loads(raw)
    except (ValueError, RecursionError):
        raise InvalidBody() from None
    if not isinstance(data, dict):
        raise InvalidBody()
    for key, value in data.items():
        if key not in fields:
            raise InvalidBody(f"Unexpected field '{key}'.")
        if isinstance(value, (dict, list)):
            raise InvalidBody(f"'{key}' must not be an object or a list.")
    return data


def string_field(body: dict[str, t.Any], key: str) -> str:
    value = body.get(key)
    if not isinstance(value, str) or not value:
        raise InvalidBody(f"'{key}' is required and must be a string.")
    return value


def boolean_field(body: dict[str, t.Any], key: str, default: bool) -> bool:
    value = body.get(key, default)
    if value is None:
        return default
    if not isinstance(value, bool):
        raise InvalidBody(f"'{key}' must be true or false.")
    return value
