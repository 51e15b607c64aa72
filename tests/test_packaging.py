"""The wheel carries the templates and static files, and a wheel install finds them.

``templates/`` and ``static/`` sit at the repository's top level;
setup.cfg maps them into the package. These tests build the wheel from a copy
of the sources, install it into a brand-new virtualenv where the repository is
not importable, and render the devices page from there.
"""

from __future__ import annotations

import json
import os
import pathlib
import shutil
import subprocess
import sys
import sysconfig
import tarfile
import textwrap
import typing as t
import zipfile
from email.parser import HeaderParser

import pytest

import flask_sessionauth
from flask_sessionauth.web.resources import resource_dir

ROOT = pathlib.Path(__file__).resolve().parent.parent
SOURCES = [
    "setup.cfg",
    "pyproject.toml",
    "MANIFEST.in",
    "README.md",
    "LICENSE",
    "CHANGELOG.md",
    "flask_sessionauth",
    "templates",
    "static",
]
EXPECTED = [
    "flask_sessionauth/py.typed",
    *(f"flask_sessionauth/translations/{lang}/LC_MESSAGES/sessionauth.mo" for lang in ("ar", "de", "es", "fr", "ja")),
    "flask_sessionauth/templates/sessionauth/base.html",
    "flask_sessionauth/templates/sessionauth/devices.html",
    "flask_sessionauth/templates/sessionauth/login.html",
    "flask_sessionauth/templates/sessionauth/password.html",
    "flask_sessionauth/templates/sessionauth/confirm.html",
    "flask_sessionauth/static/sessionauth/sessionauth.css",
    "flask_sessionauth/static/sessionauth/icons/phone.svg",
]

# Runs inside the fresh venv: a minimal app of a user's own, signed in, devices page.
PROBE = textwrap.dedent(
    """
    import json
    import sqlalchemy as sa
    from flask import Flask, jsonify
    from flask_sqlalchemy import SQLAlchemy
    import flask_sessionauth
    from flask_sessionauth import SessionAuth

    db = SQLAlchemy()

    class User(db.Model):
        id = sa.Column(sa.Integer, primary_key=True)
        email = sa.Column(sa.String(320), unique=True, nullable=False)
        password_hash = sa.Column(sa.String(255), nullable=False)

    app = Flask(__name__)
    app.config.update(
        SECRET_KEY="probe", SQLALCHEMY_DATABASE_URI="sqlite://", WTF_CSRF_ENABLED=False,
        SESSIONAUTH_PASSWORD_CONTEXT_OPTIONS={"argon2__memory_cost": 1024, "argon2__time_cost": 1},
    )
    db.init_app(app)
    auth = SessionAuth(app, db=db, user_model=User)
    with app.app_context():
        db.create_all()
        auth.create_user("probe@example.com", "probe password 1")

    client = app.test_client()
    signed_in = client.post(
        "/account/login", data={"email": "probe@example.com", "password": "probe password 1"}
    )
    page = client.get("/account/devices")
    css = client.get("/account/static/sessionauth/sessionauth.css")
    bp = app.blueprints["sessionauth"]
    print(json.dumps({
        "package": flask_sessionauth.__file__,
        "template_folder": bp.template_folder,
        "static_folder": bp.static_folder,
        "template_file": app.jinja_env.get_template("sessionauth/devices.html").filename,
        "login_status": signed_in.status_code,
        "status": page.status_code,
        "html": page.get_data(as_text=True),
        "css_status": css.status_code,
        "css": css.get_data(as_text=True)[:200],
    }))
    css.close()
    """
)


def run(*args: str | os.PathLike[str], **kwargs: t.Any) -> subprocess.CompletedProcess[str]:
    result = subprocess.run([str(a) for a in args], capture_output=True, text=True, timeout=120, **kwargs)
    assert result.returncode == 0, f"{args}\nstdout:\n{result.stdout}\nstderr:\n{result.stderr}"
    return result


