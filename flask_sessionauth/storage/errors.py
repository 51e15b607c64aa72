"""Database failures as typed errors, logged once with their cause."""

from __future__ import annotations

import contextlib
import logging
import typing as t

from sqlalchemy.exc import SQLAlchemyError

from ..core.errors import ConfigurationError
from ..core.errors import StorageUnavailable

log = logging.getLogger("flask_sessionauth")

_SCHEMA_ERRORS = ("no such table", "no such column", "does not exist", "undefinedtable", "undefinedcolumn")


def classify(exc: SQLAlchemyError, action: str | None = None, *, missing: str | None = None) -> StorageUnavailable:
    """The typed error for a database failure, logged with its cause (the
    driver's message, never statement parameters). A missing table or column
    is a programming error, told apart from an outage in the log and the
    message; ``missing`` names the table the failed statement needed."""
    orig = getattr(exc, "orig", None) or exc
    cause = f"{type(orig).__name__}: {str(orig).splitlines()[0] if str(orig) else ''}"
    if any(marker in cause.lower() for marker in _SCHEMA_ERRORS):
        log.error(
            "flask-sessionauth: the database schema is missing %s (%s). Run db.create_all() or your migrations%s.",
            f"the table {missing!r}" if missing else "a table or column",
            cause,
            " (see docs/storage.md, Migrations)" if missing else "",
        )
        return ConfigurationError()
    log.error("flask-sessionauth: session storage is unavailable (%s)", cause)
    return StorageUnavailable(action=action)


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
