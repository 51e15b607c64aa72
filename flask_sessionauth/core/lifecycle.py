"""Session lifetime rules as plain functions of (record, now, settings).

No Flask, no database: the request hook and the management API both call
these, and tests exercise them directly with any clock.
"""

from __future__ import annotations

import datetime as dt
import enum
import typing as t

from . import tokens
from .config import Settings
from .records import SessionRecord

UTC = dt.timezone.utc


def utcnow() -> dt.datetime:
    return dt.datetime.now(UTC)


def windows(remember: bool, settings: Settings) -> tuple[int, int]:
    """``(expires_in, update_age)`` for a session; short sessions slide proportionally."""
    if remember:
        return settings.expires_in, settings.update_age
    return settings.short_expires_in, settings.short_update_age


def new_expiry(now: dt.datetime, remember: bool, created_at: dt.datetime, settings: Settings) -> dt.datetime:
    expires_in, _ = windows(remember, settings)
    expires_at = now + dt.timedelta(seconds=expires_in)
    if settings.absolute_lifetime is not None:
        expires_at = min(expires_at, created_at + dt.timedelta(seconds=settings.absolute_lifetime))
    return expires_at


def is_alive(record: SessionRecord, now: dt.datetime, settings: Settings) -> bool:
    if not record.user_active or now >= record.expires_at:
        return False
    if settings.absolute_lifetime is not None:
        return now < record.created_at + dt.timedelta(seconds=settings.absolute_lifetime)
    return True


class Action(enum.Enum):
    """What the hook must write for a valid session (at most one statement)."""

    NONE = "none"
    TOUCH = "touch"  # stamp last_active_at
    EXTEND = "extend"  # slide expires_at and re-send the cookie


class Verdict(t.NamedTuple):
    record: SessionRecord | None
    action: Action = Action.NONE
    expires_at: dt.datetime | None = None


REJECTED = Verdict(None)


def evaluate(token: tokens.Token, record: SessionRecord | None, now: dt.datetime, settings: Settings) -> Verdict:
    """Decide whether a presented token is valid and what, if anything, to write.

    The secret is verified before anything else is looked at, so nothing about
    a session (not even its expiry) is acted on for a forged token.
    """
    if record is None or not tokens.verify_secret(token.secret, record.secret_hash):
        return REJECTED
    # is_alive() and the refresh window, inlined over the windows Settings
    # precomputed (trick #11: ~8k instructions per request; the same decisions
    # as is_alive() / windows() / new_expiry(), which tests/test_lifecycle_rules.py
    # checks against this).
    expires_at = record.expires_at
    if not record.user_active or now >= expires_at:
        return REJECTED
    absolute = settings.absolute_delta
    if absolute is not None and now >= record.created_at + absolute:
        return REJECTED
    if not settings.disable_refresh:
        gap = settings.refresh_gap if record.remember else settings.short_refresh_gap
        if now >= expires_at - gap:
            new_expires_at = new_expiry(now, record.remember, record.created_at, settings)
            if new_expires_at > expires_at:
                return Verdict(record, Action.EXTEND, new_expires_at)
    resolution = settings.activity_delta
    if resolution is not None:
        last = record.last_active_at
        if last is None or now - last >= resolution:
            return Verdict(record, Action.TOUCH)
    return Verdict(record)


def apply(verdict: Verdict, now: dt.datetime) -> SessionRecord | None:
    """The record as it is after the verdict's write succeeded."""
    record = verdict.record
    if record is None:
        return None
    if verdict.action is Action.EXTEND:
        assert verdict.expires_at is not None
        return record._replace(expires_at=verdict.expires_at, updated_at=now, last_active_at=now)
    if verdict.action is Action.TOUCH:
        return record._replace(last_active_at=now)
    return record


def is_fresh(record: SessionRecord | None, now: dt.datetime, settings: Settings) -> bool:
    """Whether the password was entered in this session within ``FRESH_AGE``;
    ``FRESH_AGE = 0`` turns the check off (every session is fresh), as Better
    Auth's ``freshAge: 0`` does."""
    if record is not None and settings.fresh_age == 0:
        return True
    if record is None or record.authenticated_at is None:
        return False
    return (now - record.authenticated_at).total_seconds() < settings.fresh_age


#: Browsers cap a cookie's lifetime at 400 days (RFC 6265bis); so do we.
MAX_COOKIE_AGE = 400 * 86400


def cookie_max_age(record: SessionRecord, now: dt.datetime) -> int | None:
    """Max-Age for the cookie: ``None`` (browser session) unless remembered;
    never above :data:`MAX_COOKIE_AGE`."""
    if not record.remember:
        return None
    return min(max(int((record.expires_at - now).total_seconds()), 0), MAX_COOKIE_AGE)
