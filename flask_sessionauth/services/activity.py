"""The security activity log: record events, decide "new device", list, expire.

Each event is a row of :mod:`..storage.events` and a structured ``logging``
record (logger ``flask_sessionauth.events``, the fields in ``extra``). Recording
never fails the action it describes: any error is logged and swallowed. Nothing
here reads the Flask request: callers pass an :class:`Actor`.
"""

from __future__ import annotations

import datetime as dt
import logging
import typing as t

from ..core import activity as kinds
from ..core import lifecycle
from ..core.location import Location
from ..core.useragent import describe
from ..core.useragent import display_name
from ..storage.events import DETAIL_LENGTH
from ..storage.events import EventStore

if t.TYPE_CHECKING:
    from .sessions import Sessions

log = logging.getLogger("flask_sessionauth.events")


class Actor(t.NamedTuple):
    """Who acted: the acting session's id, the client's address and user agent."""

    session_id: str | None = None
    ip_address: str | None = None
    user_agent: str | None = None
    admin_id: str | None = None
    location: Location | None = None  # where the address is (when no session row says it)


NOBODY = Actor()


def _location_for(actor: Actor, session: t.Any = None) -> tuple[str | None, str | None, str | None]:
    """An event's location: the session row's when the event concerns a session (resolved
    once, at sign-in), else the actor's address resolved by the app's locator."""
    if session is not None:
        return getattr(session, "country", None), getattr(session, "region", None), getattr(session, "city", None)
    where = actor.location
    return (where.country, where.region, where.city) if where is not None else (None, None, None)


class Activity:
    """The activity log of one app."""

    def __init__(self, store: EventStore, sessions: Sessions, retention: int | None, known_days: int) -> None:
        self.store = store
        self.sessions = sessions
        self.retention = retention
        self.known_days = known_days

    # -- recording ----------------------------------------------------------------

    def row(
        self, kind: str, user_id: t.Any, actor: Actor, *, session: t.Any = None, **fields: t.Any
    ) -> dict[str, t.Any]:
        browser, os_name = kinds.families(actor.user_agent)
        country, region, city = _location_for(actor, session)
        reason = fields.pop("reason", None)
        values = {
            "user_id": user_id,
            "kind": kind,
            "reason": str(reason)[:DETAIL_LENGTH] if reason is not None else None,
            "created_at": lifecycle.utcnow(),
            "session_id": actor.session_id,
            "target_session_id": None,
            "target_device": None,
            "ip_address": actor.ip_address,
            "user_agent": actor.user_agent,
            "browser": browser,
            "os": os_name,
            "country": country,
            "region": region,
            "city": city,
            "new_device": None,
            "admin_id": actor.admin_id,
        }
        values.update(fields)
        if values["target_device"] is not None:  # a name a user chose (session_renamed): bounded
            values["target_device"] = str(values["target_device"])[:DETAIL_LENGTH]
        return values

    def write(self, rows: list[dict[str, t.Any]]) -> bool:
        """Log and store ``rows``; ``False`` (and an error logged) if storing failed."""
        for values in rows:
            extra = {f"event_{key}": value for key, value in values.items() if key != "created_at"}
            extra["event_created_at"] = values["created_at"].isoformat()
            log.info("sessionauth event %s (user %s)", values["kind"], values["user_id"], extra=extra)
        try:
            self.store.add(rows)
        except Exception as exc:  # never fail the action: the event is in the log already
            cause = getattr(exc, "orig", None) or exc
            log.error("could not store %d activity event(s): %s: %s", len(rows), type(exc).__name__, cause)
            return False
        return True

    def record(self, kind: str, user_id: t.Any, actor: Actor, **fields: t.Any) -> bool:
        return self.write([self.row(kind, user_id, actor, **fields)])

    def revoked(self, user_id: t.Any, ids: list[str], reason: str, actor: Actor) -> bool:
        """One row per device signed out, naming it (from its sign-in event)."""
        try:
            agents = self.store.devices_of(ids)
        except Exception:
            agents = {}
        rows = [
            self.row(
                kinds.SESSION_REVOKED,
                user_id,
                actor,
                reason=reason,
                target_session_id=sid,
                target_device=describe(agents.get(sid)).name if sid in agents else None,
            )
            for sid in ids
        ]
        return self.write(rows)

    # -- the new-device decision ---------------------------------------------------

    def is_new_device(self, user_id: t.Any, session: t.Any) -> bool:
        """A heuristic for notices, never a boundary (the user agent is the
        client's say): new unless the account signed in with the same browser
        family, OS family and country within ``known_days``, or has a live
        session that matches. When storage cannot tell: new."""
        current = kinds.fingerprint(session.user_agent, getattr(session, "country", None))
        since = kinds.known_since(lifecycle.utcnow(), self.known_days)
        try:
            seen = [kinds.Fingerprint(*row) for row in self.store.seen(user_id, since)]
            seen += [
                kinds.fingerprint(s.user_agent, getattr(s, "country", None))
                for s in self.sessions.list(user_id)
                if s.id != session.id
            ]
        except Exception as exc:
            log.error("could not read earlier sign-ins: %s", type(exc).__name__)
            return True
        return kinds.is_new_device(current, seen)

    def sign_in(self, user_id: t.Any, session: t.Any) -> bool:
        """Record a sign-in; whether it came from a new device."""
        new = self.is_new_device(user_id, session)
        actor = Actor(session.id, session.ip_address, session.user_agent)
        self.record(
            kinds.SIGN_IN,
            user_id,
            actor,
            session=session,
            target_session_id=session.id,
            new_device=new,
            reason="new device" if new else None,
        )
        return new

    # -- reading ---------------------------------------------------------------------

    def page(self, user_id: t.Any, kind: str | None, limit: int, offset: int) -> tuple[list[t.Any], int]:
        return self.store.page(user_id, [kind] if kind else None, limit, offset)

    def signed_out_notice(self, session_id: str) -> tuple[dt.datetime, str | None] | None:
        """When session ``session_id`` was signed out from another device, and
        that device's name in the current language (``""``: a device without a
        user agent, ``None``: an administrator); ``None`` if it was not (it
        expired, or is unknown)."""
        since = lifecycle.utcnow() - dt.timedelta(seconds=self.retention or 10**9)
        try:
            row = self.store.revocation(session_id, kinds.ELSEWHERE_REASONS, since)
        except Exception as exc:
            log.error("could not read the activity log: %s", type(exc).__name__)
            return None
        if row is None:
            return None
        if row.reason == "admin":
            return row.created_at, None
        return row.created_at, display_name(describe(row.user_agent)) if row.user_agent else ""

    def cleanup(self, batch_size: int) -> int:
        """Delete events older than the retention (``None``: keep them)."""
        if self.retention is None:
            return 0
        before = lifecycle.utcnow() - dt.timedelta(seconds=self.retention)
        return self.store.cleanup(before, batch_size)
