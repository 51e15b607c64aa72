"""``flask sessionauth …`` commands."""

from __future__ import annotations

import click
from flask import current_app
from flask.cli import AppGroup

sessionauth_cli = AppGroup("sessionauth", help="Manage flask-sessionauth sessions and users.")


def _auth():  # type: ignore[no-untyped-def]
    return current_app.extensions["sessionauth"]


@sessionauth_cli.command("cleanup")
def cleanup() -> None:
    """Delete expired sessions in batches."""
    count = _auth().cleanup_expired()
    click.echo(f"Deleted {count} expired session(s).")
