"""Plain values the layers hand each other: a session record and a client."""

from __future__ import annotations

import dataclasses
import datetime as dt
import typing as t


class SessionRecord(t.NamedTuple):
    """What the hot path knows about a session: plain values, no ORM object."""

    id: str
    user_id: t.Any
    secret_hash: str
    remember: bool
    expires_at: dt.datetime
    created_at: dt.datetime
    updated_at: dt.datetime
    last_active_at: dt.datetime | None
    authenticated_at: dt.datetime | None
    ip_address: str | None
    user_agent: str | None
    country: str | None = None
    region: str | None = None
    city: str | None = None
    device_name: str | None = None
    user_active: bool = True


#: The session table's columns, in record order (``user_active`` is the user's).
RECORD_FIELDS = SessionRecord._fields[:-1]
_DATETIME_FIELDS = tuple(
    i
    for i, name in enumerate(SessionRecord._fields)
    if name in {"expires_at", "created_at", "updated_at", "last_active_at", "authenticated_at"}
)
_fromisoformat = dt.datetime.fromisoformat
_R = t.TypeVar("_R", bound=SessionRecord)


def record_to_json(record: SessionRecord) -> list[t.Any]:
    """``record`` as JSON-ready values (the Redis tier and the cookie cache)."""
    return [v.isoformat() if isinstance(v, dt.datetime) else v for v in record]


#: Fields of a record before location and device names (entries written then).
_V1_WIDTH = 12
_ADDED = [None] * (len(SessionRecord._fields) - _V1_WIDTH)


def record_from_json(values: list[t.Any], cls: type[_R] = SessionRecord) -> _R:  # type: ignore[assignment]
    if len(values) == _V1_WIDTH:  # written before location and device names: none
        values = [*values[:-1], *_ADDED, values[-1]]
    for i in _DATETIME_FIELDS:
        if values[i] is not None:
            values[i] = _fromisoformat(values[i])
    return cls(*values)


class Client(t.NamedTuple):
    """Who is asking: the request's address and user agent, already cleaned.

    Services take this instead of reading ``flask.request``, so they work the
    same from a view, a script or a test. ``None`` (no request) means a script
    or the CLI: nothing to rate-limit and nothing to record.
    """

    ip_address: str | None
    user_agent: str | None


def clean_header(value: str | None, limit: int) -> str | None:
    """Make a client-supplied header safe for any database column: no NULs or
    control characters (PostgreSQL rejects NUL), at most ``limit`` characters."""
    if not value:
        return None
    value = "".join(c for c in value[: limit * 2] if c >= " " and c != "\x7f")
    return value[:limit] or None


def normalize_email(value: str) -> str:
    """Emails are stored and matched stripped and lower-cased."""
    return value.strip().lower()


@dataclasses.dataclass(frozen=True, slots=True)
class Verification:
    """The answer of :meth:`PasswordHasher.check`.

    Truthy only when ``ok``, so ``if hasher.check(...)`` is safe (a plain
    dataclass would always be truthy). ``new_hash`` is only ever set on
    success: the stored hash is outdated and this one should replace it.
    """

    ok: bool
    new_hash: str | None = None

    def __bool__(self) -> bool:
        return self.ok
