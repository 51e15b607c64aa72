"""The demo app a newcomer runs first: sign up, see who is signed in, reach the dashboard."""

from __future__ import annotations

import importlib.util
import os
import pathlib
import re
import subprocess
import sys
import typing as t
import urllib.request
from pathlib import Path

import pytest

from tests.conftest import FAST_HASH
from tests.helpers import free_port

DEMO = Path(__file__).resolve().parent.parent / "examples" / "demo.py"


@pytest.fixture
def demo(tmp_path: Path) -> t.Iterator[tuple[t.Any, t.Any]]:
    spec = importlib.util.spec_from_file_location("sessionauth_demo", DEMO)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["sessionauth_demo"] = module
    spec.loader.exec_module(module)
    app = module.create_app(
        {
            "SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path / 'demo.db'}",
            "SESSIONAUTH_PASSWORD_CONTEXT_OPTIONS": FAST_HASH,
        }
    )
    yield module, app
    sys.modules.pop("sessionauth_demo", None)


def csrf(html: str) -> str:
    match = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', html)
    assert match, html
    return match.group(1)


def test_signup_then_home_shows_user_and_links_dashboard(demo: t.Any) -> None:
    module, app = demo
    c = app.test_client()
    page = c.get("/signup").get_data(as_text=True)
    resp = c.post(
        "/signup",
        data={"csrf_token": csrf(page), "name": "Ada", "email": "ada@example.com", "password": "analytical engine"},
    )
    assert resp.status_code == 302
    home = c.get("/").get_data(as_text=True)
    assert "ada@example.com" in home
    assert "/account/devices" in home
    devices = c.get("/account/devices")
    assert devices.status_code == 200


def test_demo_user_can_sign_in(demo: t.Any) -> None:
    module, app = demo
    c = app.test_client()
    page = c.get("/account/login").get_data(as_text=True)
    resp = c.post(
        "/account/login",
        data={"csrf_token": csrf(page), "email": module.DEMO_EMAIL, "password": module.DEMO_PASSWORD},
    )
    assert resp.status_code == 302
    assert "Demo User" in c.get("/").get_data(as_text=True)


def test_signup_with_taken_email_does_not_reveal_it(demo: t.Any) -> None:
    module, app = demo
    c = app.test_client()
    page = c.get("/signup").get_data(as_text=True)
    resp = c.post(
        "/signup",
        data={"csrf_token": csrf(page), "name": "X", "email": module.DEMO_EMAIL, "password": "something else 1"},
        follow_redirects=True,
    )
    assert "Check your email" in resp.get_data(as_text=True)
    assert "Demo User" not in resp.get_data(as_text=True)


@pytest.mark.slow
def test_demo_command_runs_on_runtime_dependencies_only_and_reads_port() -> None:
    """``bash scripts/demo`` (the README's first command): serves on ``PORT`` from a venv
    that has the runtime dependencies and none of the development toolchain."""
    port = free_port()
    root = DEMO.parent.parent
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "VIRTUAL_ENV"))}
    proc = subprocess.Popen(
        ["bash", "scripts/demo"], cwd=root, env={**env, "PORT": str(port)}, stderr=subprocess.PIPE, text=True
    )
    try:
        assert proc.stderr is not None
        for line in proc.stderr:  # the demo's banner, then the server's own lines
            if f"Running on http://127.0.0.1:{port}" in line:
                break
        else:
            pytest.fail(f"the demo exited ({proc.wait()}) without serving on port {port}")
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/account/login") as resp:
            assert resp.status == 200
        # The interpreter as invoked (a venv's bin/python; /proc/PID/exe would be its target).
        python = str(
            root / pathlib.Path(pathlib.Path(f"/proc/{proc.pid}/cmdline").read_bytes().split(b"\0")[0].decode())
        )
        dev_tools = ("pytest", "mypy", "ruff", "playwright", "hypothesis")
        probe = f"import importlib.util as u; print([m for m in {dev_tools!r} if u.find_spec(m)])"
        found = subprocess.run([python, "-I", "-c", probe], capture_output=True, text=True, check=True).stdout
        assert found.strip() == "[]", f"the demo's Python ({python}) has development tools: {found}"
    finally:
        proc.terminate()
        proc.wait(timeout=30)
