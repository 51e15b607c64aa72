"""The one module that uses SQLAlchemy internals (trick #5): ``current_user``
placed into ``db.session`` as a real persistent instance, without an ORM
query and without ``make_transient_to_detached`` + ``session.add``.

* :func:`build` fills a new instance's ``__dict__`` from a row, as the ORM's
  own loader does, sets its identity key, and fires the ``load`` event (so
  ``@reconstructor`` and load listeners run as for a query).
* :func:`attach` makes it persistent with ``Session._update_impl`` (what
  ``session.add`` does for a detached instance, minus the cascade walk,
  which has nothing to do for an instance whose relationships are unloaded).

What it saves: ~60k instructions per ``/me`` (measured on the perf branch;
``bench/RESULTS.md``). :func:`check` exercises every internal used here and
``tests/test_current_user_semantics.py`` calls it, so an upgrade that
removes one fails loudly. Where one is missing, :data:`FAST` is ``False``
and :mod:`.orm` takes the public path: ``db.session.get``.
"""

from __future__ import annotations

import typing as t


def _available() -> bool:
    try:
        from sqlalchemy.orm import Session
        from sqlalchemy.orm.instrumentation import ClassManager
        from sqlalchemy.orm.state import InstanceState
    except ImportError:  # pragma: no cover - a layout this module does not know
        return False
    return (
        callable(getattr(Session, "_update_impl", None))
        and hasattr(ClassManager, "new_instance")
        and hasattr(ClassManager, "dispatch")
        and "key" in getattr(InstanceState, "__annotations__", {}) | dict.fromkeys(dir(InstanceState))
    )


#: Whether the internals below are there (else callers use ``db.session.get``).
FAST = _available()


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


def check() -> None:
    """Raise if an internal this module relies on is gone (for the test suite)."""
    if not FAST:
        raise AssertionError(
            "SQLAlchemy internals changed: Session._update_impl / ClassManager.new_instance / dispatch; "
            "current_user now loads through db.session.get (slower, still correct)"
        )
