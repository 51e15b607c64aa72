"""Session operations: validate a token, create, rotate, list, revoke, clean up.

:func:`validate` is the request hook's whole decision as a plain function of
``(token, now, store, settings)`` — Lucia's ``validateSessionToken`` — and
:class:`Sessions` holds every operation that writes, with the signals they
send. Nothing here reads the Flask request: callers pass a
:class:`~flask_sessionauth.core.records.Client`.
"""

from __future__ import annotations

import builtins
import datetime as dt
import typing as t
import weakref

from ..core import lifecycle
from ..core import signals
from ..core import tokens
from ..core.config import Settings
from ..core.errors import SessionNotFound
from ..core.location import Location
from ..core.names import clean_device_name
from ..core.records import RECORD_FIELDS
from ..core.records import Client
from ..core.records import SessionRecord
from ..storage import storage_errors

if t.TYPE_CHECKING:
    from ..storage.base import SessionStore
    from ..storage.orm import Objects
    from ..storage.sql import Guard


class Validation(t.NamedTuple):
    """A validated session (``None``: reject, clear the cookie) and whether its
    expiry slid (re-send the cookie with the new Max-Age)."""

    record: SessionRecord | None
    extended: bool = False


REJECTED = Validation(None)


def validate(
    token: tokens.Token,
    now: dt.datetime,
    store: SessionStore,
    settings: Settings,
    cached: SessionRecord | None = None,
) -> Validation:
    """Check a presented token: at most one read and one guarded write.

    ``cached`` is a record from the cookie cache (already verified as genuine
    and naming this session); if it is alive and calls for no write, storage
    is not touched. Storage errors become :class:`StorageUnavailable`: an
    outage never lets a request through as signed in.
    """
    if cached is not None:
        verdict = lifecycle.evaluate(token, cached, now, settings)
        if verdict.record is not None and verdict.action is lifecycle.Action.NONE:
            return Validation(cached)
    with storage_errors():
        verdict = lifecycle.evaluate(token, store.load(token.session_id), now, settings)
        record = lifecycle.apply(verdict, now)
        if record is None:
            return REJECTED
        if verdict.action is lifecycle.Action.EXTEND:
            if not store.extend(record):
                return REJECTED  # revoked meanwhile: never resurrect
            return Validation(record, extended=True)
        if verdict.action is lifecycle.Action.TOUCH and not store.touch(record):
            return REJECTED  # the row is gone: a copy (Redis) outlived it
    return Validation(record)


class Issued(t.NamedTuple):
    """A new session: its record, the ``UserSession`` snapshot, and the token
    (the cookie value: sent to the browser, never stored or signalled)."""

    record: SessionRecord
    session: t.Any
    token: tokens.Token


