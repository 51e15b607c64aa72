"""The activity log applied to requests: the signal receivers that record
events (with the acting session and address of this request), the
rate-limit signal, the administrators' check, and the listing operations
the pages, API, CLI and extension call.

Receivers never raise: a failed event is logged by the service and the
action goes on (:mod:`..services.activity`).
"""

from __future__ import annotations

import logging
import typing as t

import sqlalchemy as sa
from flask import Flask
from flask import current_app
from flask import session as flask_session

from ..core import activity as kinds
from ..core import signals
from ..services.activity import NOBODY
from ..services.activity import Activity
from ..services.activity import Actor
from .hook import GONE_KEY
from .hook import request_state
from .state import EXTENSION_KEY
from .state import STATE_KEY
from .state import app_state
from .state import client

log = logging.getLogger("flask_sessionauth.events")


def _id(user: t.Any) -> t.Any:
    """``user``'s id without loading it: after a commit its attributes are
    expired, and reading ``user.id`` would run a SELECT just for the log."""
    state = sa.inspect(user, raiseerr=False)
    identity = getattr(state, "identity", None)
    return identity[0] if identity else user.id


def _activity(sender: t.Any) -> Activity | None:
    state = getattr(sender, "extensions", {}).get(STATE_KEY)
    return getattr(state, "activity", None)


def actor(admin: t.Any = None) -> Actor:
    """This request's acting session, address and user agent (nobody outside a request)."""
    asking = client()
    if asking is None:
        return NOBODY
    state = request_state()
    session_id = state.record.id if state is not None and state.record is not None else None
    locator = app_state().locator  # the privacy switches apply to the log as to session rows
    kept = locator.stored(asking) or asking
    admin_id = None if admin is None else str(_id(admin))
    return Actor(session_id, kept.ip_address, kept.user_agent, admin_id, locator.locate(asking))


def _receiver(fn: t.Callable[..., None]) -> t.Callable[..., None]:
    """A signal receiver that records into the sender app's log, never raising."""

    def receive(sender: t.Any, **payload: t.Any) -> None:
        activity = _activity(sender)
        if activity is None:
            return
        try:
            fn(activity, sender, **payload)
        except Exception as exc:  # an event never fails the action it describes
            log.error("could not record activity (%s): %s", fn.__name__, type(exc).__name__)

    receive.__name__ = fn.__name__
    return receive


@_receiver
def on_session_created(activity: Activity, sender: t.Any, *, user: t.Any, session: t.Any, **_: t.Any) -> None:
    if activity.sign_in(session.user_id, session):
        signals.new_device_sign_in.send(sender, user=user, session=session)


@_receiver
def on_session_revoked(
    activity: Activity, sender: t.Any, *, user_id: t.Any, session_ids: list[str], reason: str, **_: t.Any
) -> None:
    if reason == "rotate":
        return
    who = actor()
    if reason == "logout":
        activity.record(kinds.SIGN_OUT, user_id, who, target_session_id=session_ids[0] if session_ids else None)
    elif reason == "user_deactivated":
        activity.record(kinds.USER_DEACTIVATED, user_id, NOBODY, reason=f"{len(session_ids)} session(s) ended")
    else:
        if reason == "admin":  # the administrator's own device stays out of the user's log
            who = NOBODY
        activity.revoked(user_id, session_ids, reason, who)


@_receiver
def on_password_changed(activity: Activity, sender: t.Any, *, user: t.Any, **_: t.Any) -> None:
    activity.record(kinds.PASSWORD_CHANGED, _id(user), actor())


@_receiver
def on_password_reset(activity: Activity, sender: t.Any, *, user: t.Any, **_: t.Any) -> None:
    activity.record(kinds.PASSWORD_RESET, _id(user), actor())


@_receiver
def on_login_failed(activity: Activity, sender: t.Any, *, identity: t.Any, reason: str, **_: t.Any) -> None:
    # The account is looked up whatever the reason, and a row written also for no
    # account (user id NULL): every failure costs the same read and write. The
    # identity as typed is never stored (people type passwords into it).
    user = sender.extensions[STATE_KEY].accounts.find(identity) if isinstance(identity, str) else None
    user_id = _id(user) if user is not None and reason == "password" else None
    activity.record(kinds.SIGN_IN_FAILED, user_id, actor())


@_receiver
def on_sudo_confirmed(activity: Activity, sender: t.Any, *, user: t.Any, session: t.Any, **_: t.Any) -> None:
    activity.record(kinds.SUDO_CONFIRMED, session.user_id, actor(), session=session)


@_receiver
def on_rate_limited(activity: Activity, sender: t.Any, *, user_id: t.Any, scope: str, **_: t.Any) -> None:
    activity.record(kinds.RATE_LIMITED, user_id, actor(), reason=scope)


@_receiver
def on_admin_action(
    activity: Activity, sender: t.Any, *, admin: t.Any, user_id: t.Any, action: str, session_ids: list[str], **_: t.Any
) -> None:
    who = Actor(admin_id=str(_id(admin)))
    activity.record(kinds.ADMIN_ACTION, user_id, who, reason=f"{action}: {len(session_ids)} session(s)")


@_receiver
def on_session_reported(activity: Activity, sender: t.Any, *, user_id: t.Any, session_id: str, **_: t.Any) -> None:
    activity.record(kinds.SESSION_REPORTED, user_id, actor(), target_session_id=session_id)


@_receiver
def on_session_renamed(
    activity: Activity, sender: t.Any, *, user_id: t.Any, session_id: str, name: str | None = None, **_: t.Any
) -> None:
    activity.record(kinds.SESSION_RENAMED, user_id, actor(), target_session_id=session_id, target_device=name)


RECEIVERS = (
    (signals.session_created, on_session_created),
    (signals.session_revoked, on_session_revoked),
    (signals.password_changed, on_password_changed),
    (signals.password_reset, on_password_reset),
    (signals.login_failed, on_login_failed),
    (signals.sudo_confirmed, on_sudo_confirmed),
    (signals.rate_limited, on_rate_limited),
    (signals.admin_action, on_admin_action),
    (signals.session_reported, on_session_reported),
    (signals.session_renamed, on_session_renamed),
)


def listen() -> None:
    """Connect the receivers (once; each records into its sender app's log)."""
    for signal, receiver in RECEIVERS:
        signal.connect(receiver, weak=False)


# -- the signed-out device ----------------------------------------------------------


def signed_out_notice() -> tuple[t.Any, str | None] | None:
    """When, and from which device, this browser was signed out (once): only for
    the session id its own cookie named, and only that time and device name."""
    if GONE_KEY not in flask_session:  # a pop would mark the Flask session changed
        return None
    session_id = flask_session.pop(GONE_KEY)
    activity = _activity(current_app)
    if not isinstance(session_id, str) or activity is None:
        return None
    return activity.signed_out_notice(session_id)


# -- administrators ------------------------------------------------------------------

ADMIN_CHECK_ATTR = "_sessionauth_admin_check"


def register_admin_check(extension: t.Any, check: t.Callable[[t.Any], bool]) -> t.Callable[[t.Any], bool]:
    setattr(extension, ADMIN_CHECK_ATTR, check)
    return check


def admin_check(app: Flask) -> t.Callable[[t.Any], bool] | None:
    return getattr(app.extensions.get(EXTENSION_KEY), ADMIN_CHECK_ATTR, None)


def is_admin(user: t.Any) -> bool:
    """Whether the app's check says ``user`` is an administrator (no check: nobody is)."""
    check = admin_check(current_app)
    return bool(user) and check is not None and check(user) is True
