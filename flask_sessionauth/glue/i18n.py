"""Locale, time zone and translations of the current request (or CLI run).

Active only when Flask-Babel is importable (the ``i18n`` extra); without it
:mod:`..core.i18n` keeps its English translator and nothing here is installed.

* Locale: the app's Flask-Babel ``locale_selector``, else the best of the shipped
  (and app-supplied) catalogues for ``Accept-Language``, else English.
* Time zone: the app's ``timezone_selector``, else the browser's zone from the
  ``sa_tz`` cookie (set by ``tz.js``; validated against zoneinfo), else UTC.
* Catalogues: domain ``sessionauth``; the directories in
  ``SESSIONAUTH_TRANSLATION_DIRECTORIES`` come first, then the shipped ones.
"""

from __future__ import annotations

import contextlib
import contextvars
import datetime as dt
import functools
import os
import re
import typing as t
import zoneinfo

from flask import current_app
from flask import g
from flask import has_app_context
from flask import has_request_context
from flask import request
from markupsafe import Markup

from ..core import i18n

try:  # the optional extra
    import babel
    import flask_babel  # noqa: F401
    from babel import dates as babel_dates
    from babel import support
except ImportError:  # pragma: no cover - exercised in a subprocess test
    ENABLED = False
else:
    ENABLED = True

#: The shipped catalogues: ``<locale>/LC_MESSAGES/sessionauth.mo``.
SHIPPED_DIR = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "translations")
#: The browser's IANA zone, set by ``static/sessionauth/tz.js``.
TZ_COOKIE = "sa_tz"
#: Right-to-left scripts among the languages a catalogue may be for.
RTL_LANGUAGES = frozenset({"ar", "fa", "he", "ur", "ps", "yi", "dv", "ckb", "sd", "ug"})
_ZONE_SHAPE = re.compile(r"[A-Za-z][A-Za-z0-9_+\-]{0,30}(/[A-Za-z0-9_+\-]{1,30}){0,2}")
#: How many of a header's languages are looked at (a hostile header may list thousands).
_MAX_LANGUAGES = 12
_LOCALE_SHAPE = re.compile(r"[A-Za-z]{2,3}([_-][A-Za-z0-9]{2,8})?")
_forced_locale: contextvars.ContextVar[str | None] = contextvars.ContextVar("sessionauth_locale", default=None)
_forced_zone: contextvars.ContextVar[dt.tzinfo | None] = contextvars.ContextVar("sessionauth_zone", default=None)


def _directories() -> tuple[str, ...]:
    extra = current_app.config.get("SESSIONAUTH_TRANSLATION_DIRECTORIES") or () if has_app_context() else ()
    return (*(str(d) for d in extra), SHIPPED_DIR)


@functools.lru_cache(maxsize=16)
def _locales_in(directories: tuple[str, ...]) -> tuple[str, ...]:
    found = {"en"}
    for directory in directories:
        with contextlib.suppress(OSError):
            for name in os.listdir(directory):
                if os.path.isfile(os.path.join(directory, name, "LC_MESSAGES", f"{i18n.DOMAIN}.mo")):
                    found.add(name)
    return ("en", *sorted(found - {"en"}))  # English first: what "*" gets


def available_locales() -> tuple[str, ...]:
    """``en`` and every locale with a ``sessionauth`` catalogue (shipped or the app's)."""
    return _locales_in(_directories())


def _supported(value: object) -> str | None:
    """``de_DE``/``de-DE``/``de`` → the best available locale, else ``None``."""
    text = str(value or "")
    if not _LOCALE_SHAPE.fullmatch(text):
        return None
    text = text.replace("-", "_")
    available = available_locales()
    for candidate in (text, text.split("_")[0].lower()):
        if candidate in available:
            return candidate
    return None


def _app_selector(name: str) -> t.Any:
    config = current_app.extensions.get("babel")
    selector = getattr(config, name, None)
    return selector() if selector is not None else None