@pytest.fixture(scope="module")
def dist(tmp_path_factory: pytest.TempPathFactory) -> pathlib.Path:
    """The sdist and, built from it, the wheel, from a clean copy of the sources
    (no build/ or egg-info in the tree), as ``python -m build`` does by default."""
    work = tmp_path_factory.mktemp("dist")
    src = work / "src"
    src.mkdir()
    for name in SOURCES:
        path = ROOT / name
        if path.is_dir():
            shutil.copytree(path, src / name, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
        else:
            shutil.copy2(path, src / name)
    run(sys.executable, "-m", "build", "--outdir", work / "dist", src)
    return work / "dist"


@pytest.fixture(scope="module")
def wheel(dist: pathlib.Path) -> pathlib.Path:
    (built,) = dist.glob("flask_sessionauth-*.whl")
    return built


@pytest.fixture(scope="module")
def sdist(dist: pathlib.Path) -> pathlib.Path:
    (built,) = dist.glob("flask_sessionauth-*.tar.gz")
    return built


@pytest.fixture(scope="module")
def wheel_python(wheel: pathlib.Path, tmp_path_factory: pytest.TempPathFactory) -> pathlib.Path:
    """A brand-new venv holding the wheel; its dependencies come from the dev venv's
    site-packages via a .pth line (only that directory: .pth files in it, such as the
    editable install's hook, are not run)."""
    venv = tmp_path_factory.mktemp("venv") / "venv"
    run(sys.executable, "-m", "venv", "--without-pip", venv)
    python = venv / "bin" / "python"
    run(sys.executable, "-m", "pip", "--python", python, "install", "--no-deps", "--no-index", "--quiet", wheel)
    purelib = run(python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])").stdout.strip()
    (pathlib.Path(purelib) / "deps.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    return python


def clean_env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.startswith("PYTHON")}


def test_wheel_contains_templates_static_and_py_typed(wheel: pathlib.Path) -> None:
    names = set(zipfile.ZipFile(wheel).namelist())
    missing = [name for name in EXPECTED if name not in names]
    assert not missing, f"not in the wheel: {missing}"
    # Nothing from the repository's top level leaks into site-packages.
    assert all(name.startswith(("flask_sessionauth/", "flask_sessionauth-")) for name in names)


def test_installed_wheel_renders_the_devices_page(wheel_python: pathlib.Path, tmp_path: pathlib.Path) -> None:
    python = wheel_python
    purelib = run(python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])").stdout.strip()
    result = run(python, "-I", "-c", PROBE, cwd=tmp_path, env=clean_env())
    probe = json.loads(result.stdout.strip().splitlines()[-1])

    installed = pathlib.Path(purelib) / "flask_sessionauth"
    assert pathlib.Path(probe["package"]).parent == installed
    assert probe["template_folder"] == str(installed / "templates")
    assert probe["static_folder"] == str(installed / "static")
    assert probe["template_file"] == str(installed / "templates" / "sessionauth" / "devices.html")
    assert probe["login_status"] == 302
    assert probe["status"] == 200
    assert 'id="session-list"' in probe["html"] and "This device" in probe["html"]
    assert probe["css_status"] == 200 and "flask-sessionauth" in probe["css"]
    assert str(ROOT) not in probe["html"]


def test_checkout_uses_top_level_folders() -> None:
    """Editable install or plain checkout: no copies inside the package, the repo's own folders."""
    assert not (ROOT / "flask_sessionauth" / "templates").exists()
    assert resource_dir("templates") == str(ROOT / "templates")
    assert resource_dir("static") == str(ROOT / "static")


def test_installed_wheel_runs_the_readme_quick_start(wheel_python: pathlib.Path, tmp_path: pathlib.Path) -> None:
    """The README's Quick start, verbatim, then create-user, sign in and the devices page
    (the script ``scripts/check_dist.py`` runs in CI against runtime-only installs)."""
    script = ROOT / "scripts" / "quickstart_smoke.py"
    result = run(wheel_python, "-I", script, ROOT / "README.md", cwd=tmp_path, env=clean_env())
    report = json.loads(result.stdout.strip().splitlines()[-1])
    assert not pathlib.Path(report["package"]).is_relative_to(ROOT)
    assert report["version"] == flask_sessionauth.__version__


