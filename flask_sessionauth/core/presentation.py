"""How a session is shown to people and to clients, in one place.

The devices page, the JSON API and the CLI all describe a session with these
functions, so "Chrome 131 on macOS", "3 hours ago" and the timestamps read the
same everywhere.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import typing as t

from .i18n import _
from .i18n import _n
from .i18n import formatter
from .location import describe as describe_location
from .useragent import describe
from .useragent import display_name

UTC = dt.timezone.utc
#: Below this, "last active" reads "Active now" (activity is stamped coarsely).
MIN_ACTIVITY_RESOLUTION = 300


def iso(value: dt.datetime | None) -> str | None:
    """ISO 8601 in UTC with milliseconds and ``Z``, as JavaScript's ``toISOString()``."""
    if value is None:
        return None
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def format_date(when: dt.datetime) -> str:
    """ "Nov 27, 2026": unambiguous in every locale, unlike 11/27/2026. Other
    locales and time zones: the installed formatter (Babel's medium date)."""
    f = formatter()
    if f is not None:
        return f.date(when)
    return f"{when:%b} {when.day}, {when.year}"


def format_time(when: dt.datetime) -> str:
    """ "14:05 UTC": tells apart devices signed in on the same day."""
    f = formatter()
    if f is not None:
        return f.time(when)
    return when.astimezone(UTC).strftime("%H:%M UTC")


def format_exact(when: dt.datetime | None) -> str:
    """ "2026-11-27 14:05 UTC" (``-`` for never): tooltips and the CLI."""
    if when is None:
        return "-"
    f = formatter()
    if f is not None:
        return f.exact(when)
    return when.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")


def relative_time(when: dt.datetime, now: dt.datetime, resolution: int) -> str:
    """ "Active now", "5 minutes ago", "3 hours ago", "yesterday", "4 days ago", or a date.

    Activity is stamped at most once per ``resolution`` seconds, so anything
    within that window (at least five minutes) reads as "Active now".
    """
    seconds = max((now - when).total_seconds(), 0)
    if seconds < max(resolution, MIN_ACTIVITY_RESOLUTION):
        return _("Active now")
    f = formatter()
    text = f.relative(dt.timedelta(seconds=seconds)) if f is not None else None
    if text is not None:
        return text
    # English (the source language): the phrases as they have always read.
    minutes = int(seconds // 60)
    if minutes < 60:
        return f"{minutes} minutes ago"
    hours = minutes // 60
    if hours < 24:
        return "1 hour ago" if hours == 1 else f"{hours} hours ago"
    days = hours // 24
    if days == 1:
        return "yesterday"
    if days < 30:
        return f"{days} days ago"
    return _("on %(date)s", date=format_date(when))


def last_active(obj: t.Any, now: dt.datetime, is_current: bool) -> dt.datetime:
    """When a session was last used; the current device is using it right now."""
    if is_current:
        return now
    return t.cast(dt.datetime, obj.last_active_at or obj.updated_at or obj.created_at)


def location_of(obj: t.Any) -> str | None:
    """ "near Lyon, France", "in France", "Local network" or ``None``."""
    return describe_location(getattr(obj, "country", None), getattr(obj, "region", None), getattr(obj, "city", None))


def plain(text: str | None) -> str:
    """``text`` with only printable characters (a terminal shows no escapes)."""
    return "".join(c for c in text or "" if c.isprintable())


def device_label(obj: t.Any) -> str:
    """The name its owner gave the device, else the parsed one ("Firefox 133 on Windows")."""
    return getattr(obj, "device_name", None) or display_name(describe(obj.user_agent))


@dataclasses.dataclass(frozen=True)
class SessionView:
    """What a device card shows; templates that override ``devices.html`` get a
    list of these as ``sessions`` (the ``UserSession`` itself is ``.session``)."""

    session: t.Any
    id: str
    #: The owner's name for the device if any, else ``device``.
    name: str
    #: The parsed device ("Firefox 133 on Windows"), shown beside a given name.
    device: str
    #: The name the owner gave it ("Work laptop"), or ``None``.
    custom_name: str | None
    #: "near Lyon, France", "Local network", or ``None``.
    location: str | None
    kind: str
    icon: str
    is_current: bool
    ip_address: str | None
    signed_in: str
    signed_in_iso: str
    signed_in_title: str
    last_active: str
    last_active_iso: str
    last_active_title: str
    #: Whether ``last_active`` says "Active now" (in any language).
    active_now: bool = False

    @classmethod
    def build(cls, obj: t.Any, current_id: str | None, now: dt.datetime, resolution: int) -> SessionView:
        device = describe(obj.user_agent)
        is_current = obj.id == current_id
        last = last_active(obj, now, is_current)
        kind = device.kind if device.kind in ("desktop", "phone", "tablet") else "desktop"
        return cls(
            session=obj,
            id=obj.id,
            name=getattr(obj, "device_name", None) or display_name(device),
            device=display_name(device),
            custom_name=getattr(obj, "device_name", None),
            location=location_of(obj),
            kind=device.kind,
            icon=kind,
            is_current=is_current,
            ip_address=obj.ip_address,
            signed_in=_("%(date)s, %(time)s", date=format_date(obj.created_at), time=format_time(obj.created_at)),
            signed_in_iso=obj.created_at.isoformat(),
            signed_in_title=format_exact(obj.created_at),
            last_active=_("Active now") if is_current else relative_time(last, now, resolution),
            last_active_iso=last.isoformat(),
            last_active_title=format_exact(last),
            active_now=is_current or (now - last).total_seconds() < max(resolution, MIN_ACTIVITY_RESOLUTION),
        )


def device_views(
    sessions: t.Iterable[t.Any], current_id: str | None, now: dt.datetime, resolution: int
) -> list[SessionView]:
    """Device cards, this device first (it is active right now), then the rest
    in the order given (newest activity first)."""
    views = [SessionView.build(obj, current_id, now, resolution) for obj in sessions]
    views.sort(key=lambda v: not v.is_current)
    return views


def devices_phrase(count: int) -> str:
    return _n("%(num)d device", "%(num)d devices", count)
