"""Database failures as typed errors, logged once with their cause."""

from __future__ import annotations

import contextlib
import logging
import re
import typing as t

from flask import current_app
from sqlalchemy.exc import SQLAlchemyError

from ..core.errors import ConfigurationError
from ..core.errors import StorageUnavailable

log = logging.getLogger("flask_sessionauth")

#: The database itself is missing (PostgreSQL's 3D000 invalid_catalog_name; SQLite
#: cannot create its file, e.g. in a directory that does not exist).
_NO_DATABASE = re.compile(r'database "[^"]*" does not exist|unable to open database file|unknown database', re.I)
_SCHEMA_ERRORS = ("no such table", "no such column", "does not exist", "undefinedtable", "undefinedcolumn")


def classify(exc: SQLAlchemyError, action: str | None = None, *, missing: str | None = None) -> StorageUnavailable:
    """The typed error for a database failure, logged with its cause (the
    driver's message, never statement parameters). A missing table or column
    is a programming error, told apart from an outage in the log and the
    message; ``missing`` names the table the failed statement needed."""
    orig = getattr(exc, "orig", None) or exc
    text = str(orig).strip()
    cause = f"{type(orig).__name__}: {text.splitlines()[0] if text else ''}"
    detail = None
    if (
        getattr(orig, "pgcode", None) == "3D000"
        or getattr(orig, "sqlstate", None) == "3D000"
        or _NO_DATABASE.search(text)
    ):
        detail = (
            f"flask-sessionauth: the database {database_url()} cannot be opened ({cause}). Create it, or correct "
            "SQLALCHEMY_DATABASE_URI (its name, or for SQLite the directory of its file)."
        )
    elif any(marker in cause.lower() for marker in _SCHEMA_ERRORS):
        detail = (
            f"flask-sessionauth: the database schema of {database_url()} is missing "
            f"{f'the table {missing!r}' if missing else 'a table or column'} ({cause}). Run db.create_all() or your "
            f"migrations{' (see docs/storage.md, Migrations)' if missing else ''}."
        )
    if detail is not None:
        log.error("%s", detail)
        error = ConfigurationError()
        error.detail = detail
        return error
    log.error("flask-sessionauth: session storage is unavailable (%s)", cause)
    return StorageUnavailable(action=action)


def database_url() -> str:
    """The app's database URL without its password, for messages (or ``"(unknown)"``)."""
    try:
        engine = current_app.extensions["sqlalchemy"].engine
        return str(engine.url.render_as_string(hide_password=True))
    except Exception:
        return "(unknown)"


@contextlib.contextmanager
def storage_errors(action: str | None = None) -> t.Iterator[None]:
    """Turn database failures into :class:`StorageUnavailable` (or
    :class:`ConfigurationError`), so callers see one typed error and nothing
    is reported as done."""
    try:
        yield
    except SQLAlchemyError as exc:
        raise classify(exc, action) from exc
    except StorageUnavailable as exc:
        # Redis refused a write: say what did not happen.
        if action is not None and exc.action is None and type(exc) is StorageUnavailable:
            raise StorageUnavailable(action=action) from exc
        raise
