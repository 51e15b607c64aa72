"""The documentation builds with warnings as errors, and its examples run.

``.ci/run`` builds it too; this test makes the suite catch a broken page (a
docstring autodoc cannot read, a dead cross-reference, a configuration key
without a meaning) or an example whose output changed, before CI does.
"""

from __future__ import annotations

import pathlib
import subprocess
import sys

import pytest

ROOT = pathlib.Path(__file__).resolve().parent.parent


def build(builder: str, out: pathlib.Path) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "sphinx", "-W", "--keep-going", "-q", "-E", "-b", builder]
    return subprocess.run([*command, str(ROOT / "docs"), str(out)], capture_output=True, text=True, timeout=300)


@pytest.fixture(scope="module")
def html(tmp_path_factory: pytest.TempPathFactory) -> pathlib.Path:
    out = tmp_path_factory.mktemp("html")
    result = build("html", out)
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-4000:]
    return out


@pytest.mark.slow
def test_html_builds_without_warnings_and_lists_every_key(html: pathlib.Path) -> None:
    from flask_sessionauth.core.config import DEFAULTS

    page = (html / "configuration.html").read_text()
    assert [key for key in DEFAULTS if key not in page] == []
    assert "SessionAuth.login_user" in (html / "reference.html").read_text()  # autodoc ran


@pytest.mark.slow
def test_every_example_runs(tmp_path: pathlib.Path) -> None:
    result = build("doctest", tmp_path)
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-4000:]
    summary = (tmp_path / "output.txt").read_text()
    assert "0 failures in tests" in summary and " 0 tests" not in summary
