"""Keep Flask-Login's API while flask-sessionauth owns the sessions.

An app built on Flask-Login reads ``flask_login.current_user`` and decorates
views with ``@flask_login.login_required`` in many places. :func:`use_flask_login`
makes those keep working, unchanged, on top of revocable database sessions::

    login_manager = LoginManager(app)
    auth = SessionAuth(app, db=db, user_model=User)
    use_flask_login(app, login_manager)

What it does, and why:

- Flask-Login gets the user from flask-sessionauth (its ``request_loader``), so
  a revoked session is signed out everywhere Flask-Login is asked.
- Flask-Login's own state is ignored, whatever order things are registered in:
  before any other hook of the request, the user id Flask-Login keeps in Flask's
  cookie session is dropped and a stale ``remember_token`` cookie is cleared,
  so Flask-Login never asks the app's ``user_loader`` (which is left as the app
  registered it). Session protection is off (the session cookie is already
  bound to a revocable row). Otherwise a signed-cookie login that cannot be
  revoked would live on beside the real one.
- Every password hash it writes (sign-in upgrade, password change,
  ``create_user``) stays in Werkzeug's format, so the app's own
  ``check_password_hash`` keeps working, until the app sets
  ``SESSIONAUTH_PASSWORD_UPGRADE = True``.
- Existing calls to ``flask_login.login_user`` / ``logout_user`` start and end
  flask-sessionauth sessions (through Flask-Login's signals), with
  ``remember`` carried over, and never leave Flask-Login's remember cookie.

Flask-Login's ``fresh_login_required`` reads freshness from Flask's cookie
session, which no longer carries a login; use
:func:`flask_sessionauth.fresh_login_required` for sudo-mode views.
"""

from __future__ import annotations

import typing as t

import flask_login
from flask import Flask
from flask import current_app
from flask import request
from flask import session

from .glue import actions
from .glue.proxies import current_user
from .glue.state import STATE_KEY

#: Keys Flask-Login keeps in Flask's cookie session for its own logins.
_FLASK_LOGIN_KEYS = ("_user_id", "_fresh", "_id", "_remember", "_remember_seconds")


def use_flask_login(app: Flask, login_manager: t.Any) -> None:
    """Serve ``login_manager``'s users from flask-sessionauth on ``app``.

    Call it after both ``login_manager.init_app(app)`` and
    ``SessionAuth.init_app(app)``.
    """
    if "sessionauth" not in app.extensions:
        raise RuntimeError("Call SessionAuth.init_app(app) before use_flask_login(app, ...).")
    if not _initialised_on(app, login_manager):
        raise RuntimeError("Call login_manager.init_app(app) before use_flask_login(app, ...).")

    login_manager.session_protection = None
    login_manager.request_loader(_sessionauth_user)
    if login_manager._user_callback is None:
        # Flask-Login insists on a user_loader; ours never finds anybody.
        login_manager.user_loader(_no_cookie_session_user)
    if login_manager.login_view is None:
        login_manager.login_view = app.config["SESSIONAUTH_LOGIN_VIEW"] or (
            "sessionauth.login" if "sessionauth" in app.blueprints else None
        )
    if app.config["SESSIONAUTH_PASSWORD_UPGRADE"] is None:
        # Until the app opts in, every hash we write stays readable by its own
        # werkzeug.security.check_password_hash (docs/migrating-from-flask-login.md).
        app.extensions[STATE_KEY].hasher.werkzeug_method = "scrypt"

    # First of all hooks, so no hook of the app can ask Flask-Login before.
    app.before_request_funcs.setdefault(None, []).insert(0, _forget_flask_login_state)
    flask_login.user_logged_in.connect(_logged_in, app, weak=False)
    flask_login.user_logged_out.connect(_logged_out, app, weak=False)


def _initialised_on(app: Flask, login_manager: t.Any) -> bool:
    return getattr(app, "login_manager", None) is login_manager


def _sessionauth_user(_request: t.Any) -> t.Any | None:
    """Flask-Login's request loader: our signed-in user, or ``None``."""
    return current_user._get_current_object() or None


def _no_cookie_session_user(_user_id: str) -> None:
    """Logins kept in Flask's signed cookie (or Flask-Login's remember cookie)
    cannot be revoked, so they count for nothing."""
    return None


def _forget_flask_login_state() -> None:
    """Drop Flask-Login's own login (its user id in Flask's cookie session) and
    have it delete a ``remember_token`` left from before the switch.

    Either would make Flask-Login call the app's ``user_loader`` with an id
    from a cookie nobody can revoke; ``"clear"`` makes it skip the remember
    cookie and delete it.
    """
    for key in ("_user_id", "_fresh", "_id"):
        if key in session:
            session.pop(key)
    name = current_app.config.get("REMEMBER_COOKIE_NAME", flask_login.COOKIE_NAME)
    if name in request.cookies and session.get("_remember") != "clear":
        session["_remember"] = "clear"


def _logged_in(app: Flask, user: t.Any = None, **_: t.Any) -> None:
    """``flask_login.login_user`` ran: start a real session instead of its cookie login."""
    remember = session.get("_remember") == "set"
    fresh = bool(session.get("_fresh", True))
    for key in _FLASK_LOGIN_KEYS:
        session.pop(key, None)
    actions.login_user(user, remember=remember, fresh=fresh)


def _logged_out(app: Flask, **_: t.Any) -> None:
    """``flask_login.logout_user`` ran: end the session (row and cookie)."""
    actions.logout_user()
