"""Translatable text without Flask: markers, lazy strings and an installable translator.

Every user-facing sentence is written in English and marked here: ``_`` and ``_n``
translate now; ``_l`` and ``_ln`` make a :class:`Lazy` string that translates each
time it is turned into text (``str()``, formatting, templates), so a module-level
constant or an error's default message reads in the locale of the request that shows
it. The translator is installed by the glue (:mod:`..glue.i18n`) when Flask-Babel is
importable; until then, and without it, every string stays English. The gettext
domain is ``sessionauth``.

Placeholders are named (``%(count)s``), so a translation can reorder them.
"""

from __future__ import annotations

import datetime as dt
import typing as t

DOMAIN = "sessionauth"


class Translator(t.Protocol):
    def gettext(self, message: str) -> str: ...
    def ngettext(self, singular: str, plural: str, n: int) -> str: ...


class _English:
    def gettext(self, message: str) -> str:
        return message

    def ngettext(self, singular: str, plural: str, n: int) -> str:
        return singular if n == 1 else plural


_active: list[t.Callable[[], Translator]] = [_English]


def install(get_translator: t.Callable[[], Translator]) -> None:
    """Make ``get_translator()`` (called per use: it picks the current locale) the source of translations."""
    _active[0] = get_translator


def uninstall() -> None:
    _active[0] = _English


def gettext(message: str) -> str:
    """``message`` translated, placeholders left as they are."""
    return _active[0]().gettext(message)


def ngettext(singular: str, plural: str, n: int) -> str:
    """The right plural form for ``n``, placeholders left as they are."""
    return _active[0]().ngettext(singular, plural, n)


def _(message: str, **values: t.Any) -> str:
    text = gettext(message)
    return text % values if values else text


def _n(singular: str, plural: str, n: int, **values: t.Any) -> str:
    """Plural forms; ``%(num)d`` is ``n``."""
    return ngettext(singular, plural, n) % {"num": n, **values}


class Lazy:
    """A message translated when it is used, in the locale in force then."""

    __slots__ = ("_msg", "_plural", "_n", "_values")

    def __init__(self, msg: str, plural: str | None = None, n: int = 1, values: dict[str, t.Any] | None = None):
        self._msg, self._plural, self._n, self._values = msg, plural, n, values or {}

    def __str__(self) -> str:
        values = {k: str(v) if isinstance(v, Lazy) else v for k, v in self._values.items()}
        if self._plural is not None:
            return _n(self._msg, self._plural, self._n, **values)
        return _(self._msg, **values)

    def __html__(self) -> str:
        from html import escape

        return escape(str(self), quote=True)

    def __repr__(self) -> str:
        return f"Lazy({self._msg!r})"

    def __format__(self, spec: str) -> str:
        return format(str(self), spec)

    def __eq__(self, other: object) -> bool:
        return str(self) == (str(other) if isinstance(other, Lazy | str) else other)

    def __hash__(self) -> int:
        return hash(self._msg)

    def __add__(self, other: str) -> str:
        return str(self) + other

    def __radd__(self, other: str) -> str:
        return other + str(self)

    def __mod__(self, values: t.Any) -> str:
        return str(str(self) % values)

    def __contains__(self, item: str) -> bool:
        return item in str(self)

    def __len__(self) -> int:
        return len(str(self))

    def with_values(self, **values: t.Any) -> Lazy:
        """The same message with (more) placeholder values, still lazy."""
        return Lazy(self._msg, self._plural, self._n, {**self._values, **values})

    @property
    def msgid(self) -> str:
        return self._msg


def _l(message: str, **values: t.Any) -> Lazy:
    return Lazy(message, values=values)


def _ln(singular: str, plural: str, n: int, **values: t.Any) -> Lazy:
    return Lazy(singular, plural, n, {"num": n, **values})


Text = str | Lazy


class Formatter(t.Protocol):
    """Dates, times and country names for people, in the current locale and time zone."""

    def date(self, when: dt.datetime) -> str: ...
    def time(self, when: dt.datetime) -> str: ...
    def exact(self, when: dt.datetime) -> str: ...
    def relative(self, delta: dt.timedelta) -> str | None: ...
    def country(self, code: str) -> str | None: ...


_formatter: list[t.Callable[[], Formatter | None]] = [lambda: None]


def install_formatter(get_formatter: t.Callable[[], Formatter | None]) -> None:
    """``get_formatter()`` returns the current locale's formatter, or ``None`` for English in UTC."""
    _formatter[0] = get_formatter


def formatter() -> Formatter | None:
    return _formatter[0]()
