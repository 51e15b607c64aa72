"""Value converters for :mod:`.prepared`, built once per statement.

Two tricks live here:

* #2 — ``params`` and ``row`` are small functions generated once per
  statement (straight-line code, the column types' processors bound as
  locals) instead of a generic loop over processors per request; ~13k
  instructions per request on the session read.
* #3 — the session timestamps (``UTCDateTime``) convert directly: on SQLite
  one ``fromisoformat`` of the text with its zone appended (text SQLAlchemy
  wrote: ISO, always UTC), falling back to a full parse for anything else;
  elsewhere one ``astimezone`` instead of the TypeDecorator's chain of
  calls; ~50k instructions per request on SQLite.
"""

from __future__ import annotations

import datetime as dt
import typing as t

import sqlalchemy as sa

from ..types import UTCDateTime

UTC = dt.timezone.utc
_fromisoformat = dt.datetime.fromisoformat

Converter = t.Callable[[t.Any], t.Any]


def result_processor(type_: t.Any, dialect: sa.Dialect) -> Converter | None:
    """The column type's own result converter, or the direct one for ``UTCDateTime``."""
    if isinstance(type_, UTCDateTime):
        if dialect.name == "sqlite":
            return sqlite_utc
        if type_.impl_instance.dialect_impl(dialect).result_processor(dialect, None) is None:
            return as_utc
    return t.cast("Converter | None", type_.dialect_impl(dialect).result_processor(dialect, None))


def sqlite_utc(value: str | None) -> dt.datetime | None:
    """SQLite's text timestamp as an aware UTC datetime (what ``UTCDateTime``
    returns for it, 7× faster for the text SQLAlchemy writes)."""
    if value is None:
        return None
    try:
        return _fromisoformat(value + "+00:00")
    except ValueError:  # not written by SQLAlchemy (another writer, an offset): parse it as it is
        parsed = _fromisoformat(value)
        return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)


def as_utc(value: dt.datetime | None) -> dt.datetime | None:
    if value is None:
        return None
    return value.astimezone(UTC) if value.tzinfo is not None else value.replace(tzinfo=UTC)


def _generate(name: str, source: str, namespace: dict[str, t.Any]) -> t.Any:
    exec(compile(source, f"<flask_sessionauth {name}>", "exec"), namespace)  # noqa: S102 - our own generated code
    return namespace[name]


def params_function(
    names: tuple[str, ...],
    positional: tuple[str, ...] | None,
    binds: dict[str, Converter],
    defaults: dict[str, t.Any],
) -> t.Callable[[dict[str, t.Any]], t.Any]:
    """``params(values)``: the driver's parameters (tuple for ``?`` drivers,
    dict otherwise), bind processors applied, literal defaults filled in."""
    namespace: dict[str, t.Any] = {}

    def value(name: str) -> str:
        i = len(namespace)  # locals by number: bind names need not be identifiers
        source = f"v[{name!r}]"
        if name in defaults:
            namespace[f"d{i}"] = defaults[name]
            source = f"v.get({name!r}, d{i})"
        if name in binds:
            namespace[f"b{i}"] = binds[name]
            source = f"b{i}({source})"
        return source

    if positional is not None:
        body = "(" + "".join(value(n) + ", " for n in positional) + ")"
    else:
        body = "{" + ", ".join(f"{n!r}: {value(n)}" for n in names) + "}"
    return t.cast(
        "t.Callable[[dict[str, t.Any]], t.Any]", _generate("params", f"def params(v):\n    return {body}\n", namespace)
    )


def row_function(results: tuple[Converter | None, ...]) -> t.Callable[[t.Sequence[t.Any]], tuple[t.Any, ...]]:
    """``row(raw)``: the raw row with each column's converter applied, to
    NULL too, as SQLAlchemy does (a ``TypeDecorator`` may map NULL to a value)."""
    namespace: dict[str, t.Any] = {}
    items = []
    for i, processor in enumerate(results):
        if processor is None:
            items.append(f"r[{i}]")
        else:
            namespace[f"p{i}"] = processor
            items.append(f"p{i}(r[{i}])")
    body = "(" + "".join(item + ", " for item in items) + ")"
    return t.cast(
        "t.Callable[[t.Sequence[t.Any]], tuple[t.Any, ...]]",
        _generate("row", f"def row(r):\n    return {body}\n", namespace),
    )
