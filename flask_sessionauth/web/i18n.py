"""The account pages' template globals: translation (``_sa``, ``_sa_n``), the page's
language and direction, and the inline icons. Globals, not context values, so macros
imported without context can use them. Template strings use ``_sa``/``_sa_n`` rather
than ``_``/``gettext`` so they stay in the ``sessionauth`` domain even where the app's
own Jinja i18n (Flask-Babel's) owns ``_``."""

from __future__ import annotations

import typing as t

from flask import Flask
from markupsafe import Markup

from ..core import i18n
from ..glue.i18n import TZ_COOKIE
from ..glue.i18n import current_locale
from ..glue.i18n import text_direction
from .resources import icon


def _escape(text: str) -> Markup:
    """Escaped for text and double-quoted attributes; an apostrophe stays as written."""
    return Markup(text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace('"', "&#34;"))


def _sa(message: str, **values: t.Any) -> Markup:
    """Translate ``message``; with values, fill its ``%(name)s`` placeholders, escaping each value."""
    text = _escape(i18n.gettext(message))
    return text % values if values else text  # as Jinja's i18n: "%" is literal without values


def _sa_n(singular: str, plural: str, n: int, **values: t.Any) -> Markup:
    return _escape(i18n.ngettext(singular, plural, n)) % {"num": n, **values}


def html_lang() -> str:
    """``<html lang>``: ``de``, ``pt-BR`` (BCP 47, not gettext's ``pt_BR``)."""
    return current_locale().replace("_", "-")


def install_template_globals(app: Flask) -> None:
    app.jinja_env.globals.update(
        sessionauth_icon=icon,
        _sa=_sa,
        _sa_n=_sa_n,
        sessionauth_lang=html_lang,
        sessionauth_dir=text_direction,
        sessionauth_tz_cookie=TZ_COOKIE,
    )
