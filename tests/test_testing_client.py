"""``flask_sessionauth.testing.SessionAuthClient`` and the pytest fixtures.

What app developers get (like Flask-Login's ``FlaskLoginClient``): a test
client signed in without the form and without a password hash, fresh or not,
as a given device; ``sign_in``/``sign_out`` on an existing client. Abuse and
mistakes checked: an inactive user is refused as at sign-in; signing in over a
session ends the old one (no two sessions, no fixation); ``sign_out`` deletes
the row, not only the cookie; no password hash is ever computed. The README's
"Testing your app" example is run as written, with pytest.
"""

from __future__ import annotations

import pathlib
import re
import subprocess
import sys
import typing as t

import pytest
from flask import Flask

from flask_sessionauth import InvalidCredentials
from flask_sessionauth.testing import SessionAuthClient
from tests.conftest import EVERY_STORAGE
from tests.conftest import User
from tests.conftest import db
from tests.helpers import PASSWORD
from tests.helpers import UA_IPHONE
from tests.helpers import auth_of
from tests.helpers import cookie_name
from tests.helpers import raw_client
from tests.helpers import session_cookie
from tests.helpers import signed_in_as
from tests.helpers import state_of

ROOT = pathlib.Path(__file__).resolve().parent.parent
pytestmark = pytest.mark.storage(*EVERY_STORAGE)


@pytest.fixture
def app_clients(app: Flask) -> Flask:
    """The test app with ``SessionAuthClient`` as its test client class."""
    app.test_client_class = SessionAuthClient
    return app


def session_ids(app: Flask, user: t.Any) -> list[str]:
    with app.app_context():
        return [s.id for s in auth_of(app).list_sessions(user)]


class NoHashing:
    """A password hasher that fails the test if anything asks it for work."""

    def __getattr__(self, name: str) -> t.Any:
        raise AssertionError(f"the password hasher was used ({name})")


def test_test_client_with_a_user_is_signed_in(app_clients: Flask, user: t.Any) -> None:
    client = app_clients.test_client(user=user)
    assert client.get("/me").json == {"email": "alice@example.com"}
    assert signed_in_as(client) == user.id
    assert len(session_ids(app_clients, user)) == 1


def test_fresh_only_when_asked(app_clients: Flask, user: t.Any) -> None:
    assert app_clients.test_client(user=user, fresh=True).get("/sudo").data == b"sudo ok"
    resp = app_clients.test_client(user=user).get("/sudo", headers={"Accept": "application/json"})
    assert resp.status_code == 403
    assert resp.json["error"]["code"] == "fresh_login_required"


def test_user_agent_is_the_sessions_device_and_the_clients_header(app_clients: Flask, user: t.Any) -> None:
    client = app_clients.test_client(user=user, user_agent=UA_IPHONE)
    assert "Safari 17 on iPhone" in client.get("/account/devices").get_data(as_text=True)
    with app_clients.app_context():
        [session] = auth_of(app_clients).list_sessions(user)
    assert session.user_agent == UA_IPHONE
    # The device keeps presenting itself so: its requests still match its session.
    assert client.environ_base["HTTP_USER_AGENT"] == UA_IPHONE


def test_sign_out_deletes_the_session_not_only_the_cookie(app_clients: Flask, user: t.Any) -> None:
    client = app_clients.test_client(user=user)
    value = session_cookie(client, app_clients)
    client.sign_out()
    assert session_cookie(client, app_clients) is None
    assert client.get("/me", headers={"Accept": "application/json"}).status_code == 401
    assert session_ids(app_clients, user) == []
    replay = raw_client(app_clients)
    assert replay.get("/whoami/storage", headers={"Cookie": f"{cookie_name(app_clients)}={value}"}).json == {
        "user_id": None
    }
    client.sign_out()  # nothing to end: no error


def test_sign_in_on_an_existing_client_replaces_its_session(app_clients: Flask, user: t.Any, other_user: t.Any) -> None:
    client = app_clients.test_client()
    assert client.get("/me").status_code == 302
    first = client.sign_in(user)
    assert signed_in_as(client) == user.id
    second = client.sign_in(other_user, fresh=True)
    assert signed_in_as(client) == other_user.id
    assert client.get("/sudo").data == b"sudo ok"
    assert session_ids(app_clients, user) == []  # the first session ended with the second sign-in
    assert session_ids(app_clients, other_user) == [second.id] != [first.id]


def test_costs_no_password_hash(app_clients: Flask, user: t.Any, monkeypatch: pytest.MonkeyPatch) -> None:
    state = state_of(app_clients)
    monkeypatch.setattr(state, "hasher", NoHashing())
    monkeypatch.setattr(state.accounts, "hasher", NoHashing())
    client = app_clients.test_client(user=user, fresh=True)
    client.sign_in(user)
    client.sign_out()
    assert app_clients.test_client(user=user).get("/me").status_code == 200


def test_an_inactive_user_is_refused_as_at_sign_in(app_clients: Flask, user: t.Any) -> None:
    with app_clients.app_context():
        db.session.get(User, user.id).is_active = False
        db.session.commit()
        inactive = db.session.get(User, user.id)
        with pytest.raises(InvalidCredentials):
            app_clients.test_client(user=inactive)
    assert session_ids(app_clients, user) == []


def test_a_user_from_a_finished_app_context_works(app_clients: Flask) -> None:
    """The usual test set-up: the user was committed in an app context that
    has ended, so the instance is detached and its attributes expired."""
    with app_clients.app_context():
        created = auth_of(app_clients).create_user("carol@example.com", PASSWORD)
    client = app_clients.test_client(user=created)
    assert client.get("/me").json == {"email": "carol@example.com"}


@pytest.mark.storage("sqlite")
def test_plain_test_clients_are_unaffected(app: Flask, user: t.Any) -> None:
    assert app.test_client().get("/me").status_code == 302


# -- the pytest fixtures and the README example --------------------------------------------


def readme_example() -> dict[str, str]:
    """The README's "Testing your app" files: ``{file name: source}``."""
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    section = text.split("## Testing your app", 1)[1].split("\n## ", 1)[0]
    files = {}
    for block in re.findall(r"```python\n(.*?)```", section, re.S):
        name = re.match(r"# (\w+\.py)\n", block)
        assert name, f"each example block starts with its file name: {block[:40]!r}"
        files[name.group(1)] = block
    return files


def run_pytest(directory: pathlib.Path, *args: str) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "pytest", "-q", "-p", "no:randomly", "-p", "no:cacheprovider", *args]
    return subprocess.run(command, cwd=directory, capture_output=True, text=True, timeout=300)


@pytest.mark.slow
@pytest.mark.storage("sqlite")
def test_the_readme_example_passes_with_pytest(tmp_path: pathlib.Path, storage: str) -> None:
    files = readme_example()
    assert {"conftest.py", "test_app.py"} <= set(files)
    for name, source in files.items():
        (tmp_path / name).write_text(source)
    result = run_pytest(tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    tests = len(re.findall(r"^def test_", files["test_app.py"], re.M))
    assert f"{tests} passed" in result.stdout


@pytest.mark.slow
@pytest.mark.storage("sqlite")
def test_the_plugin_leaves_projects_without_an_app_fixture_alone(tmp_path: pathlib.Path, storage: str) -> None:
    (tmp_path / "conftest.py").write_text('pytest_plugins = ["flask_sessionauth.pytest_plugin"]\n')
    (tmp_path / "test_plain.py").write_text("def test_plain():\n    assert True\n")
    result = run_pytest(tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "1 passed" in result.stdout
