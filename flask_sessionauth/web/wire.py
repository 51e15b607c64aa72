"""What goes over the API's wire: request bodies in, JSON shapes out.

One place for the field names, shapes and body rules, so every endpoint
reads and writes them the same way (and so do the docs and the OpenAPI file).
"""

from __future__ import annotations

import datetime as dt
import json
import typing as t

from flask import request

from ..core.errors import SessionAuthError
from ..core.i18n import _l
from ..core.presentation import iso
from ..core.presentation import location_of
from ..core.useragent import describe
from ..glue.state import app_state

#: Largest request body the API reads, in bytes.
MAX_BODY = 16 * 1024


class InvalidBody(
    SessionAuthError, code="invalid_body", wire_code="VALIDATION_ERROR", message=_l("The body must be a JSON object.")
):
    """Not a flat JSON object of the endpoint's fields."""


class InvalidQuery(
    SessionAuthError, code="invalid_query", wire_code="VALIDATION_ERROR", message=_l("Invalid query parameter.")
):
    """A paging parameter that is not a small whole number."""


class UnsupportedMediaType(
    SessionAuthError, status=415, code="unsupported_media_type", message=_l("Send the body as application/json.")
):
    """A form or text body, which a cross-site ``<form>`` could send."""


class PayloadTooLarge(SessionAuthError, status=413, code="payload_too_large"):
    """A body over :data:`MAX_BODY` bytes (or the app's smaller limit)."""

    def __init__(self) -> None:
        super().__init__(_l("The body must be at most %(max)d bytes.", max=MAX_BODY))


class NotFound(SessionAuthError, status=404, code="not_found", message=_l("There is no such endpoint.")):
    """An unknown path under the API prefix."""


class MethodNotAllowed(
    SessionAuthError, status=405, code="method_not_allowed", message=_l("This endpoint does not accept that method.")
):
    """A known path, another method (the answer lists the allowed ones in ``Allow``)."""


def _date(value: t.Any) -> str | None:
    return iso(value) if isinstance(value, dt.datetime) else None


def _string(value: t.Any) -> str | None:
    return value if isinstance(value, str) else None


def session_json(obj: t.Any, current_id: str | None) -> dict[str, t.Any]:
    """A session as the API shows it: public fields only, never the secret or
    its hash. ``token`` is Better Auth's name for what ``revokeSession({token})``
    sends back: here the public id again, which authenticates nobody."""
    return {
        "id": obj.id,
        "token": obj.id,
        "userId": str(obj.user_id),
        "expiresAt": iso(obj.expires_at),
        "ipAddress": obj.ip_address,
        "userAgent": obj.user_agent,
        "device": describe(obj.user_agent).name,
        "deviceName": obj.device_name,
        "country": obj.country,
        "region": obj.region,
        "city": obj.city,
        "location": location_of(obj),
        "createdAt": iso(obj.created_at),
        "updatedAt": iso(obj.updated_at),
        "lastActiveAt": iso(obj.last_active_at),
        "current": obj.id == current_id,
    }


def user_json(user: t.Any) -> dict[str, t.Any]:
    """Better Auth's User, from whichever of its columns the model has
    (``name``, ``email_verified``, ``image``, ``created_at``, ``updated_at``)."""
    return {
        "id": str(user.id),
        "email": getattr(user, app_state().identity_attr),
        "name": _string(getattr(user, "name", None)),
        "emailVerified": bool(getattr(user, "email_verified", False)),
        "image": _string(getattr(user, "image", None)),
        "createdAt": _date(getattr(user, "created_at", None)),
        "updatedAt": _date(getattr(user, "updated_at", None)),
    }


def session_and_user(session_obj: t.Any, user: t.Any) -> dict[str, t.Any]:
    return {"session": session_json(session_obj, session_obj.id), "user": user_json(user)}


def token_and_user(session_obj: t.Any, user: t.Any) -> dict[str, t.Any]:
    """Sign-in and change-password: Better Auth's ``{token, user}`` plus the
    session. ``token`` is always ``null``: the cookie is the only credential."""
    return {"token": None, **session_and_user(session_obj, user)}


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
            raise InvalidBody(_l("Unexpected field '%(field)s'.", field=key))
        if isinstance(value, (dict, list)):
            raise InvalidBody(_l("'%(field)s' must not be an object or a list.", field=key))
    return data


def string_field(body: dict[str, t.Any], key: str) -> str:
    value = body.get(key)
    if not isinstance(value, str) or not value:
        raise InvalidBody(_l("'%(field)s' is required and must be a string.", field=key))
    return value


def boolean_field(body: dict[str, t.Any], key: str, default: bool) -> bool:
    value = body.get(key, default)
    if value is None:
        return default
    if not isinstance(value, bool):
        raise InvalidBody(_l("'%(field)s' must be true or false.", field=key))
    return value


def session_reference(body: dict[str, t.Any]) -> str:
    """revoke-session's session: Better Auth's ``token`` (the public id, as
    listed), or ``id`` (this project's older name)."""
    return string_field(body, "token" if "token" in body else "id")


def query_number(name: str, default: int, low: int, high: int) -> int:
    """``?name=`` as a whole number from ``low`` (else a 400), capped at
    ``high`` (asking for more than the maximum gets the maximum, as GitHub's
    ``per_page`` does). At most nine digits, so no database sees a huge one."""
    raw = request.args.get(name)
    if raw is None:
        return default
    if not (raw.isascii() and raw.isdigit() and len(raw) <= 9) or int(raw) < low:
        raise InvalidQuery(_l("'%(field)s' must be a whole number of at least %(min)d.", field=name, min=low))
    return min(int(raw), high)
