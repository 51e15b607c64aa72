"""The ``sessionauth`` gettext catalogues: extract, update, compile, check.

``python scripts/i18n.py update``   extract every marked string (Python and templates) into
                                    ``flask_sessionauth/translations/sessionauth.pot``, merge it
                                    into each ``<locale>/LC_MESSAGES/sessionauth.po``, compile,
                                    and list what is untranslated or fuzzy (exit 1 if anything is)
``python scripts/i18n.py compile``  ``.po`` → ``.mo`` (committed; a test checks they match)
``python scripts/i18n.py check``    what the tests check: the ``.pot`` is current, every
                                    catalogue complete, no fuzzy entry, placeholders kept, ``.mo`` fresh
``python scripts/i18n.py init LOCALE``  start a new language

Markers: ``_``, ``_n`` (plural), ``_l``, ``_ln`` (lazy) from ``flask_sessionauth.core.i18n`` in
Python; ``_sa`` and ``_sa_n`` in templates. Placeholders are named: ``%(name)s``, ``%(num)d``.
"""

from __future__ import annotations

import io
import pathlib
import re
import sys
import tempfile
import typing as t

from babel.messages import Catalog
from babel.messages.extract import extract_from_dir
from babel.messages.mofile import read_mo
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.messages.pofile import write_po

ROOT = pathlib.Path(__file__).resolve().parent.parent
CATALOGUES = ROOT / "flask_sessionauth" / "translations"
POT = CATALOGUES / "sessionauth.pot"
DOMAIN = "sessionauth"
KEYWORDS: dict[str, t.Any] = {
    "_": None,
    "_n": (1, 2),
    "_l": None,
    "_ln": (1, 2),
    "_sa": None,
    "_sa_n": (1, 2),
}
#: Where strings are extracted from, and with which extractor.
SOURCES = (
    (ROOT / "flask_sessionauth", [("**.py", "python")]),
    (ROOT / "templates", [("**.html", "jinja2.ext:babel_extract"), ("**.txt", "jinja2.ext:babel_extract")]),
)
PLACEHOLDER = re.compile(r"%\((\w+)\)[sdr]")


def extract() -> Catalog:
    catalog = Catalog(project="flask-sessionauth", domain=DOMAIN, charset="utf-8", fuzzy=False)
    for directory, method_map in SOURCES:
        options = {
            "**.html": {"autoescape": "true", "extensions": "jinja2.ext.do"},
            "**.txt": {"extensions": "jinja2.ext.do"},  # a mail's plain-text part
        }
        for _filename, _lineno, message, comments, context in extract_from_dir(
            directory, method_map, options, KEYWORDS, comment_tags=("TRANSLATORS:",), strip_comment_tags=True
        ):
            catalog.add(message, None, [], auto_comments=comments, context=context)
    return catalog


HEADER = """\
# {language} translations of flask-sessionauth's pages, e-mails, API and CLI messages.
# Distributed under the same license as flask-sessionauth (BSD-3-Clause).
# How to translate: docs/translating.md
#"""


def _write_po(path: pathlib.Path, catalog: Catalog) -> None:
    language = catalog.locale.english_name if catalog.locale else "Template of the"
    catalog.header_comment = HEADER.format(language=language)
    catalog.msgid_bugs_address = "https://github.com/pallets-eco/flask-sessionauth/issues"
    buffer = io.BytesIO()
    write_po(buffer, catalog, width=100, no_location=True, omit_header=False, sort_output=True, ignore_obsolete=True)
    path.write_bytes(buffer.getvalue())


def _read_po(path: pathlib.Path, locale: str | None = None) -> Catalog:
    with path.open("rb") as f:
        return read_po(f, locale=locale, domain=DOMAIN)


def locales() -> list[str]:
    return sorted(p.name for p in CATALOGUES.iterdir() if (p / "LC_MESSAGES" / f"{DOMAIN}.po").is_file())


def po_path(locale: str) -> pathlib.Path:
    return CATALOGUES / locale / "LC_MESSAGES" / f"{DOMAIN}.po"


def _ids(catalog: Catalog) -> dict[t.Any, t.Any]:
    return {m.id: m.auto_comments for m in catalog if m.id}


def compile_all() -> None:
    for locale in locales():
        catalog = _read_po(po_path(locale), locale)
        with po_path(locale).with_suffix(".mo").open("wb") as f:
            write_mo(f, catalog, use_fuzzy=False)


