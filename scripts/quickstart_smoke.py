"""Run the README's Quick start as a new user would, and check that it works.

``python scripts/quickstart_smoke.py README.md`` (in an empty working directory): writes
the README's Quick start code block to ``app.py`` unchanged, imports it, creates the tables
(``db.create_all()``), creates a user with ``flask sessionauth create-user``, signs in on
``/account/login`` through the test client, then checks the app's own page and
``/account/devices``. Prints one JSON line (the package's location, for the caller to check
that the installed copy was used) and exits 1 on any failure.

``scripts/check_dist.py`` runs it in a fresh virtualenv holding only the built sdist or wheel
and its runtime dependencies; ``tests/test_packaging.py`` runs it against a built wheel.
"""

from __future__ import annotations

import importlib
import json
import pathlib
import re
import sys

EMAIL = "you@example.com"
PASSWORD = "quick start password"


def quick_start_code(readme: str) -> str:
    """The first Python block under the "Quick start" heading."""
    section = readme.split("## Quick start", 1)[1]
    match = re.search(r"```python\n(.*?)```", section, re.S)
    if match is None:
        raise SystemExit("no Python block under '## Quick start' in the README")
    return match.group(1)


def check(condition: bool, what: str) -> None:
    if not condition:
        raise SystemExit(f"quick start failed: {what}")


def main(readme_path: str) -> None:
    workdir = pathlib.Path.cwd()
    (workdir / "app.py").write_text(quick_start_code(pathlib.Path(readme_path).read_text(encoding="utf-8")))
    sys.path.insert(0, str(workdir))
    module = importlib.import_module("app")
    app, db = module.app, module.db

    with app.app_context():
        db.create_all()
    result = app.test_cli_runner().invoke(args=["sessionauth", "create-user", EMAIL], input=f"{PASSWORD}\n{PASSWORD}\n")
    check(result.exit_code == 0, f"create-user: {result.output}")

    client = app.test_client()
    check(client.get("/").status_code == 302, "/ does not ask an anonymous visitor to sign in")
    login = client.get("/account/login").get_data(as_text=True)
    token = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', login)
    check(token is not None, "no CSRF token on the sign-in page")
    assert token is not None
    resp = client.post("/account/login", data={"csrf_token": token.group(1), "email": EMAIL, "password": PASSWORD})
    check(resp.status_code == 302, f"sign-in answered {resp.status_code}")
    home = client.get("/")
    check(home.get_data(as_text=True) == f"Hello {EMAIL}", f"/ answered {home.status_code}")
    devices = client.get("/account/devices")
    html = devices.get_data(as_text=True)
    check(devices.status_code == 200 and "This device" in html, f"/account/devices answered {devices.status_code}")
    css = client.get("/account/static/sessionauth/sessionauth.css")
    check(css.status_code == 200, "the stylesheet is not served")
    css.close()

    import flask_sessionauth

    print(json.dumps({"package": flask_sessionauth.__file__, "version": flask_sessionauth.__version__}))


if __name__ == "__main__":
    main(sys.argv[1])
