"""The public API's types: ``mypy`` (strict, setup.cfg) over ``tests/typing``, where
``assert_public_api.py`` asserts each public name's type with ``assert_type`` and
``check_public_api.py`` reveals them (none may be ``Any``). CI runs the same check."""

from __future__ import annotations

import pathlib
import re
import subprocess
import sys

import pytest

ROOT = pathlib.Path(__file__).resolve().parent.parent


@pytest.mark.slow
def test_public_api_types_check_under_mypy_strict() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "mypy", "tests/typing"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    revealed = re.findall(r'Revealed type is "(.*)"', result.stdout)
    assert len(revealed) == 24
    assert [t for t in revealed if "Any" in t] == []