def locale_from_environment(explicit: str | None = None) -> str:
    """The CLI's locale: ``--locale``, else ``LC_ALL``, ``LC_MESSAGES``, ``LANG`` (POSIX order), else English."""
    for value in (explicit, os.environ.get("LC_ALL"), os.environ.get("LC_MESSAGES"), os.environ.get("LANG")):
        if value:
            return _supported(value.split(".")[0].split("@")[0]) or "en"
    return "en"


def _from_accept_language() -> str:
    """The first of the browser's languages (by quality) that a catalogue exists for, a
    region falling back to its language (``de-AT`` → ``de``); ``*`` or nothing: English."""
    for value, quality in list(request.accept_languages)[:_MAX_LANGUAGES]:
        if quality <= 0:
            continue
        if value == "*":
            break
        chosen = _supported(value)
        if chosen is not None:
            return chosen
    return "en"


def current_locale() -> str:
    forced = _forced_locale.get()
    if forced is not None:
        return forced
    if not ENABLED or not has_request_context():
        return "en"
    cached = g.get("_sessionauth_locale")
    if cached is None:
        chosen = _supported(_app_selector("locale_selector"))
        if chosen is None:
            chosen = _from_accept_language()
        cached = g._sessionauth_locale = chosen.replace("-", "_")
    return t.cast(str, cached)


def zone(name: object) -> dt.tzinfo | None:
    """A time zone by IANA name, or ``None`` if it is not one (hostile values included)."""
    if isinstance(name, dt.tzinfo):
        return name
    text = str(name or "")
    if not _ZONE_SHAPE.fullmatch(text) or text not in _zone_names():
        return None
    if text in ("UTC", "Etc/UTC", "Etc/Universal", "Universal", "Zulu", "Etc/Zulu"):
        return dt.timezone.utc
    return zoneinfo.ZoneInfo(text)


@functools.lru_cache(maxsize=1)
def _zone_names() -> frozenset[str]:
    return frozenset(zoneinfo.available_timezones())


def current_timezone() -> dt.tzinfo:
    forced = _forced_zone.get()
    if forced is not None:
        return forced
    if not ENABLED or not has_request_context():
        return dt.timezone.utc
    cached = g.get("_sessionauth_zone")
    if cached is None:
        cached = zone(_app_selector("timezone_selector")) or zone(request.cookies.get(TZ_COOKIE)) or dt.timezone.utc
        g._sessionauth_zone = cached
    return t.cast(dt.tzinfo, cached)


@contextlib.contextmanager
def force(locale: str | None = None, timezone: object = None) -> t.Iterator[None]:
    """Render in ``locale`` and ``timezone`` (e.g. an e-mail in its recipient's language, or the CLI)."""
    chosen = (_supported(locale) or "en") if ENABLED else "en"
    tokens = (_forced_locale.set(chosen), _forced_zone.set((zone(timezone) if ENABLED else None) or dt.timezone.utc))
    try:
        yield
    finally:
        _forced_locale.reset(tokens[0])
        _forced_zone.reset(tokens[1])


def mail_locale(config: t.Mapping[str, t.Any]) -> tuple[str, dt.tzinfo]:
    """The language and time zone of a mail composed now: the request's that
    triggered it (its ``Accept-Language``/selector, its ``sa_tz`` cookie), else
    what :func:`force` set (an app's job for its user, the CLI's ``--locale``),
    else the app's ``BABEL_DEFAULT_LOCALE`` and ``BABEL_DEFAULT_TIMEZONE``."""
    if has_request_context() or _forced_locale.get() is not None:
        return current_locale(), current_timezone()
    locale = (_supported(config.get("BABEL_DEFAULT_LOCALE")) or "en") if ENABLED else "en"
    return locale, (zone(config.get("BABEL_DEFAULT_TIMEZONE")) if ENABLED else None) or dt.timezone.utc


def _escape(text: str) -> Markup:
    """Escaped for text and double-quoted attributes; an apostrophe stays as written."""
    return Markup(text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace('"', "&#34;"))


