"""The one module that uses SQLAlchemy internals (trick #5): ``current_user``
placed into ``db.session`` as a real persistent instance, built from the
columns the session read joined, without an ORM query.

It is used only where the result is exactly what ``db.session.get`` returns
(class, values, loaded attributes, identity map, session, events); anywhere
else :mod:`.orm` calls ``db.session.get``. Two checks decide:

* :func:`unfit`, once per user model at ``init_app``: a plain mapping. No
  inheritance or polymorphic loading (the row's class is decided by the
  ORM), only plain non-deferred columns of the model's table (no SQL
  expressions, composites, deferred or numeric columns, whose converters
  depend on the driver's column type), no version counter, no eager
  relationship (loaded with the user by a query) or ``always_refresh``.
* :func:`quiet`, per use: no load listener besides ``@reconstructor`` (the
  ORM passes its query context, this passes ``None``) and no listener for
  the session events a query fires and this does not, or the reverse
  (:data:`SESSION_EVENTS`).

:func:`build` fills a new instance's ``__dict__`` from the row, as the ORM's
loader does, sets its identity key and fires the ``load`` event (so
``@reconstructor`` runs); :func:`attach` makes it persistent with
``Session._update_impl`` (what ``session.add`` does for a detached instance,
minus the cascade walk, which has nothing to do when no relationship is
loaded). It saves ~240k instructions per ``/me`` (``bench/RESULTS.md``).

:func:`check` exercises every internal used here and
``tests/test_current_user_semantics.py`` calls it, so an upgrade that removes
one fails loudly; where one is missing, :data:`FAST` is ``False`` and every
model takes the public path.
"""

from __future__ import annotations

import typing as t

import sqlalchemy as sa
from sqlalchemy import orm

#: Session events fired by ``db.session.get`` (autobegin, the query, the
#: loaded instance) or by :func:`attach`, but not by both.
SESSION_EVENTS = (
    "after_transaction_create",
    "after_begin",
    "do_orm_execute",
    "loaded_as_persistent",
    "after_attach",
    "detached_to_persistent",
)

#: Relationship loaders that run with the user's query.
EAGER = frozenset({"joined", "selectin", "subquery", "immediate", False})


def _reconstructor_hook() -> t.Any:
    """SQLAlchemy's own ``load`` listener for ``@reconstructor``, or ``None``
    when an internal used here is missing (every import stays in here: a
    release without one must still import this package)."""
    try:
        from sqlalchemy.event.attr import _ClsLevelDispatch
        from sqlalchemy.orm.instrumentation import ClassManager
        from sqlalchemy.orm.mapper import _event_on_load
        from sqlalchemy.orm.session import Session
    except ImportError:
        return None
    if (
        callable(getattr(Session, "_update_impl", None))
        and hasattr(ClassManager, "new_instance")
        and "_clslevel" in getattr(_ClsLevelDispatch, "__slots__", ())
    ):
        return _event_on_load
    return None


_ON_LOAD = _reconstructor_hook()
#: Whether the internals below are there (else callers use ``db.session.get``).
FAST = _ON_LOAD is not None


def unfit(mapper: t.Any, dialect: sa.Dialect) -> str | None:
    """Why the instance built here could differ from the ORM's for this
    mapping (``None``: it cannot)."""
    if not FAST:
        return "SQLAlchemy internals it relies on are missing"
    if mapper.inherits is not None or mapper.polymorphic_on is not None or mapper.with_polymorphic or mapper.concrete:
        return "inheritance or polymorphic loading"
    if mapper.version_id_col is not None:
        return "a version counter"
    if any(listener is not _ON_LOAD for listener in mapper.class_manager.dispatch.load):
        return "a load event listener (the ORM passes it a query context)"
    if mapper.always_refresh or not isinstance(mapper.local_table, sa.Table):
        return "always_refresh or a mapping of something other than a table"
    for prop in mapper.attrs:
        if isinstance(prop, orm.ColumnProperty):
            column = prop.columns[0]
            if len(prop.columns) != 1 or getattr(column, "table", None) is not mapper.local_table:
                return f"{prop.key!r}: an SQL expression or a column of another table"
            if prop.deferred:
                return f"{prop.key!r}: a deferred column"
            impl = column.type.dialect_impl(dialect)
            if isinstance(getattr(impl, "impl_instance", impl), sa.Numeric):
                return f"{prop.key!r}: a numeric column (its converter depends on the driver's column type)"
        elif isinstance(prop, orm.RelationshipProperty):
            if prop.lazy in EAGER:
                return f"{prop.key!r}: a relationship loaded with the user (lazy={prop.lazy!r})"
        elif not isinstance(prop, orm.SynonymProperty):
            return f"{prop.key!r}: a {type(prop).__name__}"
    return None


def quiet(manager: t.Any, session_class: type) -> bool:
    """No listener that would see a difference: ``load`` listeners other than
    ``@reconstructor``'s, or :data:`SESSION_EVENTS` on the app's sessions."""
    for listener in manager.dispatch.load:
        if listener is not _ON_LOAD:
            return False
    dispatch = session_class.dispatch  # type: ignore[attr-defined]
    return not any(getattr(dispatch, name)._clslevel.get(session_class) for name in SESSION_EVENTS)


def build(manager: t.Any, keys: t.Sequence[str], row: t.Sequence[t.Any], identity: t.Any) -> t.Any:
    """A detached instance whose attributes ``keys`` hold ``row`` as loaded values."""
    obj = manager.new_instance()
    obj.__dict__.update(zip(keys, row, strict=True))
    state = obj._sa_instance_state
    state.key = identity
    if manager.dispatch.load:
        manager.dispatch.load(state, None)
    return obj


def attach(session: t.Any, obj: t.Any) -> None:
    """Make the detached ``obj`` persistent in ``session``."""
    session._update_impl(obj._sa_instance_state)


def has_session(scoped: t.Any) -> bool:
    """Whether this scope (app context) already created its session."""
    return bool(scoped.registry.has())


def check() -> None:
    """Raise if an internal this module relies on is gone (for the test suite)."""
    if not FAST:
        raise AssertionError(
            "SQLAlchemy internals changed: Session._update_impl / ClassManager.new_instance / "
            "mapper._event_on_load / _ClsLevelDispatch._clslevel; "
            "current_user now loads through db.session.get (slower, still correct)"
        )
