"""``flask sessionauth …`` through ``app.test_cli_runner()``."""

from __future__ import annotations

import datetime as dt
import typing as t

import sqlalchemy as sa
import time_machine
from flask import Flask

from tests.conftest import User
from tests.conftest import db
from tests.helpers import PASSWORD
from tests.helpers import login


def test_cleanup_deletes_expired_rows_in_batches(app: Flask, client: t.Any, second_client: t.Any, user: t.Any) -> None:
    app.config["SESSIONAUTH_CLEANUP_BATCH_SIZE"] = 2
    app.extensions["sessionauth"].state_for(app).cleanup_batch_size = 2
    past = dt.datetime.now(dt.timezone.utc) - dt.timedelta(days=30)
    with time_machine.travel(past, tick=False):
        for _ in range(5):
            login(app.test_client())
    login(client)
    result = app.test_cli_runner().invoke(args=["sessionauth", "cleanup"])
    assert result.exit_code == 0, result.output
    assert "Deleted 5 expired session(s)." in result.output
    assert client.get("/whoami").json == {"user_id": user.id}
    again = app.test_cli_runner().invoke(args=["sessionauth", "cleanup"])
    assert "Deleted 0 expired session(s)." in again.output


def test_list_shows_devices(app: Flask, client: t.Any, second_client: t.Any, user: t.Any) -> None:
    first = login(client)
    second = login(second_client)
    result = app.test_cli_runner().invoke(args=["sessionauth", "list", "ALICE@example.com"])
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0].split() == ["ID", "DEVICE", "LOCATION", "IP", "LAST", "ACTIVE", "EXPIRES"]
    assert len(lines) == 3
    assert first in result.output and second in result.output
    assert "Chrome 131 on macOS" in result.output
    assert "Firefox 133 on Windows" in result.output
    assert "203.0.113.7" in result.output
    assert "UTC" in result.output
    # Never a secret or a hash.
    with app.app_context():
        hashes = db.session.execute(sa.text("SELECT secret_hash FROM user_session")).scalars().all()
    assert not any(h in result.output for h in hashes)


def test_list_unknown_user_fails(app: Flask) -> None:
    result = app.test_cli_runner().invoke(args=["sessionauth", "list", "nobody@example.com"])
    assert result.exit_code != 0
    assert "No user" in result.output


def test_list_without_sessions(app: Flask, user: t.Any) -> None:
    result = app.test_cli_runner().invoke(args=["sessionauth", "list", "alice@example.com"])
    assert result.exit_code == 0
    assert "no active sessions" in result.output


def test_revoke_one_session(app: Flask, client: t.Any, second_client: t.Any, user: t.Any) -> None:
    first = login(client)
    login(second_client)
    result = app.test_cli_runner().invoke(args=["sessionauth", "revoke", "alice@example.com", "--id", first])
    assert result.exit_code == 0, result.output
    assert client.get("/whoami").json == {"user_id": None}
    assert second_client.get("/whoami").json == {"user_id": user.id}


def test_revoke_refuses_another_users_session(app: Flask, client: t.Any, user: t.Any, other_user: t.Any) -> None:
    bob = login(client, "bob@example.com")
    result = app.test_cli_runner().invoke(args=["sessionauth", "revoke", "alice@example.com", "--id", bob])
    assert result.exit_code != 0
    assert client.get("/whoami").json == {"user_id": other_user.id}


def test_revoke_all(app: Flask, client: t.Any, second_client: t.Any, user: t.Any) -> None:
    login(client)
    login(second_client)
    result = app.test_cli_runner().invoke(args=["sessionauth", "revoke", "alice@example.com", "--all"])
    assert result.exit_code == 0
    assert "Revoked 2 session(s)" in result.output
    assert client.get("/whoami").json == {"user_id": None}
    assert second_client.get("/whoami").json == {"user_id": None}


def test_revoke_needs_exactly_one_option(app: Flask, user: t.Any) -> None:
    runner = app.test_cli_runner()
    assert runner.invoke(args=["sessionauth", "revoke", "alice@example.com"]).exit_code == 2
    both = runner.invoke(args=["sessionauth", "revoke", "alice@example.com", "--all", "--id", "x"])
    assert both.exit_code == 2


def test_create_user_prompts_hidden_with_confirmation(app: Flask, client: t.Any) -> None:
    result = app.test_cli_runner().invoke(
        args=["sessionauth", "create-user", " Carol@Example.com "], input=f"{PASSWORD}\n{PASSWORD}\n"
    )
    assert result.exit_code == 0, result.output
    assert PASSWORD not in result.output  # hidden input is not echoed
    assert "Repeat for confirmation" in result.output
    with app.app_context():
        stored = db.session.execute(sa.select(User).where(User.email == "carol@example.com")).scalar_one()
        assert stored.password_hash.startswith("$argon2id$")
    login(client, "carol@example.com")


def test_create_user_mismatched_confirmation_asks_again(app: Flask) -> None:
    result = app.test_cli_runner().invoke(
        args=["sessionauth", "create-user", "dave@example.com"],
        input=f"{PASSWORD}\nsomething else\n{PASSWORD}\n{PASSWORD}\n",
    )
    assert result.exit_code == 0, result.output
    assert "do not match" in result.output


def test_create_user_enforces_the_password_policy(app: Flask) -> None:
    result = app.test_cli_runner().invoke(
        args=["sessionauth", "create-user", "erin@example.com"], input="short\nshort\n"
    )
    assert result.exit_code != 0
    with app.app_context():
        assert db.session.execute(sa.select(User).where(User.email == "erin@example.com")).first() is None


def test_create_user_refuses_duplicates(app: Flask, user: t.Any) -> None:
    result = app.test_cli_runner().invoke(
        args=["sessionauth", "create-user", "alice@example.com"], input=f"{PASSWORD}\n{PASSWORD}\n"
    )
    assert result.exit_code != 0
    assert "already exists" in result.output
