"""The activity pages (``/activity``, the administrators' ``/admin/users/<id>/...``),
the API's ``list-activity``, and the sign-in page's "signed out from ..." line.

Like the other account pages: plain GET pages and POST forms with a CSRF
token (no JavaScript needed); the admin pages answer 404 to anybody the
app's ``admin_check`` does not name, whatever the user id.
"""

from __future__ import annotations

import typing as t

from flask import Blueprint
from flask import flash
from flask import jsonify
from flask import redirect
from flask import render_template
from flask import request
from flask import url_for

from ..core import lifecycle
from ..core import messages
from ..core.activity import KINDS
from ..core.errors import NotSignedIn
from ..core.presentation import device_views
from ..core.presentation import format_exact
from ..glue import actions
from ..glue import admin as admin_ops
from ..glue.activity import signed_out_notice
from ..glue.proxies import current_session
from ..glue.proxies import login_required
from ..glue.proxies import sensitive
from ..glue.state import app_state
from .forms import page_number
from .wire import query_number

#: Largest ``offset`` of list-activity.
MAX_OFFSET = 1_000_000


def _kind() -> str | None:
    kind = request.args.get("kind") or None
    return kind if kind in KINDS else None


def _events_context(endpoint: str, user: t.Any = None, **values: t.Any) -> dict[str, t.Any]:
    """One page of events (``SESSIONAUTH_DEVICES_PER_PAGE``), newest first, and its links."""
    per_page = app_state().devices_per_page
    page, kind = page_number(), _kind()
    events, total = admin_ops.page_of_events(per_page, (page - 1) * per_page, user, kind)

    def link(number: int) -> str:
        return url_for(endpoint, page=number, kind=kind, **values)

    return {
        "events": events,
        "kinds": KINDS,
        "kind": kind,
        "format_exact": format_exact,
        "next_page": link(page + 1) if page * per_page < total else None,
        "previous_page": link(page - 1) if page > 1 else None,
        "empty": messages.NO_ACTIVITY,
    }


@login_required
def activity() -> t.Any:
    return render_template("sessionauth/activity.html", **_events_context("sessionauth.activity"))


def admin_sessions(user_id: str) -> t.Any:
    admin_ops.admin()
    user = admin_ops.target_user(user_id)
    per_page = app_state().devices_per_page
    listed, _total = actions.page_of_sessions(per_page * 10, 0, user)
    now = lifecycle.utcnow()
    sessions = device_views(listed, current_session.id, now, app_state().settings.activity_resolution)
    identity = getattr(user, app_state().identity_attr, "")
    return render_template("sessionauth/admin_sessions.html", sessions=sessions, subject=identity, user_id=user_id)


def admin_activity(user_id: str) -> t.Any:
    admin_ops.admin()
    user = admin_ops.target_user(user_id)
    context = _events_context("sessionauth.admin_activity", user, user_id=user_id)
    identity = getattr(user, app_state().identity_attr, "")
    return render_template("sessionauth/activity.html", subject=identity, user_id=user_id, **context)


def _admin_revoke(user_id: str, session_id: str | None) -> t.Any:
    admin_ops.admin()
    user = admin_ops.target_user(user_id)
    if not actions.is_fresh():  # re-authentication, as for the user's own bulk sign-outs
        return redirect(url_for("sessionauth.confirm", next=url_for("sessionauth.admin_sessions", user_id=user_id)))
    count = admin_ops.admin_revoke(user, [session_id] if session_id is not None else None)
    if session_id is not None and not count:
        flash(str(messages.ALREADY_SIGNED_OUT), "info")
    else:
        flash(messages.admin_signed_out(count), "success")
    if not actions.is_authenticated():  # the administrator signed themselves out
        return redirect(url_for("sessionauth.login"))
    return redirect(url_for("sessionauth.admin_sessions", user_id=user_id))


def admin_revoke(user_id: str, session_id: str) -> t.Any:
    return _admin_revoke(user_id, session_id)


def admin_revoke_all(user_id: str) -> t.Any:
    return _admin_revoke(user_id, None)


def add_pages(bp: Blueprint) -> None:
    """The activity and admin pages on the account blueprint (its CSRF and origin checks apply)."""
    for rule, endpoint, view, methods in (
        ("/activity", "activity", activity, ["GET"]),
        ("/admin/users/<user_id>/sessions", "admin_sessions", admin_sessions, ["GET"]),
        ("/admin/users/<user_id>/activity", "admin_activity", admin_activity, ["GET"]),
        ("/admin/users/<user_id>/sessions/<session_id>/revoke", "admin_revoke", admin_revoke, ["POST"]),
        ("/admin/users/<user_id>/sessions/revoke-all", "admin_revoke_all", admin_revoke_all, ["POST"]),
    ):
        bp.add_url_rule(rule, endpoint, sensitive(view), methods=methods)

    @bp.context_processor
    def signed_out_from() -> dict[str, t.Any]:
        """On the sign-in page, once: when and from which device this browser was signed out."""
        if request.endpoint != "sessionauth.login":
            return {}
        found = signed_out_notice()
        if found is None:
            return {}
        when, device = found
        return {"signed_out_from": messages.signed_out_from(device, format_exact(when))}


# -- the API ---------------------------------------------------------------------------


def list_activity() -> t.Any:
    """The caller's events, newest first: ``?limit=`` (default and maximum
    ``SESSIONAUTH_LIST_LIMIT``), ``?offset=``, ``?kind=``; ``X-Total-Count``."""
    if not actions.is_authenticated():
        raise NotSignedIn()
    most = app_state().list_limit
    limit = query_number("limit", most, 1, most)
    offset = query_number("offset", 0, 0, MAX_OFFSET)
    kind = request.args.get("kind") or None
    events, total = admin_ops.page_of_events(limit, offset, None, kind)
    response = jsonify([event.json() for event in events])
    response.headers["X-Total-Count"] = str(total)
    if offset + limit < total:
        following = url_for("sessionauth_api.list_activity", limit=limit, offset=offset + limit, kind=kind)
        response.headers["Link"] = f'<{following}>; rel="next"'
    return response


def add_api(bp: Blueprint) -> None:
    bp.add_url_rule("/list-activity", "list_activity", sensitive(list_activity), methods=["GET"])
