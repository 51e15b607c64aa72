"""The account pages' template globals: translation (``_sa``, ``_sa_n``), the page's
language and direction, and the inline icons. Globals, not context values, so macros
imported without context can use them. Template strings use ``_sa``/``_sa_n`` rather
than ``_``/``gettext`` so they stay in the ``sessionauth`` domain even where the app's
own Jinja i18n (Flask-Babel's) owns ``_``."""

from __future__ import annotations

from flask import Flask

from ..glue.i18n import TZ_COOKIE
from ..glue.i18n import current_locale
from ..glue.i18n import sa as _sa
from ..glue.i18n import sa_n as _sa_n
from ..glue.i18n import text_direction
from .resources import icon


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
