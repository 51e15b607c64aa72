"""Single-use secrets sent by e-mail: password reset tokens and the nonces of
"This wasn't me" links, in the ``sessionauth_verification`` table on the
app's database (Better Auth's ``verification`` table, hashed).

Only SHA-256 of a secret is stored, never the secret. :meth:`Verifications.consume`
is one ``DELETE``: of two requests presenting the same secret at once, exactly
one deletes the row (the database serialises the two deletes) and wins.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import typing as t

import sqlalchemy as sa

from ..types import UTCDateTime
from .errors import storage_errors
from .model import table_once

TABLE_NAME = "sessionauth_verification"


class Found(t.NamedTuple):
    user_id: str
    binding: str
    expires_at: dt.datetime


def digest(secret: str) -> str:
    return hashlib.sha256(secret.encode("utf-8", "surrogatepass")).hexdigest()


def create_table(metadata: sa.MetaData) -> sa.Table:
    return table_once(
        metadata,
        TABLE_NAME,
        sa.Column("id", sa.String(64), primary_key=True),  # sha256 of the secret
        sa.Column("purpose", sa.String(32), nullable=False),
        sa.Column("user_id", sa.String(64), nullable=False, index=True),
        # What the secret was issued for (the account's state, or a session id):
        # a mismatch when it is used makes it void.
        sa.Column("binding", sa.String(128), nullable=False),
        sa.Column("expires_at", UTCDateTime, nullable=False, index=True),
        sa.Column("created_at", UTCDateTime, nullable=False),
    )


class Verifications:
    """The verification table of one app, on the app's engine."""

    def __init__(self, db: t.Any, metadata: sa.MetaData) -> None:
        self.db = db
        self.table = create_table(metadata)

    def add(self, purpose: str, secret: str, user_id: t.Any, binding: str, now: dt.datetime, max_age: int) -> None:
        values = {
            "id": digest(secret),
            "purpose": purpose,
            "user_id": str(user_id),
            "binding": binding,
            "expires_at": now + dt.timedelta(seconds=max_age),
            "created_at": now,
        }
        with storage_errors(), self.db.engine.begin() as connection:
            connection.execute(self.table.delete().where(self.table.c.expires_at <= now))
            connection.execute(self.table.insert().values(**values))

    def find(self, purpose: str, secret: str) -> Found | None:
        c = self.table.c
        stmt = sa.select(c.user_id, c.binding, c.expires_at).where(c.id == digest(secret), c.purpose == purpose)
        with storage_errors(), self.db.engine.connect() as connection:
            row = connection.execute(stmt).first()
        return None if row is None else Found(str(row[0]), str(row[1]), row[2])

    def consume(self, purpose: str, secret: str) -> bool:
        """Delete the row: ``True`` for exactly one caller, ever."""
        c = self.table.c
        with storage_errors(), self.db.engine.begin() as connection:
            result = connection.execute(self.table.delete().where(c.id == digest(secret), c.purpose == purpose))
        return bool(result.rowcount == 1)

    def forget_user(self, purpose: str, user_id: t.Any) -> None:
        """Void every outstanding secret of ``purpose`` for a user (after a reset)."""
        c = self.table.c
        with storage_errors(), self.db.engine.begin() as connection:
            connection.execute(self.table.delete().where(c.user_id == str(user_id), c.purpose == purpose))
