"""Every dotted name the docs mention imports.

The Markdown docs (README, ARCHITECTURE, docs/) name modules and objects in
code spans and code blocks (``flask_sessionauth.flask_login``,
``from flask_sessionauth import sensitive``); a name that does not exist (the
docs once sent users to ``flask_sessionauth.model``) fails here.
"""

from __future__ import annotations

import importlib
import pathlib
import re
import typing as t

import pytest

ROOT = pathlib.Path(__file__).resolve().parent.parent
DOCS = sorted([*ROOT.glob("*.md"), *(ROOT / "docs").rglob("*.md")])
CODE = re.compile(r"```.*?```|`[^`\n]+`", re.S)
DOTTED = re.compile(r"(?<![\w/.-])flask_sessionauth(?:\.[A-Za-z_]\w*)+")
FROM_IMPORT = re.compile(r"from[ \t]+(flask_sessionauth(?:\.\w+)*)[ \t]+import[ \t]+(\([^)]*\)|[^\n#`]+)")


def mentioned() -> dict[str, str]:
    """``{dotted name: first file mentioning it}`` over the docs' code."""
    names: dict[str, str] = {}
    for path in DOCS:
        for code in CODE.findall(path.read_text(encoding="utf-8")):
            found = DOTTED.findall(code)
            for module, imported in FROM_IMPORT.findall(code):
                for name in imported.strip("()").split(","):
                    if name.split():
                        found.append(f"{module}.{name.split()[0]}")  # ``x as y`` imports ``x``
            for name in found:
                names.setdefault(name, path.name)
    return names


def resolve(name: str) -> t.Any:
    """Import the longest importable module prefix of ``name``, then get the rest."""
    parts = name.split(".")
    for cut in range(len(parts), 0, -1):
        try:
            obj = importlib.import_module(".".join(parts[:cut]))
        except ModuleNotFoundError:
            continue
        for attr in parts[cut:]:
            obj = getattr(obj, attr)
        return obj
    raise ModuleNotFoundError(name)


NAMES = mentioned()


def test_the_docs_mention_names_at_all() -> None:
    assert {"flask_sessionauth.flask_login", "flask_sessionauth.SessionAuth"} <= set(NAMES)


@pytest.mark.parametrize("name", sorted(NAMES))
def test_documented_name_imports(name: str) -> None:
    try:
        resolve(name)
    except (ImportError, AttributeError) as exc:
        pytest.fail(f"{NAMES[name]} mentions {name}, which does not import: {exc}")
