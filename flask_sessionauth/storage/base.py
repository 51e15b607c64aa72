"""The storage contract: what the services need from a session store.

:class:`~.sql.SQLStore` (the source of truth) and :class:`~.redis.RedisStore`
(Redis in front of it) implement it; ``tests/test_store_contract.py`` runs one
suite against both. Validation (:func:`flask_sessionauth.services.sessions.validate`)
needs only the first three methods, as Lucia's adapter does.
"""

from __future__ import annotations

import datetime as dt
import typing as t

from ..core.records import SessionRecord

if t.TYPE_CHECKING:
    from sqlalchemy.engine import Connection

    from .sql import Guard


class SessionStore(t.Protocol):
    """Session storage. Every method is one complete, committed operation."""

    def load(self, session_id: str) -> SessionRecord | None:
        """The session with this public id (joined with its user's ``is_active``), or ``None``."""

    def extend(self, record: SessionRecord) -> bool:
        """Store a slid ``expires_at``/``updated_at``; ``False`` if the session is gone."""

    def touch(self, record: SessionRecord) -> bool:
        """Store ``last_active_at``; ``False`` if the session is gone."""

    def create(self, values: dict[str, t.Any], max_sessions: int | None, guard: Guard | None = None) -> list[str]:
        """Insert a session (evicting beyond ``max_sessions``); the evicted ids."""

    def replace(self, old_id: str, values: dict[str, t.Any]) -> bool:
        """Swap a session for a new token; ``False`` if the old one is gone."""

    def delete(self, user_id: t.Any, session_ids: t.Iterable[str] | None = None, keep: str | None = None) -> list[str]:
        """Delete a user's sessions (all, or ``session_ids``, except ``keep``); their ids."""

    def list(
        self, user_id: t.Any, now: dt.datetime, limit: int | None = None, offset: int = 0, first: str | None = None
    ) -> list[t.Any]:
        """The user's live sessions as model instances without the secret hash:
        ``first`` first, then most recently active first; at most ``limit``
        after skipping ``offset``."""

    def rename(self, user_id: t.Any, session_id: str, name: str | None, now: dt.datetime) -> bool:
        """Set the device name of ``user_id``'s live session; ``False`` if there is none."""

    def count(self, user_id: t.Any, now: dt.datetime) -> int:
        """How many live sessions the user has."""

    def cleanup(self, now: dt.datetime, batch_size: int) -> int:
        """Delete expired sessions; how many."""

    def end_user_sessions(self, connection: Connection, user_id: t.Any) -> None:
        """Delete every session of a user inside the caller's flush."""

    def load_user_row(self, user_id: t.Any) -> tuple[t.Any, ...] | None:
        """The user's column values, for :mod:`.orm` to build the instance."""