def metadata(wheel: pathlib.Path) -> t.Any:
    with zipfile.ZipFile(wheel) as archive:
        (name,) = [n for n in archive.namelist() if n.endswith(".dist-info/METADATA")]
        return HeaderParser().parsestr(archive.read(name).decode())


def test_version_has_one_source(wheel: pathlib.Path, sdist: pathlib.Path) -> None:
    """``__version__`` is the only place the number is written; the metadata reads it."""
    assert "version = attr: flask_sessionauth.__version__" in (ROOT / "setup.cfg").read_text()
    assert metadata(wheel)["Version"] == flask_sessionauth.__version__
    assert wheel.name.startswith(f"flask_sessionauth-{flask_sessionauth.__version__}-")
    assert sdist.name == f"flask_sessionauth-{flask_sessionauth.__version__}.tar.gz"


def test_wheel_metadata_classifiers_and_urls(wheel: pathlib.Path) -> None:
    meta = metadata(wheel)
    classifiers = set(meta.get_all("Classifier"))
    python_versions = {
        c.rsplit(" :: ", 1)[1] for c in classifiers if c.startswith("Programming Language :: Python :: 3.")
    }
    assert python_versions == {"3.10", "3.11", "3.12", "3.13"}
    assert meta["Requires-Python"] == ">=3.10"
    assert {
        "Typing :: Typed",
        "License :: OSI Approved :: BSD License",
        "Framework :: Flask",
        "Operating System :: OS Independent",
    } <= classifiers
    assert any(c.startswith("Development Status :: ") for c in classifiers)
    urls = dict(line.split(", ", 1) for line in meta.get_all("Project-URL"))
    assert {"Source", "Changes", "Issue Tracker", "Documentation"} <= set(urls)
    assert {"postgres", "redis"} <= set(meta.get_all("Provides-Extra"))


def test_license_is_in_the_repository_sdist_and_wheel(wheel: pathlib.Path, sdist: pathlib.Path) -> None:
    text = (ROOT / "LICENSE").read_text()
    assert "BSD 3-Clause License" in text and "Neither the name of the copyright holder" in text
    assert "License-Expression: BSD-3-Clause" in str(metadata(wheel)) or metadata(wheel)["License"] == "BSD-3-Clause"
    with zipfile.ZipFile(wheel) as archive:
        licenses = [n for n in archive.namelist() if n.endswith("LICENSE") and ".dist-info/" in n]
        assert licenses and archive.read(licenses[0]).decode() == text
    with tarfile.open(sdist) as archive:
        top = archive.getnames()[0].split("/")[0]
        member = archive.extractfile(f"{top}/LICENSE")
        assert member is not None and member.read().decode() == text


def test_sdist_holds_everything_needed_to_build_and_read(sdist: pathlib.Path) -> None:
    with tarfile.open(sdist) as archive:
        top = archive.getnames()[0].split("/")[0]
        names = {n.removeprefix(top + "/") for n in archive.getnames()}
    expected = {
        "LICENSE",
        "CHANGELOG.md",
        "README.md",
        "setup.cfg",
        "pyproject.toml",
        "flask_sessionauth/py.typed",
        *(name.removeprefix("flask_sessionauth/") for name in EXPECTED if "/templates/" in name or "/static/" in name),
    }
    assert not expected - names, f"not in the sdist: {sorted(expected - names)}"


def test_changelog_keeps_a_changelog() -> None:
    text = (ROOT / "CHANGELOG.md").read_text()
    assert "keepachangelog.com" in text
    assert "## [Unreleased]" in text
    assert f"## [{flask_sessionauth.__version__}]" in text
