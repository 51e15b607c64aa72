"""Build the sdist and the wheel, install each into a fresh virtualenv, run the Quick start.

``python scripts/check_dist.py`` (``.ci/run`` calls it): ``python -m build`` makes the
sdist and, from it, the wheel (so a file missing from the sdist breaks the wheel too). Each
is installed into a new virtualenv with its runtime dependencies only, no extras and no
development tools, and ``scripts/quickstart_smoke.py`` runs the README's Quick start there,
from an empty directory, so the repository is never imported. Exits 1 on any failure.
"""

from __future__ import annotations

import json
import pathlib
import subprocess
import sys
import tempfile
import zipfile

ROOT = pathlib.Path(__file__).resolve().parent.parent
#: Development tools that must not come with a runtime install.
DEV_ONLY = ("pytest", "mypy", "ruff", "playwright", "hypothesis", "redis", "psycopg")
#: The languages shipped: each needs its compiled catalogue in the wheel.
LOCALES = ("ar", "de", "es", "fr", "ja")
GERMAN_PAGE = """
import sqlalchemy as sa
from flask import Flask
from flask_sqlalchemy import SQLAlchemy
import flask_sessionauth
from flask_sessionauth import SessionAuth

db = SQLAlchemy()

class User(db.Model):
    id = sa.Column(sa.Integer, primary_key=True)
    email = sa.Column(sa.String(320), unique=True)
    password_hash = sa.Column(sa.String(255))

app = Flask(__name__)
app.config.update(SECRET_KEY="x", SQLALCHEMY_DATABASE_URI="sqlite://")
db.init_app(app)
SessionAuth(app, db=db, user_model=User)
page = app.test_client().get("/account/login", headers={"Accept-Language": "de-DE"})
body = page.get_data(as_text=True)
assert page.status_code == 200 and '<html lang="de"' in body and "Bei Ihrem Konto anmelden" in body, body[:500]
print(flask_sessionauth.__file__)
"""


def run(*args: object, cwd: pathlib.Path | None = None) -> str:
    result = subprocess.run([str(a) for a in args], cwd=cwd, capture_output=True, text=True)
    if result.returncode != 0:
        sys.exit(f"failed: {' '.join(map(str, args))}\n{result.stdout}\n{result.stderr}")
    return result.stdout


def check_artifact(artifact: pathlib.Path, kind: str, work: pathlib.Path) -> None:
    venv = work / f"venv-{kind}"
    run(sys.executable, "-m", "venv", venv)
    python = venv / "bin" / "python"
    run(python, "-m", "pip", "install", "--quiet", artifact)
    installed = {line.split("==")[0].lower() for line in run(python, "-m", "pip", "freeze").split()}
    unwanted = sorted(installed.intersection(DEV_ONLY))
    if unwanted:
        sys.exit(f"{artifact.name} pulled in development packages: {unwanted}")
    smoke = work / f"smoke-{kind}"
    smoke.mkdir()
    output = run(python, "-I", ROOT / "scripts" / "quickstart_smoke.py", ROOT / "README.md", cwd=smoke)
    report = json.loads(output.strip().splitlines()[-1])
    if not pathlib.Path(report["package"]).is_relative_to(venv):
        sys.exit(f"the smoke test imported {report['package']}, not the installed package")
    print(f"{artifact.name}: installed with {len(installed)} packages, Quick start OK")
    run(python, "-m", "pip", "install", "--quiet", f"{artifact}[i18n]")
    package = run(python, "-I", "-c", GERMAN_PAGE, cwd=smoke).strip().splitlines()[-1]
    if not pathlib.Path(package).is_relative_to(venv):
        sys.exit(f"the German page came from {package}, not the installed package")
    print(f"{artifact.name}: with the i18n extra, pages in German OK")


def check_catalogues(wheel: pathlib.Path) -> None:
    names = set(zipfile.ZipFile(wheel).namelist())
    missing = [
        f"flask_sessionauth/translations/{locale}/LC_MESSAGES/sessionauth.mo"
        for locale in LOCALES
        if f"flask_sessionauth/translations/{locale}/LC_MESSAGES/sessionauth.mo" not in names
    ]
    if missing:
        sys.exit(f"{wheel.name} lacks compiled catalogues: {missing}")


def main() -> None:
    with tempfile.TemporaryDirectory(prefix="sessionauth-dist-") as tmp:
        work = pathlib.Path(tmp)
        run(sys.executable, "-m", "build", "--outdir", work / "dist", ROOT)
        sdists = sorted((work / "dist").glob("flask_sessionauth-*.tar.gz"))
        wheels = sorted((work / "dist").glob("flask_sessionauth-*.whl"))
        if len(sdists) != 1 or len(wheels) != 1:
            sys.exit(f"expected one sdist and one wheel, got {sdists + wheels}")
        check_catalogues(wheels[0])
        check_artifact(sdists[0], "sdist", work)
        check_artifact(wheels[0], "wheel", work)


if __name__ == "__main__":
    main()
