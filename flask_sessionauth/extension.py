"""The ``SessionAuth`` extension: ``init_app`` wiring and the public methods,
each a one-line hand-off to :mod:`.glue.actions` (see ARCHITECTURE.md)."""

from __future__ import annotations

import typing as t

from flask import Flask
from flask import current_app
from flask import has_app_context

from .core.anonymous import CurrentUser
from .core.config import Settings
from .core.errors import SessionAuthError
from .core.passwords import PasswordHasher
from .glue import actions
from .glue import activity
from .glue import admin
from .glue import proxies
from .glue.events import listen_user_events
from .glue.hook import after_request
from .glue.hook import before_request
from .glue.responses import error_response
from .glue.state import EXTENSION_KEY
from .glue.state import STATE_KEY
from .glue.state import AppState
from .glue.state import app_state
from .storage import model
from .web.api import create_api_blueprint
from .web.cli import sessionauth_cli
from .web.pages import create_blueprint


class SessionAuth(t.Generic[model.UserT]):
    """Revocable, database-backed login sessions for Flask: ``SessionAuth(app, db=db, user_model=User)``
    (a ``SessionAuth[User]``) or ``auth = SessionAuth()`` then ``auth.init_app(app, db=db, user_model=User)``.
    One object serves any number of apps (state in ``app.extensions``); keys: :mod:`flask_sessionauth.core.config`."""

    def __init__(self, app: Flask | None = None, db: t.Any = None, user_model: type[model.UserT] | None = None) -> None:
        self.db = db
        self.user_model = user_model
        self._last_model: t.Any = None
        self._unauthorized_callback: t.Callable[[], t.Any] | None = None
        self._apps: list[AppState] = []
        if app is not None:
            self.init_app(app)

    def init_app(self, app: Flask, db: t.Any = None, user_model: type[model.UserT] | None = None) -> None:
        if EXTENSION_KEY in app.extensions:
            raise RuntimeError("SessionAuth is already registered on this app.")
        db = db or self.db or app.extensions.get("sqlalchemy")
        user_model = user_model or self.user_model
        if db is None or user_model is None:
            raise TypeError("SessionAuth needs the app's Flask-SQLAlchemy 'db' and a 'user_model'.")
        state = AppState(app, db, user_model)
        state.unauthorized_callback = self._unauthorized_callback
        self._last_model = state.model
        app.extensions[EXTENSION_KEY] = self
        app.extensions[STATE_KEY] = state
        app.before_request(before_request)
        app.after_request(after_request)
        app.register_error_handler(SessionAuthError, error_response)
        app.context_processor(proxies.template_context)
        listen_user_events(state.user_model, state.model, state.store)
        app.cli.add_command(sessionauth_cli)
        if app.config["SESSIONAUTH_REGISTER_BLUEPRINT"]:
            app.register_blueprint(create_blueprint(app), url_prefix=app.config["SESSIONAUTH_URL_PREFIX"])
        if app.config["SESSIONAUTH_REGISTER_API"]:
            app.register_blueprint(create_api_blueprint(app), url_prefix=state.api_prefix)

    # -- per-app state ------------------------------------------------------

    def state_for(self, app: Flask) -> AppState:
        """``app``'s :class:`~flask_sessionauth.glue.state.AppState`."""
        return t.cast(AppState, app.extensions[STATE_KEY])

    @property
    def session_model(self) -> type[model.UserSession]:
        """The ``UserSession`` model class (of the current app, if in its context)."""
        if has_app_context() and STATE_KEY in current_app.extensions:
            return app_state().model
        return t.cast("type[model.UserSession]", self._last_model)

    @property
    def hasher(self) -> PasswordHasher:
        return app_state().hasher

    @property
    def settings(self) -> Settings:
        return app_state().settings

    # -- access control ------------------------------------------------------

    def is_authenticated(self) -> bool:
        return actions.is_authenticated()

    def is_fresh(self) -> bool:
        return actions.is_fresh()

    def unauthorized_handler(self, callback: t.Callable[[], t.Any]) -> t.Callable[[], t.Any]:
        """Register what :func:`login_required` returns for anonymous users."""
        self._unauthorized_callback = callback
        if has_app_context() and STATE_KEY in current_app.extensions:
            app_state().unauthorized_callback = callback
        return callback

    # -- sessions --------------------------------------------------------------

    def login_user(self, user: model.UserT, remember: bool = True, *, fresh: bool = True) -> model.IssuedSession:
        """Start a new session for ``user`` and send its cookie (a session already in this request is deleted: no
        fixation). ``fresh=False``: no password involved. ``.token``: the cookie value (never stored nor signalled)."""
        return actions.login_user(user, remember, fresh=fresh)

    def before_session_create(self, hook: actions.Hook) -> actions.Hook:
        return actions.before_session_create(self, hook)

    def logout_user(self) -> None:
        """End this request's session: delete its row and clear the cookie."""
        actions.logout_user()

    def get_session(self) -> model.UserSession | None:
        """The current request's ``UserSession`` (a detached snapshot) or ``None``."""
        return proxies.session_proxy._get_current_object() or None

    def list_sessions(
        self, user: model.UserT | CurrentUser | None = None, limit: int | None = None, offset: int = 0
    ) -> list[model.UserSession]:
        """Active sessions of ``user`` (default: the current one), most recently active first (``limit``: a page)."""
        return actions.list_sessions(user, limit, offset)

    def revoke_session(self, session_id: str, user: model.UserT | CurrentUser | None = None) -> bool:
        """Sign out one session of ``user``. ``False`` if it is not theirs or unknown."""
        return bool(actions.revoke(user, [session_id], keep_current=False, reason="revoke"))

    def revoke_sessions(self, user: model.UserT | CurrentUser | None = None) -> int:
        """Sign out every session of ``user``, the current one included."""
        return actions.revoke(user, None, keep_current=False, reason="revoke_all")

    def revoke_other_sessions(self, user: model.UserT | CurrentUser | None = None) -> int:
        """Sign out every session of ``user`` except the current request's."""
        return actions.revoke(user, None, keep_current=True, reason="revoke_others")

    def rename_session(self, session_id: str, name: str | None, user: t.Any = None) -> str | None:
        return actions.rename_session(session_id, name, user)  # see docs/api.md, "Naming devices"

    def cleanup_expired(self) -> int:
        """Delete expired sessions (finished rate-limit windows, old events too); returns how many sessions."""
        return actions.cleanup_expired()

    list_activity = staticmethod(admin.list_activity)  # (user=None, limit=None, offset=0, kind=None) -> [Event]

    def admin_check(self, check: t.Callable[[t.Any], bool]) -> t.Callable[[t.Any], bool]:
        return activity.register_admin_check(self, check)  # check(user) -> bool; admin pages 404 without

    # -- accounts ----------------------------------------------------------------

    def authenticate(self, email: str, password: str) -> model.UserT | None:
        """The user whose credentials these are, or ``None`` (the same work and answer for unknown
        emails, wrong passwords, disabled accounts). Raises :class:`RateLimited` at a limit."""
        return actions.authenticate(email, password)

    def reauthenticate(self, password: str) -> model.IssuedSession:
        """Sudo mode: check the password, rotate the token, mark fresh. Raises :class:`InvalidPassword`."""
        return actions.reauthenticate(password)

    def change_password(
        self,
        user: model.UserT | CurrentUser,
        current_password: str,
        new_password: str,
        revoke_other_sessions: bool = False,
        *,
        confirm_password: str | None = None,
    ) -> model.IssuedSession | None:
        """Change the password after checking the current one (others end in the same transaction
        with ``revoke_other_sessions``); returns the current session, rotated, or ``None``."""
        return actions.change_password(
            user, current_password, new_password, revoke_other_sessions, confirm_password=confirm_password
        )

    def set_password(self, user: model.UserT | CurrentUser, new_password: str, revoke_sessions: bool = True) -> int:
        """Admin reset (no current password); ends the user's sessions unless told not to. Returns how many."""
        return actions.set_password(user, new_password, revoke_sessions)

    def find_user(self, email: str) -> model.UserT | None:
        return app_state().accounts.find(email)

    def create_user(self, email: str, password: str, **fields: t.Any) -> model.UserT:
        """Create and commit a user with a hashed password and a normalised email."""
        return t.cast(model.UserT, app_state().accounts.create(email, password, **fields))

    def hash_password(self, password: str) -> str:
        """Hash with the first configured scheme; raises :class:`PasswordPolicyError`."""
        return app_state().hasher.hash(password)

    def verify_password(self, user: model.UserT | CurrentUser, password: str) -> bool:
        """Check ``password`` against ``user``'s hash, upgrading an outdated hash on success."""
        return app_state().accounts.verify(actions.unproxy(user), password, None)