def update() -> int:
    template = extract()
    _write_po(POT, template)
    for locale in locales():
        catalog = _read_po(po_path(locale), locale)
        catalog.update(template, no_fuzzy_matching=True)
        _write_po(po_path(locale), catalog)
    compile_all()
    todo = untranslated()
    for locale, ids in todo.items():
        print(f"{locale}: {len(ids)} to translate in {po_path(locale).relative_to(ROOT)}")
        for msgid in ids:
            print(f"    {msgid!r}")
    if not todo:
        print(f"{len(_ids(template))} messages; every catalogue ({', '.join(locales())}) is complete.")
    return 1 if todo else 0


def _translated(message: t.Any) -> bool:
    strings = message.string if isinstance(message.string, tuple | list) else (message.string,)
    return bool(strings) and all(strings) and not message.fuzzy


def untranslated() -> dict[str, list[t.Any]]:
    found = {}
    for locale in locales():
        missing = [m.id for m in _read_po(po_path(locale), locale) if m.id and not _translated(m)]
        if missing:
            found[locale] = missing
    return found


def placeholder_errors(locale: str) -> list[str]:
    """Every msgstr keeps its msgid's named placeholders (a plural form may leave out ``num``)."""
    errors = []
    for m in _read_po(po_path(locale), locale):
        if not m.id:
            continue
        ids = m.id if isinstance(m.id, tuple | list) else (m.id,)
        wanted = set().union(*(PLACEHOLDER.findall(i) for i in ids))
        strings = m.string if isinstance(m.string, tuple | list) else (m.string,)
        for string in strings:
            have = set(PLACEHOLDER.findall(string or ""))
            required = wanted - {"num"} if len(ids) > 1 else wanted
            if not required <= have or not have <= wanted or "%" in PLACEHOLDER.sub("", string or "").replace("%%", ""):
                errors.append(f"{locale}: {ids[0]!r} -> {string!r}")
    return errors


def stale_mo(locale: str) -> bool:
    """``.mo`` does not hold exactly what the ``.po`` says."""
    path = po_path(locale).with_suffix(".mo")
    if not path.is_file():
        return True
    with path.open("rb") as f:
        compiled = _messages(read_mo(f))
    return compiled != _messages(m for m in _read_po(po_path(locale), locale) if not m.fuzzy)


def _messages(catalog: t.Iterable[t.Any]) -> dict[t.Any, t.Any]:
    def norm(value: t.Any) -> t.Any:
        return tuple(value) if isinstance(value, list | tuple) else value

    return {(norm(m.id), m.context): norm(m.string) for m in catalog if m.id}


def pot_problems() -> list[str]:
    """Marked strings missing from the shipped ``.pot``, and entries nothing marks any more."""
    current = _ids(extract())
    shipped = _ids(_read_po(POT)) if POT.is_file() else {}
    found = [f"not in sessionauth.pot (run scripts/i18n.py update): {i!r}" for i in set(current) - set(shipped)]
    found += [f"stale in sessionauth.pot (run scripts/i18n.py update): {i!r}" for i in set(shipped) - set(current)]
    return sorted(found)


def catalogue_problems(locale: str) -> list[str]:
    """Entries missing, obsolete, untranslated or fuzzy in ``locale``'s catalogue."""
    shipped = set(_ids(_read_po(POT)))
    ids = set(_ids(_read_po(po_path(locale), locale)))
    found = [f"{locale}: missing {i!r}" for i in shipped - ids]
    found += [f"{locale}: obsolete {i!r}" for i in ids - shipped]
    found += [f"{locale}: untranslated or fuzzy {i!r}" for i in untranslated().get(locale, [])]
    return sorted(found)


def problems() -> list[str]:
    found = pot_problems()
    for locale in locales():
        found += catalogue_problems(locale) + placeholder_errors(locale)
        if stale_mo(locale):
            found.append(f"{locale}: sessionauth.mo does not match sessionauth.po (run scripts/i18n.py compile)")
    return found


def init(locale: str) -> None:
    path = po_path(locale)
    if path.exists():
        sys.exit(f"{path} exists")
    catalog = Catalog(locale=locale, domain=DOMAIN, project="flask-sessionauth", charset="utf-8", fuzzy=False)
    catalog.update(_read_po(POT))
    path.parent.mkdir(parents=True)
    _write_po(path, catalog)
    print(f"created {path.relative_to(ROOT)}; translate it, then run scripts/i18n.py compile")


def main(argv: list[str]) -> int:
    command = argv[0] if argv else ""
    if command == "update":
        return update()
    if command == "compile":
        compile_all()
        return 0
    if command == "extract":
        _write_po(POT, extract())
        return 0
    if command == "init" and len(argv) == 2:
        init(argv[1])
        return 0
    if command == "check":
        found = problems()
        print("\n".join(found) or "catalogues OK")
        return 1 if found else 0
    print(__doc__)
    return 2


if __name__ == "__main__":
    with tempfile.TemporaryDirectory():
        sys.exit(main(sys.argv[1:]))
