"""Account recovery, applied to the current request: password reset by e-mail,
the new-device mail's "This wasn't me" link, and the mails the account's
signals send (through :class:`.mail.Mailer`).

Links in mails are built from ``SESSIONAUTH_PUBLIC_URL`` (else the app's
``SERVER_NAME``), never from the request's ``Host`` header, which a client
chooses: a poisoned host would send the victim's reset token to the attacker.
"""

from __future__ import annotations

import contextvars
import functools
import logging
import secrets
import time
import typing as t
from urllib.parse import urlencode
from urllib.parse import urlsplit

from flask import Flask
from flask import current_app
from itsdangerous import BadSignature
from itsdangerous import SignatureExpired
from itsdangerous import URLSafeTimedSerializer

from ..core import lifecycle
from ..core import signals
from ..core import tokens
from ..core.errors import ReportedSessionEnded
from ..core.errors import ReportLinkExpired
from ..core.errors import ReportLinkInvalid
from ..core.errors import ReportLinkUsed
from ..core.presentation import location_of
from ..core.redirects import safe_redirect
from ..core.useragent import describe
from ..services.resets import REPORT
from ..services.resets import well_formed
from .actions import signed_out_if_revoked
from .state import STATE_KEY
from .state import AppState
from .state import app_state
from .state import client

log = logging.getLogger("flask_sessionauth.mail")
#: Set while a reset stores the password: its ``password_changed`` gets no mail of its own.
_resetting: contextvars.ContextVar[bool] = contextvars.ContextVar("sessionauth_resetting", default=False)
#: Longest "This wasn't me" token read (a real one is ~150 characters).
MAX_REPORT_TOKEN = 1024


def public_url(app: Flask) -> str | None:
    """The configured origin (and mount path) links in mails start with."""
    configured = app.config["SESSIONAUTH_PUBLIC_URL"]
    if configured:
        return str(configured).rstrip("/")
    server = app.config.get("SERVER_NAME")
    if not server:
        return None
    root = str(app.config.get("APPLICATION_ROOT") or "/").rstrip("/")
    return f"{app.config.get('PREFERRED_URL_SCHEME') or 'https'}://{server}{root}"


def _link(app: Flask, path: str, **query: str) -> str | None:
    base = public_url(app)
    if base is None:
        return None
    return f"{base}{path}?{urlencode(query)}" if query else f"{base}{path}"


def safe_callback(target: t.Any) -> str | None:
    """A same-site path, or an absolute URL on this site's public origin or a
    trusted origin (``SESSIONAUTH_TRUSTED_ORIGINS``); else ``None``."""
    if not isinstance(target, str) or not target:
        return None
    if safe_redirect(target, None) is not None:
        return target
    if len(target) > 2048 or any(ord(c) < 33 or c == "\\" for c in target):
        return None
    parts = urlsplit(target)
    origin = f"{parts.scheme}://{parts.netloc}"
    base = public_url(current_app)
    allowed = set(app_state().trusted_origins) | (
        {f"{urlsplit(base).scheme}://{urlsplit(base).netloc}"} if base else set()
    )
    return target if parts.scheme in ("http", "https") and not parts.username and origin in allowed else None


def with_query(url: str, **query: str) -> str:
    return f"{url}{'&' if '?' in url else '?'}{urlencode(query)}"


# -- password reset ---------------------------------------------------------------------


def reset_link(app: Flask, token: str, callback: str | None) -> str | None:
    """Better Auth's link (the API's GET, on to ``callbackURL``) when the client
    named one, else the account pages' reset form."""
    state: AppState = app.extensions[STATE_KEY]
    if callback is not None:
        return _link(app, f"{state.api_prefix}/reset-password/{token}", callbackURL=callback)
    return _link(app, f"{app.config['SESSIONAUTH_URL_PREFIX']}/reset-password", token=token)


