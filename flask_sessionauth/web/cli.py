"""``flask sessionauth …`` commands: cleanup, list, revoke, create-user, activity.

Each command is a thin shell over the public API (``cleanup_expired``,
``find_user``, ``list_sessions``, ``revoke_session(s)``, ``create_user``), so
the CLI enforces exactly the rules the web pages do.
"""

from __future__ import annotations

import json
import typing as t

import click
from flask.cli import AppGroup

from ..core import messages
from ..core.errors import SessionAuthError
from ..core.presentation import format_exact
from ..core.useragent import describe
from ..glue import actions
from ..glue.admin import page_of_events
from ..glue.state import app_state

sessionauth_cli = AppGroup("sessionauth", help="Manage flask-sessionauth sessions and users.")


def _user(email: str) -> t.Any:
    user = app_state().accounts.find(email)
    if user is None:
        raise click.ClickException(f"No user with the email {email!r}.")
    return user


def _table(header: tuple[str, ...], rows: list[tuple[t.Any, ...]]) -> None:
    widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(len(header))]
    for row in [header, *rows]:
        click.echo("  ".join(str(cell).ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip())


@sessionauth_cli.command("cleanup")
def cleanup() -> None:
    """Delete expired sessions in batches (SESSIONAUTH_CLEANUP_BATCH_SIZE), and
    activity events older than SESSIONAUTH_EVENT_RETENTION."""
    try:
        count = actions.cleanup_expired()
    except SessionAuthError as exc:  # e.g. the events table is missing: one line naming the fix
        raise click.ClickException(getattr(exc, "detail", None) or exc.message) from exc
    click.echo(f"Deleted {count} expired session(s).")


@sessionauth_cli.command("list")
@click.argument("email")
@click.option("--limit", type=click.IntRange(min=1), help="Show at most this many (default: SESSIONAUTH_LIST_LIMIT).")
def list_sessions(email: str, limit: int | None) -> None:
    """List EMAIL's active sessions, most recently active first."""
    user = _user(email)
    # Capped: a number beyond what the database takes would be a traceback, not a listing.
    sessions, total = actions.page_of_sessions(min(limit or app_state().list_limit, 10**9), 0, user)
    if not sessions:
        click.echo(f"{email} has no active sessions.")
        return
    rows = [
        (
            s.id,
            describe(s.user_agent).name,
            s.ip_address or "-",
            format_exact(s.last_active_at),
            format_exact(s.expires_at),
        )
        for s in sessions
    ]
    _table(("ID", "DEVICE", "IP", "LAST ACTIVE", "EXPIRES"), rows)
    more = total - len(sessions)
    if more > 0:
        click.echo(f"... {messages.more_devices(more)} (--limit to show more)")


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
        count = actions.revoke(user, None, keep_current=False, reason="revoke_all")
        click.echo(f"Revoked {count} session(s) of {email}.")
    elif session_id is not None and actions.revoke(user, [session_id], keep_current=False, reason="revoke"):
        click.echo(f"Revoked session {session_id} of {email}.")
    else:
        raise click.ClickException(f"{email} has no session {session_id!r}.")


@sessionauth_cli.command("create-user")
@click.argument("email")
@click.option("--password", help="Asked for (hidden, twice) when not given.")
def create_user(email: str, password: str | None) -> None:
    """Create a user with EMAIL; the password is prompted for (hidden, confirmed).

    The database is asked first, so a missing table or database is reported
    before anybody types a password, as a one-line error (exit code 1)."""
    accounts = app_state().accounts
    try:
        if accounts.find(email) is not None:
            raise click.ClickException(f"A user with the email {email!r} already exists.")
        if password is None:
            password = click.prompt("Password", hide_input=True, confirmation_prompt=True)
        user = accounts.create(email, password)
    except SessionAuthError as exc:
        # A set-up error says what to fix, not the sentence shown to end users.
        raise click.ClickException(getattr(exc, "detail", None) or exc.message) from exc
    click.echo(f"Created user {user.id} <{accounts.identity(user)}>.")


@sessionauth_cli.command("activity")
@click.argument("email")
@click.option("--limit", type=click.IntRange(min=1), help="Show at most this many (default: SESSIONAUTH_LIST_LIMIT).")
@click.option("--json", "as_json", is_flag=True, help="One JSON array (the API's shape) instead of a table.")
def activity(email: str, limit: int | None, as_json: bool) -> None:
    """List EMAIL's security events (activity log), newest first."""
    user = _user(email)
    events, total = page_of_events(min(limit or app_state().list_limit, 10**9), 0, user)
    if as_json:
        click.echo(json.dumps([event.json() for event in events], indent=2))
        return
    if not events:
        click.echo(messages.NO_ACTIVITY)
        return
    rows = [(format_exact(e.created_at), e.label, e.device, e.ip_address or "-", e.session_id or "-") for e in events]
    _table(("WHEN", "EVENT", "DEVICE", "IP", "SESSION"), rows)
    if total > len(events):
        click.echo(f"... and {total - len(events)} more (--limit to show more)")
