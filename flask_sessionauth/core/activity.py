"""The security activity log's vocabulary: event kinds, what each says on a
page, and the new-device rule. No I/O: :mod:`..services.activity` records.

The new-device decision is a heuristic for notices, never a security boundary:
the user agent is whatever the client sends, so an attacker who copies the
owner's browser and signs in from the owner's country looks "known".
"""

from __future__ import annotations

import datetime as dt
import re
import typing as t

from .i18n import Lazy
from .i18n import _
from .i18n import _l
from .presentation import iso
from .presentation import location_of
from .useragent import describe
from .useragent import display_name

SIGN_IN = "sign_in"
SIGN_IN_FAILED = "sign_in_failed"
SIGN_OUT = "sign_out"
SESSION_REVOKED = "session_revoked"
PASSWORD_CHANGED = "password_changed"
PASSWORD_RESET = "password_reset"
SUDO_CONFIRMED = "sudo_confirmed"
RATE_LIMITED = "rate_limited"
USER_DEACTIVATED = "user_deactivated"
ADMIN_ACTION = "admin_action"
SESSION_REPORTED = "session_reported"
SESSION_RENAMED = "session_renamed"

#: Kind → what the activity page calls it (also the filter's choices, in this order).
KINDS: dict[str, Lazy] = {
    SIGN_IN: _l("Signed in"),
    SIGN_IN_FAILED: _l("Wrong password"),
    SIGN_OUT: _l("Signed out"),
    SESSION_REVOKED: _l("Device signed out"),
    PASSWORD_CHANGED: _l("Password changed"),
    PASSWORD_RESET: _l("Password reset"),
    SUDO_CONFIRMED: _l("Password confirmed"),
    RATE_LIMITED: _l("Too many attempts"),
    USER_DEACTIVATED: _l("Account deactivated"),
    ADMIN_ACTION: _l("Administrator action"),
    SESSION_REPORTED: _l("Reported as not you"),
    SESSION_RENAMED: _l("Device renamed"),
}

#: (kind, reason) → the whole line, where the reason is one the code knows.
REASON_LABELS: dict[tuple[str, str], Lazy] = {
    (SESSION_REVOKED, "revoke"): _l("Device signed out: signed out from another device"),
    (SESSION_REVOKED, "revoke_others"): _l("Device signed out: all other devices signed out"),
    (SESSION_REVOKED, "revoke_all"): _l("Device signed out: signed out everywhere"),
    (SESSION_REVOKED, "password_change"): _l("Device signed out: password changed"),
    (SESSION_REVOKED, "password_reset"): _l("Device signed out: password reset"),
    (SESSION_REVOKED, "evicted"): _l("Device signed out: too many devices signed in"),
    (SESSION_REVOKED, "admin"): _l("Device signed out by an administrator"),
    (SESSION_REVOKED, "reported"): _l("Device signed out: reported as not you"),
    (SIGN_IN, "new device"): _l("Signed in (new device)"),
    (ADMIN_ACTION, "revoke"): _l("Administrator action: a device signed out"),
    (ADMIN_ACTION, "revoke_all"): _l("Administrator action: signed out everywhere"),
}

#: Revocations a signed-out browser is told about on the sign-in page.
ELSEWHERE_REASONS = ("revoke", "revoke_others", "revoke_all", "password_change", "password_reset", "admin")

#: Default of ``SESSIONAUTH_KNOWN_DEVICE_DAYS``.
KNOWN_DEVICE_DAYS = 90

_VERSION = re.compile(r"\s+\d+$")


class Fingerprint(t.NamedTuple):
    """What "the same device" means for the new-device notice."""

    browser: str | None
    os: str | None
    country: str | None


def families(user_agent: str | None) -> tuple[str | None, str | None]:
    """Browser and OS family ("Chrome", "macOS"): no version, which changes monthly."""
    found = describe(user_agent)
    browser = _VERSION.sub("", found.browser) if found.browser else None
    return browser, found.os


def fingerprint(user_agent: str | None, country: str | None) -> Fingerprint:
    browser, os_name = families(user_agent)
    return Fingerprint(browser, os_name, country or None)


def is_new_device(current: Fingerprint, seen: t.Iterable[Fingerprint]) -> bool:
    """New unless the account had a sign-in with the same browser family, OS
    family and country within the window (the caller passes only those)."""
    return current not in set(seen)


def known_since(now: dt.datetime, days: int) -> dt.datetime:
    return now - dt.timedelta(days=days)


def describe_event(kind: str, reason: str | None) -> str:
    """One line for the page, the CLI and the API's ``label``."""
    known = REASON_LABELS.get((kind, reason or ""))
    if known is not None:
        return str(known)
    label = str(KINDS.get(kind, kind))
    if reason and kind in (RATE_LIMITED, ADMIN_ACTION, SIGN_IN):
        # TRANSLATORS: an event and its reason as recorded ("Too many attempts (ip)").
        return _("%(event)s (%(reason)s)", event=label, reason=reason.replace("_", " "))
    return label


class Event(t.NamedTuple):
    """One entry of the activity log as pages, API, CLI and Python API show it."""

    id: int
    kind: str
    label: str
    reason: str | None
    created_at: dt.datetime
    device: str
    ip_address: str | None
    country: str | None
    region: str | None
    city: str | None
    session_id: str | None
    target_session_id: str | None
    target_device: str | None
    new_device: bool | None
    by_admin: bool
    #: ``device`` as pages and the CLI show it, in the current language; ``device``
    #: itself stays English, like a session's in the API.
    shown_device: str = ""

    @classmethod
    def from_row(cls, row: t.Any) -> Event:
        # An administrator's device and address never show in the user's log.
        found = describe(row.user_agent)
        device = "Administrator" if row.admin_id else found.name
        shown = _("Administrator") if row.admin_id else display_name(found)
        return cls(
            id=row.id,
            kind=row.kind,
            label=describe_event(row.kind, row.reason),
            reason=row.reason,
            created_at=row.created_at,
            device=device if row.user_agent or row.admin_id else "Unknown device",
            ip_address=row.ip_address,
            country=row.country,
            region=row.region,
            city=row.city,
            session_id=row.session_id,
            target_session_id=row.target_session_id,
            target_device=row.target_device,
            new_device=row.new_device,
            by_admin=row.admin_id is not None,
            shown_device=shown if row.user_agent or row.admin_id else _("Unknown device"),
        )

    @property
    def place(self) -> str | None:
        """ "near Lyon, France", as the devices page says it, or ``None``."""
        return location_of(self)

    def json(self) -> dict[str, t.Any]:
        """The API's shape (Better Auth style camelCase)."""
        return {
            "id": self.id,
            "kind": self.kind,
            "label": self.label,
            "reason": self.reason,
            "createdAt": iso(self.created_at),
            "device": self.device,
            "ipAddress": self.ip_address,
            "country": self.country,
            "region": self.region,
            "city": self.city,
            "sessionId": self.session_id,
            "targetSessionId": self.target_session_id,
            "targetDevice": self.target_device,
            "newDevice": self.new_device,
            "byAdministrator": self.by_admin,
        }
