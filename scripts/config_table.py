"""The configuration table, generated from ``core/config.py`` and ``core/config_docs.py``.

``DEFAULTS`` gives each key and its default, ``DOCS`` its meaning. The
documentation's configuration page is built from :func:`markdown_table`
(``docs/_ext/sessionauth_docs.py``); README keeps the same table, which
``tests/test_config_docs.py`` compares with :func:`readme_rows`. Run this
script to print the table for README after adding or changing a key.
"""

from __future__ import annotations

import ast
import pathlib
import re
import sys
import typing as t

ROOT = pathlib.Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from flask_sessionauth.core.config import DEFAULTS  # noqa: E402
from flask_sessionauth.core.config_docs import DOCS  # noqa: E402


def literal(value: t.Any) -> str:
    """``value`` as Python source, strings in double quotes as README writes them."""
    if isinstance(value, str):
        return f'"{value}"' if '"' not in value and "\\" not in value else repr(value)
    if isinstance(value, list):
        return "[" + ", ".join(literal(v) for v in value) + "]"
    if isinstance(value, tuple):
        return "(" + ", ".join(literal(v) for v in value) + ("," if len(value) == 1 else "") + ")"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{literal(k)}: {literal(v)}" for k, v in value.items()) + "}"
    return repr(value)


def rows() -> list[tuple[str, str, str]]:
    """(key, default as source, meaning) for every key, in ``DEFAULTS`` order."""
    missing = [key for key in DEFAULTS if key not in DOCS]
    extra = [key for key in DOCS if key not in DEFAULTS]
    if missing or extra:
        raise SystemExit(
            f"core/config_docs.py DOCS must describe exactly the keys of DEFAULTS: missing {missing}, extra {extra}"
        )
    return [(key, literal(value), DOCS[key]) for key, value in DEFAULTS.items()]


def markdown_table() -> list[str]:
    """The table as Markdown lines."""
    lines = ["| key | default | meaning |", "|---|---|---|"]
    lines += [f"| `{key}` | `{default}` | {meaning} |" for key, default, meaning in rows()]
    return lines


_ROW = re.compile(r"\| `(SESSIONAUTH_[A-Z0-9_]+)` \| (.*?) \| (.*) \|")


def readme_rows(readme: str) -> list[tuple[str, t.Any, str]]:
    """(key, default value, meaning) of each row of README's configuration table.

    The default is the cell's first ``code`` span read as a Python literal
    (what follows it, such as "(7 d)", is a note for the reader).
    """
    section = readme.split("\n## Configuration\n", 1)[1].split("\n## ", 1)[0]
    found = []
    for line in section.splitlines():
        match = _ROW.fullmatch(line.strip())
        if match:
            code = re.search(r"`([^`]*)`", match[2])
            found.append((match[1], ast.literal_eval(code[1]) if code else match[2], match[3]))
    return found


if __name__ == "__main__":
    print("\n".join(markdown_table()))