class Sessions:
    """The session operations of one app."""

    def __init__(self, store: SessionStore, objects: Objects, settings: Settings, app: t.Any) -> None:
        self.store = store
        self.objects = objects
        self.settings = settings
        # Signals are sent with the app as sender; a weak reference keeps this
        # per-app object from keeping its app alive.
        self._app = weakref.ref(app)

    @property
    def sender(self) -> t.Any:
        return self._app()

    def create(
        self,
        user: t.Any,
        remember: bool,
        *,
        fresh: bool,
        client: Client | None,
        replacing: SessionRecord | None = None,
        guard: Guard | None = None,
        location: Location | None = None,
    ) -> Issued:
        """Start a session for ``user``; ``replacing`` (this request's old
        session) is deleted first, so signing in always yields a new token.
        ``client`` is what the row keeps of the client; ``location`` was
        resolved from its full address."""
        now = lifecycle.utcnow()
        token = tokens.generate()
        values = {
            "id": token.session_id,
            "user_id": user.id,
            "secret_hash": tokens.hash_secret(token.secret),
            "remember": remember,
            "expires_at": lifecycle.new_expiry(now, remember, now, self.settings),
            "created_at": now,
            "updated_at": now,
            "last_active_at": now,
            "authenticated_at": now if fresh else None,
            "ip_address": client.ip_address if client else None,
            "user_agent": client.user_agent if client else None,
            "country": location.country if location else None,
            "region": location.region if location else None,
            "city": location.city if location else None,
            "device_name": None,
        }
        with storage_errors("Signing in"):
            if replacing is not None:
                self.revoke(replacing.user_id, [replacing.id], None, "rotate")
            evicted = self.store.create(values, self.settings.max_sessions_per_user, guard)
        if evicted:
            self._revoked(user.id, evicted, "evicted")
        issued = Issued(SessionRecord(**values), self.objects.snapshot(values), token)
        # Receivers get a snapshot of their own, without the token.
        signals.session_created.send(self.sender, user=user, session=self.objects.snapshot(values))
        return issued

    def rotate(self, record: SessionRecord, *, fresh: bool) -> Issued | None:
        """Give a session a new token, keeping its history; ``None`` if it ended."""
        now = lifecycle.utcnow()
        token = tokens.generate()
        values = {name: getattr(record, name) for name in RECORD_FIELDS}
        values.update(
            id=token.session_id,
            secret_hash=tokens.hash_secret(token.secret),
            updated_at=now,
            last_active_at=now,
            expires_at=max(
                record.expires_at, lifecycle.new_expiry(now, record.remember, record.created_at, self.settings)
            ),
        )
        if fresh:
            values["authenticated_at"] = now
        with storage_errors():
            if not self.store.replace(record.id, values):
                return None
        self._revoked(record.user_id, [record.id], "rotate")
        return Issued(SessionRecord(**values), self.objects.snapshot(values), token)

    def revoke(
        self, user_id: t.Any, ids: builtins.list[str] | None, keep: str | None, reason: str
    ) -> builtins.list[str]:
        """End ``user_id``'s sessions (all, or ``ids``; never ``keep``); their ids."""
        if ids is not None:
            ids = [i for i in ids if tokens.is_session_id(i)]
            if not ids:
                return []
        with storage_errors("Signing out"):
            revoked = self.store.delete(user_id, ids, keep)
        if revoked:
            self._revoked(user_id, revoked, reason)
        return revoked

    def list(
        self, user_id: t.Any, limit: int | None = None, offset: int = 0, first: str | None = None
    ) -> builtins.list[t.Any]:
        with storage_errors():
            return self.store.list(user_id, lifecycle.utcnow(), limit, offset, first)

    def page(
        self, user_id: t.Any, limit: int, offset: int = 0, first: str | None = None
    ) -> tuple[builtins.list[t.Any], int]:
        """One page of :meth:`list` and how many sessions there are in all;
        a page that is not full (or not empty, past the start) already says
        how many, so the usual listing costs one statement, not two."""
        now = lifecycle.utcnow()
        with storage_errors():
            rows = self.store.list(user_id, now, limit, offset, first)
            if len(rows) < limit and (rows or not offset):
                return rows, offset + len(rows)
            return rows, self.store.count(user_id, now)

    def find(self, user_id: t.Any, session_id: str) -> SessionRecord | None:
        """``user_id``'s live session ``session_id`` (wherever it sits in the
        listing), or ``None``: for naming a device being signed out."""
        if not tokens.is_session_id(session_id):
            return None
        with storage_errors():
            record = self.store.load(session_id)
        if record is None or record.user_id != user_id or record.expires_at <= lifecycle.utcnow():
            return None
        return record

    def rename(self, user_id: t.Any, session_id: object, name: object) -> str | None:
        """Name ``user_id``'s live session ``session_id`` (``None`` or blank
        clears the name); the name as stored. Another user's session, or one
        that ended, is :class:`SessionNotFound`, the same as no session."""
        cleaned = clean_device_name(name)
        if not isinstance(session_id, str) or not tokens.is_session_id(session_id):
            raise SessionNotFound()
        with storage_errors():
            if not self.store.rename(user_id, session_id, cleaned, lifecycle.utcnow()):
                raise SessionNotFound()
        signals.session_renamed.send(self.sender, user_id=user_id, session_id=session_id, name=cleaned)
        return cleaned

    def snapshot(self, record: SessionRecord) -> t.Any:
        return self.objects.snapshot(record._asdict())

    def cleanup(self, batch_size: int) -> int:
        with storage_errors():
            return self.store.cleanup(lifecycle.utcnow(), batch_size)

    def _revoked(self, user_id: t.Any, ids: builtins.list[str], reason: str) -> None:
        signals.session_revoked.send(self.sender, user_id=user_id, session_ids=list(ids), reason=reason)
