"""The one module that uses SQLAlchemy internals (trick #5): ``current_user``
placed into ``db.session`` as a real persistent instance, without an ORM
query and without ``make_transient_to_detached`` + ``session.add``.

* :func:`build` fills a new instance's ``__dict__`` from a row, as the ORM's
  own loader does, sets its identity key, and fires the ``load`` event (so
  ``@reconstructor`` and load listeners run as for a query).
* :func:`attach` makes it persistent with ``Session._update_impl`` (what
  ``session.add`` does for a detached instance, minus the cascade walk,
  which has nothing to do for an instance whose relationships are unloaded).
* When the request has no ``db.session`` yet, the instance stays detached
  and is attached the moment the app creates it (:func:`hook_creation`
  wraps the scoped session's factory) or reads one of its unloaded
  attributes (per-instance loader callables, :func:`attach_on_load`). So
  ``current_user is db.session.get(User, current_user.id)`` holds,
  relationships load, and changes made before the session existed are
  flushed by ``db.session.commit()``; a request that never uses
  ``db.session`` does not pay for creating and removing one.

What it saves: ~240k instructions per ``/me`` (the perf branch's
leave-one-out, ``bench/RESULTS.md``). :func:`check` exercises every internal used here and
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
    from sqlalchemy.orm.attributes import _AttributeImpl

    return (
        callable(getattr(Session, "_update_impl", None))
        and callable(getattr(_AttributeImpl, "_fire_loader_callables", None))
        and hasattr(InstanceState, "callables")
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


_PENDING = "_sessionauth_unattached"


def attach(session: t.Any, obj: t.Any) -> None:
    """Make the detached ``obj`` persistent in ``session``."""
    state = obj._sa_instance_state
    callables = state.__dict__.get("callables")
    if callables:
        for key in [k for k, v in callables.items() if isinstance(v, _AttachThenLoad)]:
            del callables[key]
    session._update_impl(state)


class _AttachThenLoad:
    """Loader callable for an unloaded attribute of a not-yet-attached user:
    attach to ``db.session`` (creating it), then load as the ORM would."""

    __slots__ = ("key", "get_session")

    def __init__(self, key: str, get_session: t.Callable[[], t.Any]) -> None:
        self.key = key
        self.get_session = get_session

    def __call__(self, state: t.Any, passive: t.Any) -> t.Any:
        session = self.get_session()  # the creation hook attaches pending users
        if state.session_id != session.hash_key:
            attach(session, state.obj())
        impl = state.manager[self.key].impl
        return impl._fire_loader_callables(state, self.key, passive)


def attach_on_load(obj: t.Any, unloaded: t.Sequence[str], get_session: t.Callable[[], t.Any]) -> None:
    """Leave ``obj`` detached, to be attached by the first read of an unloaded attribute."""
    state = obj._sa_instance_state
    if "callables" not in state.__dict__:  # else the shared class-level empty dict
        state.callables = {}
    for key in unloaded:
        state.callables[key] = _AttachThenLoad(key, get_session)


def has_session(scoped: t.Any) -> bool:
    """Whether this scope (app context) already created its session."""
    return bool(scoped.registry.has())


def pend(g: t.Any, obj: t.Any) -> None:
    """Remember ``obj`` for :func:`hook_creation` (this app context only)."""
    pending = g.get(_PENDING)
    if pending is None:
        setattr(g, _PENDING, [obj])
    else:
        pending.append(obj)


def hook_creation(scoped: t.Any, g: t.Any, has_context: t.Callable[[], bool]) -> bool:
    """Wrap ``scoped``'s session factory so a session created in an app context
    where a user is pending gets it attached at once. ``False`` if the scoped
    session is not one this knows how to wrap (callers then attach at once)."""
    registry: t.Any = getattr(scoped, "registry", None)
    create = getattr(registry, "createfunc", None)
    if create is None or not callable(getattr(registry, "has", None)):
        return False
    if getattr(create, "_sessionauth", False):
        return True

    def createfunc() -> t.Any:
        session = create()
        if has_context():
            pending = g.get(_PENDING)
            if pending:
                g.pop(_PENDING)
                for obj in pending:
                    if obj._sa_instance_state.session_id is None:
                        attach(session, obj)
        return session

    createfunc._sessionauth = True  # type: ignore[attr-defined]
    registry.createfunc = createfunc
    return True


def check() -> None:
    """Raise if an internal this module relies on is gone (for the test suite)."""
    if not FAST:
        raise AssertionError(
            "SQLAlchemy internals changed: Session._update_impl / ClassManager.new_instance / dispatch; "
            "current_user now loads through db.session.get (slower, still correct)"
        )