def sa(message: str, **values: t.Any) -> Markup:
    """Templates' ``_sa``: translate ``message``; with values, fill its ``%(name)s``
    placeholders, escaping each value."""
    text = _escape(i18n.gettext(message))
    return text % values if values else text  # as Jinja's i18n: "%" is literal without values


def sa_n(singular: str, plural: str, n: int, **values: t.Any) -> Markup:
    """Templates' ``_sa_n``: the plural form for ``n`` (``%(num)d``)."""
    return _escape(i18n.ngettext(singular, plural, n)) % {"num": n, **values}


def sa_text(message: str, **values: t.Any) -> str:
    """``_sa`` of plain-text templates (a mail's ``.txt`` part): nothing escaped."""
    return i18n._(message, **values)


def sa_text_n(singular: str, plural: str, n: int, **values: t.Any) -> str:
    return i18n._n(singular, plural, n, **values)


def text_direction(locale: str | None = None) -> str:
    return "rtl" if (locale or current_locale()).split("_")[0] in RTL_LANGUAGES else "ltr"


@functools.lru_cache(maxsize=64)
def _catalogue(locale: str, directories: tuple[str, ...]) -> i18n.Translator:
    """The merged catalogue: earlier directories win over later ones (the shipped one is last)."""
    loaded = (support.Translations.load(d, [locale], i18n.DOMAIN) for d in directories)
    found = [c for c in loaded if isinstance(c, support.Translations)]
    if not found:
        return support.NullTranslations()
    merged = found.pop()
    for catalogue in reversed(found):
        merged.merge(catalogue)
    return merged


def translator() -> i18n.Translator:
    return _catalogue(current_locale(), _directories())


def _zone_abbreviation(when: dt.datetime, tz: dt.tzinfo) -> str:
    return when.astimezone(tz).strftime("%Z") or "UTC"


class BabelFormatter:
    """Dates and relative times in a locale and time zone, by Babel."""

    def __init__(self, locale: str, tz: dt.tzinfo) -> None:
        self.locale, self.tz = locale, tz

    def date(self, when: dt.datetime) -> str:
        return babel_dates.format_date(_aware(when).astimezone(self.tz), "medium", locale=self.locale)

    def time(self, when: dt.datetime) -> str:
        when = _aware(when)
        text = babel_dates.format_time(when, "short", tzinfo=self.tz, locale=self.locale)
        return f"{text} {_zone_abbreviation(when, self.tz)}"

    def exact(self, when: dt.datetime) -> str:
        when = _aware(when)
        text = babel_dates.format_datetime(when, "short", tzinfo=self.tz, locale=self.locale)
        return f"{text} {_zone_abbreviation(when, self.tz)}"

    def relative(self, delta: dt.timedelta) -> str | None:
        if self.locale == "en":
            return None  # the source language keeps its own phrases ("yesterday")
        return babel_dates.format_timedelta(
            -delta, granularity="minute", threshold=1, add_direction=True, locale=self.locale
        )

    def country(self, code: str) -> str | None:
        """CLDR's name of the territory in this locale; English keeps core's names."""
        if self.locale == "en":
            return None
        return _territories(self.locale).get(code)


@functools.lru_cache(maxsize=32)
def _territories(locale: str) -> dict[str, str]:
    try:
        return dict(babel.Locale.parse(locale).territories)
    except (ValueError, LookupError):  # a locale Babel has no data for
        return {}


def _aware(when: dt.datetime) -> dt.datetime:
    return when if when.tzinfo is not None else when.replace(tzinfo=dt.timezone.utc)


def formatter() -> BabelFormatter | None:
    locale, tz = current_locale(), current_timezone()
    if locale == "en" and tz is dt.timezone.utc:
        return None  # English in UTC: core's own formatting, as before
    return BabelFormatter(locale, tz)


if ENABLED:
    i18n.install(translator)
    i18n.install_formatter(formatter)
