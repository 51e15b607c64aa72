"""``flask sessionauth …`` commands: cleanup, list, revoke, rename, create-user, activity.

Each command is a thin shell over the public API (``cleanup_expired``,
``find_user``, ``list_sessions``, ``revoke_session(s)``, ``create_user``), so
the CLI enforces exactly the rules the web pages do.
"""

from __future__ import annotations

import json
import os
import typing as t

import click
from flask.cli import AppGroup

from ..core import messages
from ..core.errors import SessionAuthError
from ..core.i18n import _
from ..core.i18n import _n
from ..core.presentation import device_label
from ..core.presentation import format_exact
from ..core.presentation import location_of
from ..core.presentation import plain
from ..glue import actions
from ..glue.admin import page_of_events
from ..glue.i18n import force
from ..glue.i18n import locale_from_environment
from ..glue.state import app_state


def _in_locale(locale: str | None, timezone: str | None) -> None:
    """Messages in ``--locale`` (else ``LC_ALL``/``LC_MESSAGES``/``LANG``), times in
    ``--timezone`` (else ``TZ`` when it is an IANA name), else English and UTC."""
    zone = timezone or os.environ.get("TZ", "").lstrip(":")
    click.get_current_context().with_resource(force(locale_from_environment(locale), zone))


sessionauth_cli = AppGroup(
    "sessionauth",
    help="Manage flask-sessionauth sessions and users.",
    callback=_in_locale,
    params=[
        click.Option(["--locale"], help="Language of the messages, e.g. de (default: from LANG)."),
        click.Option(
            ["--timezone"],
            help="IANA time zone of the times shown, e.g. Europe/Berlin (default: TZ, else UTC).",
        ),
    ],
)


def _user(email: str) -> t.Any:
    user = app_state().accounts.find(email)
    if user is None:
        raise click.ClickException(_("No user with the email %(email)r.", email=email))
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
    click.echo(_n("Deleted %(num)d expired session(s).", "Deleted %(num)d expired session(s).", count))


@sessionauth_cli.command("list")
@click.argument("email")
@click.option("--limit", type=click.IntRange(min=1), help="Show at most this many (default: SESSIONAUTH_LIST_LIMIT).")
def list_sessions(email: str, limit: int | None) -> None:
    """List EMAIL's active sessions, most recently active first."""
    user = _user(email)
    # Capped: a number beyond what the database takes would be a traceback, not a listing.
    sessions, total = actions.page_of_sessions(min(limit or app_state().list_limit, 10**9), 0, user)
    if not sessions:
        click.echo(_("%(email)s has no active sessions.", email=email))
        return
    rows = [
        (
            s.id,
            plain(device_label(s)),
            plain(location_of(s)) or "-",
            s.ip_address or "-",
            format_exact(s.last_active_at),
            format_exact(s.expires_at),
        )
        for s in sessions
    ]
    _table(("ID", _("DEVICE"), _("LOCATION"), _("IP"), _("LAST ACTIVE"), _("EXPIRES")), rows)
    more = total - len(sessions)
    if more > 0:
        click.echo(_("... %(more)s (--limit to show more)", more=messages.more_devices(more)))


@sessionauth_cli.command("revoke")
@click.argument("email")
@click.option("--all", "revoke_all", is_flag=True, help="Sign out every session of the user.")
@click.option("--id", "session_id", help="Sign out the session with this id (see 'list').")
def revoke(email: str, revoke_all: bool, session_id: str | None) -> None:
    """Sign EMAIL out of one session (--id ID) or all of them (--all)."""
    if revoke_all == (session_id is not None):
        raise click.UsageError(_("Give exactly one of --all or --id ID."))
    user = _user(email)
    if revoke_all:
        count = actions.revoke(user, None, keep_current=False, reason="revoke_all")
        click.echo(
            _n(
                "Revoked %(num)d session(s) of %(email)s.",
                "Revoked %(num)d session(s) of %(email)s.",
                count,
                email=email,
            )
        )
    elif session_id is not None and actions.revoke(user, [session_id], keep_current=False, reason="revoke"):
        click.echo(_("Revoked session %(id)s of %(email)s.", id=session_id, email=email))
    else:
        raise click.ClickException(_("%(email)s has no session %(id)r.", email=email, id=session_id))


@sessionauth_cli.command("rename")
@click.argument("email")
@click.argument("session_id")
@click.argument("name", default="")
def rename(email: str, session_id: str, name: str) -> None:
    """Name EMAIL's session SESSION_ID (see 'list'); no NAME clears the name."""
    try:
        stored = actions.rename_session(session_id, name, _user(email))
    except SessionAuthError as exc:
        raise click.ClickException(exc.message) from exc
    click.echo(messages.device_renamed(stored))


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
            raise click.ClickException(_("A user with the email %(email)r already exists.", email=email))
        if password is None:
            password = click.prompt(_("Password"), hide_input=True, confirmation_prompt=True)
        user = accounts.create(email, password)
    except SessionAuthError as exc:
        # A set-up error says what to fix, not the sentence shown to end users.
        raise click.ClickException(getattr(exc, "detail", None) or exc.message) from exc
    click.echo(_("Created user %(id)s <%(email)s>.", id=user.id, email=accounts.identity(user)))


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
    rows = [
        (format_exact(e.created_at), e.label, e.shown_device, e.ip_address or "-", e.session_id or "-") for e in events
    ]
    _table((_("WHEN"), _("EVENT"), _("DEVICE"), _("IP"), _("SESSION")), rows)
    if total > len(events):
        click.echo(_("... and %(num)d more (--limit to show more)", num=total - len(events)))
