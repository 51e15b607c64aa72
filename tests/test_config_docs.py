"""README's configuration table, ``DEFAULTS`` and ``DOCS`` say the same thing.

The documentation's configuration page is generated from ``core/config.py``
(keys, defaults) and ``core/config_docs.py`` (meanings); README keeps a copy of
the table for readers on the repository page. These tests keep the copy exact.
"""

from __future__ import annotations

import importlib.util
import pathlib
import sys

from flask_sessionauth.core.config import DEFAULTS
from flask_sessionauth.core.config_docs import DOCS

ROOT = pathlib.Path(__file__).resolve().parent.parent
spec = importlib.util.spec_from_file_location("config_table", ROOT / "scripts" / "config_table.py")
assert spec is not None and spec.loader is not None
config_table = importlib.util.module_from_spec(spec)
sys.modules["config_table"] = config_table
spec.loader.exec_module(config_table)

README = (ROOT / "README.md").read_text()


def test_every_key_is_described_once_in_order() -> None:
    assert list(DOCS) == list(DEFAULTS)
    assert all(meaning.strip() and "|" not in meaning for meaning in DOCS.values())


def test_readme_table_has_every_key_in_order() -> None:
    assert [key for key, _, _ in config_table.readme_rows(README)] == list(DEFAULTS)


def test_readme_defaults_are_the_real_defaults() -> None:
    wrong = {key: default for key, default, _ in config_table.readme_rows(README) if default != DEFAULTS[key]}
    assert wrong == {}


def test_readme_meanings_are_the_docs_meanings() -> None:
    wrong = {key: meaning for key, _, meaning in config_table.readme_rows(README) if meaning != DOCS[key]}
    assert wrong == {}


def test_generated_defaults_read_back_as_the_values() -> None:
    """The page shows each default as source that evaluates to the value itself."""
    import ast

    for key, default, _ in config_table.rows():
        assert ast.literal_eval(default) == DEFAULTS[key], key


def test_a_drift_is_caught() -> None:
    """The parser really reads the cells: a changed default or meaning is seen."""
    row = "| `SESSIONAUTH_FRESH_AGE` | `3600` |"
    assert row in README
    drifted = config_table.readme_rows(README.replace(row, "| `SESSIONAUTH_FRESH_AGE` | `60` |"))
    assert dict((k, d) for k, d, _ in drifted)["SESSIONAUTH_FRESH_AGE"] == 60
