"""The package's shape: one direction of imports, no cycle, small modules."""

from __future__ import annotations

import importlib.util
import pathlib
import sys

ROOT = pathlib.Path(__file__).resolve().parent.parent
spec = importlib.util.spec_from_file_location("check_layers", ROOT / "scripts" / "check_layers.py")
assert spec is not None and spec.loader is not None
check_layers = importlib.util.module_from_spec(spec)
sys.modules["check_layers"] = check_layers
spec.loader.exec_module(check_layers)


def test_no_cycle_and_no_upward_import() -> None:
    graph = check_layers.imports()
    assert "services.sessions" in graph["glue.hook"]  # the walk sees real edges
    assert "storage" in graph["services.sessions"]
    assert check_layers.violations(graph) == []


def test_checker_reports_upward_imports_and_cycles() -> None:
    graph = {
        "core.tokens": {"glue.hook"},  # upward
        "glue.hook": {"core.tokens"},
        "web.api": {"extension"},  # only __init__ may import the extension
        "extension": set(),
    }
    problems = check_layers.violations(graph)
    assert any(p.startswith("upward import: core.tokens") for p in problems)
    assert any(p.startswith("import cycle:") for p in problems)
    assert any("web.api imports extension" in p for p in problems)


def test_modules_stay_small() -> None:
    sizes = {
        p.relative_to(ROOT).as_posix(): len(p.read_text().splitlines())
        for p in (ROOT / "flask_sessionauth").rglob("*.py")
    }
    assert sizes["flask_sessionauth/extension.py"] <= 200
    assert {name: n for name, n in sizes.items() if n > 350} == {}