def request_reset(email: t.Any, redirect_to: t.Any = None) -> None:
    """Mail a reset link if an active account has this email. The same answer
    and, padded to ``SESSIONAUTH_RESET_MIN_SECONDS``, the same time whether
    or not it does; rate limited per address and per (address, account)."""
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    state = app_state()
    started = time.perf_counter()
    try:
        found = state.resets.request(email, client())
        if found is not None:
            user, token = found
            link = reset_link(app, token, safe_callback(redirect_to))
            minutes = max(1, state.resets.max_age // 60)
            state.mailer.send("reset_link", state.accounts.identity(user), user=user, link=link, minutes=minutes)
    finally:
        remaining = float(app.config["SESSIONAUTH_RESET_MIN_SECONDS"]) - (time.perf_counter() - started)
        if remaining > 0:
            state.hasher.sleep(remaining)


def check_reset_token(token: t.Any) -> None:
    """Raise :class:`InvalidResetToken` unless ``token`` can still reset a password."""
    app_state().resets.check(token)


def reset_password(token: t.Any, new_password: t.Any, confirm_password: t.Any = None) -> int:
    """Set the password with a reset token; returns how many sessions ended."""
    marker = _resetting.set(True)
    try:
        _, revoked = app_state().resets.reset(token, new_password, confirm_password)
    finally:
        _resetting.reset(marker)
    signed_out_if_revoked(revoked)
    return len(revoked)


# -- "This wasn't me" -----------------------------------------------------------------------


class Report(t.NamedTuple):
    user_id: t.Any
    session_id: str
    nonce: str
    user_agent: str | None


def _serializer(state: AppState) -> URLSafeTimedSerializer:
    """Signed with ``SECRET_KEY``, salted for this purpose and bound to the
    deployment id: another app sharing the key cannot accept these links."""
    salt = f"flask-sessionauth.report-device|{state.deployment.value()}"
    return URLSafeTimedSerializer(current_app.config["SECRET_KEY"], salt=salt)


def report_link(state: AppState, user: t.Any, session: t.Any) -> str | None:
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    if public_url(app) is None:
        return None
    nonce = secrets.token_urlsafe(32)
    max_age = int(app.config["SESSIONAUTH_REPORT_LINK_MAX_AGE"])
    state.verifications.add(REPORT, nonce, user.id, session.id, lifecycle.utcnow(), max_age)
    signed = _serializer(state).dumps([session.id, nonce])
    return _link(app, f"{app.config['SESSIONAUTH_URL_PREFIX']}/report-device", token=signed)


def inspect_report(token: t.Any) -> Report:
    """What a "This wasn't me" link names, changing nothing; raises
    :class:`ReportLinkInvalid`, ``ReportLinkExpired``, ``ReportLinkUsed`` or
    ``ReportedSessionEnded``, each with its own message."""
    state = app_state()
    if not isinstance(token, str) or not 0 < len(token) <= MAX_REPORT_TOKEN or not token.isascii():
        raise ReportLinkInvalid()
    max_age = int(current_app.config["SESSIONAUTH_REPORT_LINK_MAX_AGE"])
    try:
        payload = _serializer(state).loads(token, max_age=max_age)
    except SignatureExpired:
        raise ReportLinkExpired() from None
    except (BadSignature, ValueError, TypeError):
        raise ReportLinkInvalid() from None
    if not (isinstance(payload, list) and len(payload) == 2 and tokens.is_session_id(payload[0])):
        raise ReportLinkInvalid()
    session_id, nonce = payload
    if not well_formed(nonce):
        raise ReportLinkInvalid()
    found = state.verifications.find(REPORT, nonce)
    if found is None:
        raise ReportLinkUsed()
    if found.binding != session_id:
        raise ReportLinkInvalid()
    user_id = state.resets.user_key(found.user_id)
    record = state.sessions.find(user_id, session_id)
    if record is None:
        raise ReportedSessionEnded()
    return Report(user_id, session_id, nonce, record.user_agent)


def confirm_report(token: t.Any) -> str | None:
    """Sign out the reported device (once), send ``session_reported``, and
    return a fresh reset token for the account (the mailbox's owner clicked)."""
    state = app_state()
    report = inspect_report(token)
    if not state.verifications.consume(REPORT, report.nonce):
        raise ReportLinkUsed()
    revoked = state.sessions.revoke(report.user_id, [report.session_id], None, "reported")
    if not revoked:
        raise ReportedSessionEnded()
    signed_out_if_revoked(revoked)
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    signals.session_reported.send(app, user_id=report.user_id, session_id=report.session_id)
    user = state.resets.load_user(str(report.user_id))
    return state.resets.issue(user) if user is not None else None


# -- the mails the account's signals send ------------------------------------------------------


Receiver = t.TypeVar("Receiver", bound=t.Callable[..., None])


def _quiet(receiver: Receiver) -> Receiver:
    """A mail receiver never fails the action whose signal it got: errors are logged."""

    @functools.wraps(receiver)
    def wrapped(*args: t.Any, **kwargs: t.Any) -> None:
        try:
            receiver(*args, **kwargs)
        except Exception:
            log.exception("flask-sessionauth: preparing the %s mail failed", receiver.__name__)

    return t.cast(Receiver, wrapped)


def _state_of(sender: t.Any) -> AppState | None:
    extensions = getattr(sender, "extensions", None)
    return extensions.get(STATE_KEY) if isinstance(extensions, dict) else None


def _place(session: t.Any) -> str | None:
    """Where the session signed in from, as the devices page says it ("near Lyon, France"), if known."""
    return location_of(session)


@signals.new_device_sign_in.connect
@_quiet
def _on_new_device(sender: t.Any, user: t.Any = None, session: t.Any = None, **_: t.Any) -> None:
    state = _state_of(sender)
    if state is None or user is None or session is None:
        return
    try:
        link = report_link(state, user, session)
    except Exception:  # the mail still warns, without the link
        link = None
    state.mailer.send(
        "new_device",
        state.accounts.identity(user),
        user=user,
        device=describe(getattr(session, "user_agent", None)).name,
        ip_address=getattr(session, "ip_address", None),
        place=_place(session),
        when=getattr(session, "created_at", None),
        link=link,
    )


@signals.password_changed.connect
@_quiet
def _on_password_changed(sender: t.Any, user: t.Any = None, **_: t.Any) -> None:
    state = _state_of(sender)
    if state is not None and user is not None and not _resetting.get():
        state.mailer.send("password_changed", state.accounts.identity(user), user=user)


@signals.password_reset.connect
@_quiet
def _on_password_reset(sender: t.Any, user: t.Any = None, revoked: int = 0, **_: t.Any) -> None:
    state = _state_of(sender)
    if state is not None and user is not None:
        state.mailer.send("password_reset", state.accounts.identity(user), user=user, revoked=revoked)


@signals.session_revoked.connect
@_quiet
def _on_revoked(sender: t.Any, user_id: t.Any = None, reason: str = "", session_ids: t.Any = (), **_: t.Any) -> None:
    state = _state_of(sender)
    if state is None or reason != "revoke_all" or user_id is None:
        return
    user = state.resets.load_user(str(user_id))
    if user is not None:
        state.mailer.send("signed_out_everywhere", state.accounts.identity(user), user=user, count=len(session_ids))
