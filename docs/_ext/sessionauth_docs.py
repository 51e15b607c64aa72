"""Sphinx directives for flask-sessionauth's documentation.

``sessionauth-config``: the configuration table, generated from
``core/config.py`` (keys, defaults) and ``core/config_docs.py`` (meanings) by
``scripts/config_table.py``, so the page never restates a default.
"""

from __future__ import annotations

import importlib.util
import pathlib
import typing as t

from docutils import nodes
from docutils.statemachine import StringList
from sphinx.application import Sphinx
from sphinx.util.docutils import SphinxDirective

ROOT = pathlib.Path(__file__).resolve().parents[2]


def _config_table() -> t.Any:
    spec = importlib.util.spec_from_file_location("config_table", ROOT / "scripts" / "config_table.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


class ConfigTable(SphinxDirective):
    """Every ``SESSIONAUTH_*`` key as a ``confval`` (its default, its meaning).

    Each becomes a cross-reference target: ``{confval}`SESSIONAUTH_FRESH_AGE```.
    """

    def run(self) -> list[nodes.Node]:
        module = _config_table()
        for name in ("flask_sessionauth/core/config.py", "flask_sessionauth/core/config_docs.py"):
            self.env.note_dependency(str(ROOT / name))
        lines: list[str] = []
        for key, default, meaning in module.rows():
            lines += [
                f"```{{confval}} {key}",
                f":default: ``{default}``",
                "",
                meaning[:1].upper() + meaning[1:] + ".",
                "```",
                "",
            ]
        container = nodes.container(classes=["sessionauth-config"])
        self.state.nested_parse(StringList(lines, source="core/config.py"), 0, container)
        return [container]


def setup(app: Sphinx) -> dict[str, t.Any]:
    app.add_directive("sessionauth-config", ConfigTable)
    return {"parallel_read_safe": True, "parallel_write_safe": True, "version": "1"}
