"""Alembic autogenerate support: migrations that ``flask db upgrade`` can run.

Autogenerate writes a custom column type as ``<module>.<Name>(…)`` without
importing its module, so a generated migration using
:class:`~flask_sessionauth.types.UTCDateTime` failed with ``NameError``.
Alembic's documented remedy, a ``render_item`` function, lives in ``env.py``,
which users own. So a comparator on Alembic's global registry (the one
third-party hook that needs no ``env.py`` change) chains a ``render_item``
onto each autogenerate run: our types are written as their SQL equivalent,
``sa.DateTime(timezone=True)`` (the same DDL), and everything else goes to
the app's own ``render_item``, if any, or Alembic's default. Migrations thus
never import flask-sessionauth and keep running whatever becomes of it. The
comparator adds no operation, so it cannot change what a migration does.

:func:`register_autogenerate_hook` runs when the session model is built in a
process that has imported Alembic (Flask-Migrate imports it with the app);
it is idempotent.
"""

from __future__ import annotations

import typing as t

from ..types import UTCDateTime

_registered: list[bool] = []


class RenderTypes:
    """``render_item`` for our types, delegating everything else to ``inner``."""

    def __init__(self, inner: t.Callable[[str, t.Any, t.Any], t.Any] | None) -> None:
        self.inner = inner

    def __call__(self, kind: str, obj: t.Any, autogen_context: t.Any) -> t.Any:
        if kind == "type" and isinstance(obj, UTCDateTime):
            prefix = autogen_context.opts.get("sqlalchemy_module_prefix") or ""
            return f"{prefix}DateTime(timezone=True)"
        return self.inner(kind, obj, autogen_context) if self.inner is not None else False


def install_renderer(autogen_context: t.Any, *args: t.Any) -> None:
    """Alembic comparator: chain :class:`RenderTypes` onto this run's ``render_item``."""
    opts = autogen_context.opts
    current = opts.get("render_item")
    if not isinstance(current, RenderTypes):
        opts["render_item"] = RenderTypes(current)


def register_autogenerate_hook() -> None:
    """Add :func:`install_renderer` to Alembic's global comparators, once."""
    if _registered:
        return
    from alembic.autogenerate import comparators

    comparators.dispatch_for("schema")(install_renderer)
    _registered.append(True)
