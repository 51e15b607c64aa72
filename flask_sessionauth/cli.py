"""``flask sessionauth …`` commands: cleanup, list, revoke, create-user.

Each command is a thin shell over the public API (``cleanup_expired``,
``find_user``, ``list_sessions``, ``revoke_session(s)``, ``create_user``), so
the CLI enforces exactly the rules the web pages do.
"""

from __future__ import annotations

import datetime as dt
import typing as t

import click
from flask import current_app
from flask.cli import AppGroup

from .context import extension
from .exceptions import SessionAuthError
from .useragent import describe

sessionauth_cli = AppGroup("sessionauth", help="Manage flask-sessionauth sessions and users.")


def _user(email: str) -> t.Any:
    user = extension().find_user(email)
    if user is None:
        raise click.ClickException(f"No user with the email {email!r}.")
    return user


def _when(value: dt.datetime | None) -> str:
    return "-" if value is None else value.astimezone(dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")


@sessionauth_cli.command("cleanup")
def cleanup() -> None:
    """Delete expired sessions in batches (SESSIONAUTH_CLEANUP_BATCH_SIZE)."""
    count = extension().cleanup_expired()
    click.echo(f"Deleted {count} expired session(s).")


@sessionauth_cli.command("list")
@click.argument("email")
def list_sessions(email: str) -> None:
    """List EMAIL's active sessions, most recently active first."""
    sessions = extension().list_sessions(_user(email))
    if not sessions:
        click.echo(f"{email} has no active sessions.")
        return
    rows = [
        (s.id, describe(s.user_agent).name, s.ip_address or "-", _when(s.last_active_at), _when(s.expires_at))
        for s in sessions
    ]
    header = ("ID", "DEVICE", "IP", "LAST ACTIVE", "EXPIRES")
    widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(len(header))]
    for row in [header, *rows]:
        click.echo("  ".join(str(cell).ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip())


@sessionauth_cli.command("revoke")
@click.argument("email")
@click.option("--all", "revoke_all", is_flag=True, help="Sign out every session of the user.")
@click.option("--id", "session_id", help="Sign out the session with this id (see 'list').")
def revoke(email: str, revoke_all: bool, session_id: str | None) -> None:
    """Sign EMAIL out of one session (--id ID) or all of them (--all)."""
    if revoke_all == (session_id is not None):
        raise click.UsageError("Give exactly one of --all or --id ID.")
    user = _user(email)
    if revoke_all:
        count = extension().revoke_sessions(user)
        click.echo(f"Revoked {count} session(s) of {email}.")
    elif extension().revoke_session(session_id, user):
        click.echo(f"Revoked session {session_id} of {email}.")
    else:
        raise click.ClickException(f"{email} has no session {session_id!r}.")


@sessionauth_cli.command("create-user")
@click.argument("email")
@click.password_option(help="Asked for (hidden, twice) when not given.")
def create_user(email: str, password: str) -> None:
    """Create a user with EMAIL; the password is prompted for (hidden, confirmed)."""
    if extension().find_user(email) is not None:
        raise click.ClickException(f"A user with the email {email!r} already exists.")
    try:
        user = extension().create_user(email, password)
    except SessionAuthError as exc:
        raise click.ClickException(exc.message) from exc
    click.echo(f"Created user {user.id} <{getattr(user, current_app.config['SESSIONAUTH_USER_IDENTITY_FIELD'])}>.")
