"""Naming a device from the devices page: a small form per device (a plain
POST with the CSRF token, the blueprint's same-origin check first), so it
works without JavaScript. A name that is not fit, or a session that is not
the user's (or ended), is answered by the app-wide error page (400, 404)."""

from __future__ import annotations

import typing as t

from flask import flash
from flask import redirect
from flask import request
from flask import url_for

from ..core import messages
from ..glue import actions
from ..glue.proxies import login_required


@login_required
def rename_device(session_id: str) -> t.Any:
    """Set (or, when empty, clear) the name of one of the user's devices."""
    name = actions.rename_session(session_id, request.form.get("name", ""))
    flash(messages.device_renamed(name), "success")
    return redirect(url_for("sessionauth.devices"), 303)
