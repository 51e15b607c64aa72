"""The ``SessionAuth`` extension: Flask glue over the store and lifecycle rules."""

from __future__ import annotations

import contextlib
import copy
import typing as t
import weakref

import sqlalchemy as sa
from flask import Flask
from flask import current_app
from flask import g
from flask import has_app_context
from flask import has_request_context
from flask import jsonify
from flask import redirect
from flask import render_template_string
from flask import request
from flask import url_for
from flask.wrappers import Response
from sqlalchemy.exc import SQLAlchemyError
from werkzeug.exceptions import Unauthorized

from . import lifecycle
from . import ratelimit
from . import signals
from . import tokens
from .config import DEFAULTS
from .config import Settings
from .context import ANONYMOUS_USER
from .context import CookieAction
from .context import RequestState
from .context import extension
from .context import request_state
from .cookie_cache import CachedRecord
from .cookie_cache import CookieCache
from .exceptions import InvalidPassword
from .exceptions import RateLimited
from .exceptions import SessionAuthError
from .exceptions import StorageUnavailable
from .model import IP_LENGTH
from .model import USER_AGENT_LENGTH
from .model import create_session_model
from .passwords import PasswordHasher
from .redirects import safe_redirect
from .store import RECORD_FIELDS
from .store import SessionRecord
from .store import SQLStore

if t.TYPE_CHECKING:
    from .redis_store import RedisStore

_UNAVAILABLE_PAGE = """<!doctype html><html lang="en"><meta charset="utf-8">
<title>Temporarily unavailable</title><h1>Temporarily unavailable</h1>
<p>{{ message }}</p></html>"""


def normalize_email(value: str) -> str:
    """Emails are stored and matched stripped and lower-cased."""
    return value.strip().lower()


def clean_header(value: str | None, limit: int) -> str | None:
    """Make a client-supplied header safe for any database column: no NULs or
    control characters (PostgreSQL rejects NUL), at most ``limit`` characters."""
    if not value:
        return None
    value = "".join(c for c in value[: limit * 2] if c >= " " and c != "\x7f")
    return value[:limit] or None


class AppState:
    """Everything one app's sessions need; the extension object itself stays app-free."""

    def __init__(self, app: Flask, db: t.Any, user_model: t.Any) -> None:
        config = app.config
        self.settings = Settings.from_config(config)
        self.db = db
        self.user_model = user_model
        self.model = create_session_model(db, user_model, config["SESSIONAUTH_TABLE_NAME"])
        mapper = sa.inspect(user_model)
        # ``is_active`` as a column is checked inside the session query; as a
        # Python property (Flask-Login's UserMixin) when the user object loads.
        self.active_column = mapper.columns["is_active"] if "is_active" in mapper.columns else None
        self.check_active_property = self.active_column is None and hasattr(user_model, "is_active")
        self.identity_attr = config["SESSIONAUTH_USER_IDENTITY_FIELD"]
        self.password_attr = config["SESSIONAUTH_PASSWORD_FIELD"]
        for attr in (self.identity_attr, self.password_attr):
            if not hasattr(user_model, attr):
                raise TypeError(f"{user_model.__name__} has no attribute {attr!r}")
        self.store: SQLStore | RedisStore = SQLStore(db, self.model, user_model, self.active_column)
        if config["SESSIONAUTH_REDIS_URL"]:
            from .redis_store import RedisStore

            self.store = RedisStore.from_url(
                self.store,
                config["SESSIONAUTH_REDIS_URL"],
                config["SESSIONAUTH_REDIS_PREFIX"],
                config["SESSIONAUTH_REDIS_FALLBACK"],
            )
        max_age = self.settings.cookie_cache_max_age
        self.cookie_cache = CookieCache(self.settings.cookie_name, max_age) if max_age > 0 else None
        self.hasher = PasswordHasher(
            config["SESSIONAUTH_PASSWORD_SCHEMES"],
            config["SESSIONAUTH_PASSWORD_CONTEXT_OPTIONS"],
            self.settings.password_min_length,
            self.settings.password_max_length,
        )
        self.clear_site_data: str | None = config["SESSIONAUTH_CLEAR_SITE_DATA"] or None
        self.cleanup_batch_size = int(config["SESSIONAUTH_CLEANUP_BATCH_SIZE"])
        self.limiter = ratelimit.create_limiter(config, db, getattr(self.store, "client", None))

    # -- lazy loading for the proxies ------------------------------------

    def load_user(self, state: RequestState) -> t.Any:
        record = state.record
        if record is None:
            state.user = ANONYMOUS_USER
            return ANONYMOUS_USER
        try:
            user = self.store.load_user(record.user_id)
        except SQLAlchemyError as exc:
            state.set_record(None)
            raise StorageUnavailable() from exc
        if user is None or (self.check_active_property and not user.is_active):
            state.clear()
            return ANONYMOUS_USER
        state.user = user
        return user

    def session_object(self, state: RequestState) -> t.Any:
        """A detached ``UserSession`` snapshot of the request's session."""
        record = state.record
        if record is None or (self.check_active_property and not self.load_user(state)):
            return state.session_obj
        obj = self.store.snapshot(record._asdict())
        state.session_obj = obj
        return obj

    def session_values(self, user_id: t.Any, remember: bool, now: t.Any, *, fresh: bool) -> dict[str, t.Any]:
        """Column values for a brand-new session of ``user_id`` from this request."""
        ip = ua = None
        if has_request_context():
            ip = clean_header(request.remote_addr, IP_LENGTH)
            ua = clean_header(request.headers.get("User-Agent"), USER_AGENT_LENGTH)
        return {
            "user_id": user_id,
            "remember": remember,
            "expires_at": lifecycle.new_expiry(now, remember, now, self.settings),
            "created_at": now,
            "updated_at": now,
            "last_active_at": now,
            "authenticated_at": now if fresh else None,
            "ip_address": ip,
            "user_agent": ua,
        }


class SessionAuth:
    """Revocable, database-backed login sessions for Flask.

    ``SessionAuth(app, db=db, user_model=User)`` or, with an app factory,
    ``auth = SessionAuth()`` then ``auth.init_app(app, db=db, user_model=User)``.
    One object serves any number of apps; per-app state is kept by app.

    Configuration keys (all ``SESSIONAUTH_*``, see :mod:`flask_sessionauth.config`
    and the README for each one's meaning): ``EXPIRES_IN``, ``UPDATE_AGE``,
    ``DISABLE_REFRESH``, ``SHORT_EXPIRES_IN``, ``FRESH_AGE``, ``ABSOLUTE_LIFETIME``,
    ``ACTIVITY_RESOLUTION``, ``COOKIE_NAME``, ``COOKIE_SECURE``, ``COOKIE_SAMESITE``,
    ``COOKIE_CACHE_MAX_AGE``, ``REDIS_URL``, ``REDIS_PREFIX``, ``REDIS_FALLBACK``,
    ``URL_PREFIX``, ``REGISTER_BLUEPRINT``, ``API_PREFIX``, ``REGISTER_API``,
    ``TRUSTED_ORIGINS``, ``BASE_TEMPLATE``, ``HOME_ENDPOINT``, ``PASSWORD_SCHEMES``,
    ``PASSWORD_CONTEXT_OPTIONS``, ``PASSWORD_MIN_LENGTH``, ``PASSWORD_MAX_LENGTH``,
    ``MAX_SESSIONS_PER_USER``, ``TABLE_NAME``, ``USER_IDENTITY_FIELD``,
    ``PASSWORD_FIELD``, ``CLEAR_SITE_DATA``, ``RATE_LIMIT_ACCOUNT``,
    ``RATE_LIMIT_IP``, ``RATE_LIMIT_WINDOW``, ``CLEANUP_BATCH_SIZE``.
    """

    def __init__(self, app: Flask | None = None, db: t.Any = None, user_model: t.Any = None) -> None:
        self.db = db
        self.user_model = user_model
        self._states: weakref.WeakKeyDictionary[Flask, AppState] = weakref.WeakKeyDictionary()
        self._last_model: t.Any = None
        self._unauthorized_callback: t.Callable[[], t.Any] | None = None
        if app is not None:
            self.init_app(app)

    def init_app(self, app: Flask, db: t.Any = None, user_model: t.Any = None) -> None:
        if "sessionauth" in app.extensions:
            raise RuntimeError("SessionAuth is already registered on this app.")
        db = db or self.db or app.extensions.get("sqlalchemy")
        user_model = user_model or self.user_model
        if db is None or user_model is None:
            raise TypeError("SessionAuth needs the app's Flask-SQLAlchemy 'db' and a 'user_model'.")
        for key, value in DEFAULTS.items():
            app.config.setdefault(key, copy.deepcopy(value))
        state = AppState(app, db, user_model)
        self._states[app] = state
        self._last_model = state.model
        app.extensions["sessionauth"] = self

        app.before_request(self._before_request)
        app.after_request(self._after_request)
        app.register_error_handler(StorageUnavailable, self._storage_unavailable)
        app.register_error_handler(RateLimited, ratelimit.rate_limited_response)
        app.context_processor(_template_context)
        _listen_user_events(state)

        from . import cli

        app.cli.add_command(cli.sessionauth_cli)
        if app.config["SESSIONAUTH_REGISTER_BLUEPRINT"]:
            from .views import create_blueprint

            app.register_blueprint(create_blueprint(app), url_prefix=app.config["SESSIONAUTH_URL_PREFIX"])
        if app.config["SESSIONAUTH_REGISTER_API"]:
            from .api import create_api_blueprint

            app.register_blueprint(create_api_blueprint(app), url_prefix=app.config["SESSIONAUTH_API_PREFIX"])

    # -- per-app state ------------------------------------------------------

    def _state(self) -> AppState:
        return self._states[current_app._get_current_object()]  # type: ignore[attr-defined]

    def state_for(self, app: Flask) -> AppState:
        return self._states[app]

    @property
    def session_model(self) -> t.Any:
        """The ``UserSession`` model class (of the current app, if in its context)."""
        from flask import has_app_context

        if has_app_context() and current_app._get_current_object() in self._states:  # type: ignore[attr-defined]
            return self._state().model
        return self._last_model

    @property
    def hasher(self) -> PasswordHasher:
        return self._state().hasher

    @property
    def settings(self) -> Settings:
        return self._state().settings

    # -- request hooks ------------------------------------------------------

    def _before_request(self) -> None:
        state = RequestState(self._state())
        g._sessionauth = state
        values = request.cookies.getlist(state.app_state.settings.cookie_name)
        if not values:
            return
        if request.endpoint is not None and request.endpoint.rpartition(".")[2] == "static":
            return
        name = state.app_state.settings.cookie_name
        if len(values) > 1 or request.headers.get("Cookie", "").count(name + "=") > 1:
            # Cookie tossing: a sibling domain planted a second cookie. Fail closed.
            # The raw count also catches a second cookie Werkzeug's parser dropped
            # or swallowed into another pair's quoted value.
            state.clear()
            return
        token = tokens.parse(values[0])
        if token is None:
            state.clear()
            return
        authenticate_token(state, token)

    def _after_request(self, response: Response) -> Response:
        state: RequestState | None = g.get("_sessionauth")
        if state is None:
            return response
        cookie = state.cookie
        settings = state.app_state.settings
        if cookie is not None:
            write_cookie(response, settings, settings.cookie_name, cookie.value, cookie.max_age)
        elif state.accessed:
            response.vary.add("Cookie")
        if state.app_state.cookie_cache is not None:
            _write_cache_cookie(response, state, state.app_state.cookie_cache)
        if state.signed_out and state.app_state.clear_site_data:
            response.headers["Clear-Site-Data"] = state.app_state.clear_site_data
        return response

    def _storage_unavailable(self, error: StorageUnavailable) -> Response:
        state = request_state()
        if state is not None:
            state.set_record(None)
        if wants_json():
            response = jsonify(error={"code": error.code, "message": error.message})
        else:
            response = current_app.make_response(render_template_string(_UNAVAILABLE_PAGE, message=error.message))
        response.status_code = 503
        response.headers["Retry-After"] = "5"
        response.headers["Cache-Control"] = "no-store"
        return response

    # -- access control ------------------------------------------------------

    def is_authenticated(self) -> bool:
        state = request_state()
        if state is None or state.record is None:
            return False
        if state.app_state.check_active_property:
            return bool(state.app_state.load_user(state))
        return True

    def is_fresh(self) -> bool:
        state = request_state()
        if state is None:
            return False
        verify_with_storage(state)
        return lifecycle.is_fresh(state.record, lifecycle.utcnow(), state.app_state.settings)

    def unauthorized_handler(self, callback: t.Callable[[], t.Any]) -> t.Callable[[], t.Any]:
        """Register what :func:`login_required` returns for anonymous users."""
        self._unauthorized_callback = callback
        return callback

    def unauthorized(self) -> t.Any:
        if self._unauthorized_callback is not None:
            return self._unauthorized_callback()
        if wants_json():
            return json_error("unauthorized", "Sign in to continue.", 401)
        if "sessionauth" in current_app.blueprints:
            # Only a page is worth returning to: a POST-only URL answers a GET with 405.
            target = _current_path() if request.method in ("GET", "HEAD") else None
            return redirect(url_for("sessionauth.login", next=target))
        raise Unauthorized()

    def needs_fresh_login(self) -> t.Any:
        if wants_json():
            return json_error("fresh_login_required", "Confirm your password to continue.", 403)
        if "sessionauth" in current_app.blueprints:
            return redirect(url_for("sessionauth.confirm", next=_current_path()))
        raise Unauthorized()

    # -- public API -----------------------------------------------------------

    def login_user(self, user: t.Any, remember: bool = True, *, fresh: bool = True) -> t.Any:
        """Start a new session for ``user`` and send its cookie.

        A session already present in this request is deleted first, so signing
        in always yields a new token (no session fixation). ``fresh=False``
        marks a sign-in that did not involve the password (sudo mode then asks
        for it). The returned ``UserSession`` carries the cookie value in
        ``.token``; it is never stored.
        """
        app_state = self._state()
        user = _unproxy(user)
        if self._is_inactive(user):
            raise SessionAuthError("This account is disabled.")
        state = request_state()
        now = lifecycle.utcnow()
        with storage_errors():
            if state is not None and state.record is not None:
                old = state.record
                app_state.store.delete(old.user_id, [old.id])
                _send_revoked(old.user_id, [old.id], "rotate")
            token = tokens.generate()
            values = app_state.session_values(user.id, remember, now, fresh=fresh)
            values.update(id=token.session_id, secret_hash=tokens.hash_secret(token.secret))
            obj, evicted = app_state.store.create(values, app_state.settings.max_sessions_per_user)
        if evicted:
            _send_revoked(user.id, evicted, "evicted")
        obj.token = token.value
        if state is not None:
            record = SessionRecord(**values)
            state.set_record(record, user)
            state.session_obj = obj
            state.cookie = CookieAction(token.value, lifecycle.cookie_max_age(record, now))
        signals.session_created.send(_sender(), user=user, session=obj)
        return obj

    def logout_user(self) -> None:
        """End this request's session: delete its row and clear the cookie."""
        state = request_state()
        if state is None:
            return
        record = state.record
        if record is not None:
            with storage_errors():
                self._state().store.delete(record.user_id, [record.id])
            _send_revoked(record.user_id, [record.id], "logout")
        state.clear()
        state.signed_out = True

    def get_session(self) -> t.Any | None:
        """The current request's ``UserSession`` (a detached snapshot) or ``None``."""
        from .context import current_session

        return current_session._get_current_object() or None

    def list_sessions(self, user: t.Any = None) -> list[t.Any]:
        """Active sessions of ``user`` (default: the current one), most recently active first."""
        user_id = self._user_id(user)
        with storage_errors():
            return self._state().store.list(user_id, lifecycle.utcnow())

    def revoke_session(self, session_id: str, user: t.Any = None) -> bool:
        """Sign out one session of ``user``. ``False`` if it is not theirs or unknown."""
        user_id = self._user_id(user)
        if not tokens.is_session_id(session_id):
            return False
        return bool(self._revoke(user_id, [session_id], None, "revoke"))

    def revoke_sessions(self, user: t.Any = None) -> int:
        """Sign out every session of ``user``, the current one included."""
        return self._revoke(self._user_id(user), None, None, "revoke_all")

    def revoke_other_sessions(self, user: t.Any = None) -> int:
        """Sign out every session of ``user`` except the current request's."""
        user_id = self._user_id(user)
        return self._revoke(user_id, None, self._current_id_of(user_id), "revoke_others")

    def _revoke(self, user_id: t.Any, ids: list[str] | None, keep: str | None, reason: str) -> int:
        with storage_errors():
            revoked = self._state().store.delete(user_id, ids, keep=keep)
        _signed_out_if_revoked(revoked)
        if revoked:
            _send_revoked(user_id, revoked, reason)
        return len(revoked)

    def authenticate(self, email: str, password: str) -> t.Any | None:
        """Return the user whose credentials these are, or ``None``.

        Unknown emails run a dummy verification so they take as long as wrong
        passwords (no user enumeration by timing). A hash in an outdated
        scheme or with weaker parameters is replaced by a current one.
        Raises :class:`RateLimited` after too many failures for this email
        (known or not) or this client address.
        """
        app_state = self._state()
        attempt = app_state.limiter.attempt(email if isinstance(email, str) else None)
        if not isinstance(email, str) or not isinstance(password, str):
            app_state.hasher.dummy_verify()
            _failed(attempt, email, "malformed")
            return None
        user = self.find_user(email)
        if user is None:
            app_state.hasher.dummy_verify()
            _failed(attempt, email, "unknown")
            return None
        if not self.verify_password(user, password):
            _failed(attempt, email, "password")
            return None
        if self._is_inactive(user):
            _failed(attempt, email, "inactive")
            return None
        app_state.limiter.succeeded(attempt)
        return user

    def find_user(self, email: str) -> t.Any | None:
        app_state = self._state()
        column = getattr(app_state.user_model, app_state.identity_attr)
        identity = normalize_email(email)
        # NULs and lone surrogates cannot be sent to PostgreSQL; no email has them.
        if not identity or len(identity) > 320 or not identity.isprintable():
            return None
        with storage_errors():
            stmt = sa.select(app_state.user_model).where(sa.func.lower(column) == identity).limit(1)
            return app_state.db.session.execute(stmt).scalar_one_or_none()

    def hash_password(self, password: str) -> str:
        """Hash with the first configured scheme; raises :class:`PasswordPolicyError`."""
        return self._state().hasher.hash(password)

    def verify_password(self, user: t.Any, password: str) -> bool:
        """Check ``password`` against ``user``'s hash, upgrading an outdated hash on success."""
        app_state = self._state()
        ok, new_hash = app_state.hasher.verify(password, getattr(user, app_state.password_attr))
        if ok and new_hash is not None:
            setattr(user, app_state.password_attr, new_hash)
            with storage_errors():
                try:
                    app_state.db.session.commit()
                except SQLAlchemyError:
                    app_state.db.session.rollback()
                    raise
        return ok

    def create_user(self, email: str, password: str, **fields: t.Any) -> t.Any:
        """Create and commit a user with a hashed password and a normalised email."""
        app_state = self._state()
        fields[app_state.identity_attr] = normalize_email(email)
        fields[app_state.password_attr] = self.hash_password(password)
        user = app_state.user_model(**fields)
        with storage_errors():
            app_state.db.session.add(user)
            _commit(app_state.db)
        return user

    def change_password(
        self,
        user: t.Any,
        current_password: str,
        new_password: str,
        revoke_other_sessions: bool = False,
        *,
        confirm_password: str | None = None,
    ) -> t.Any | None:
        """Change ``user``'s password after checking the current one.

        Raises :class:`InvalidPassword` (nothing changes) or
        :class:`PasswordPolicyError`. With ``revoke_other_sessions`` every other
        session of the user ends in the same transaction as the new hash. The
        current session, if it is the user's, is rotated to a new token and
        returned (``None`` outside a request).
        """
        app_state = self._state()
        user = _unproxy(user)
        attempt = app_state.limiter.attempt(getattr(user, app_state.identity_attr))
        if (
            not isinstance(current_password, str)
            or not app_state.hasher.verify(current_password, getattr(user, app_state.password_attr))[0]
        ):
            _failed(attempt, getattr(user, app_state.identity_attr), "password")
            raise InvalidPassword("The current password is incorrect.")
        app_state.limiter.succeeded(attempt)
        app_state.hasher.check_policy(new_password, confirm_password)
        setattr(user, app_state.password_attr, app_state.hasher.hash(new_password))
        keep = self._current_id_of(user.id)
        revoked: list[str] = []
        with storage_errors():
            if revoke_other_sessions:
                # store.delete commits the ORM session: hash and revocation land together.
                revoked = app_state.store.delete(user.id, None, keep=keep)
            else:
                _commit(app_state.db)
        if revoked:
            _send_revoked(user.id, revoked, "password_change")
        signals.password_changed.send(_sender(), user=user, revoked=len(revoked))
        return self._rotate(fresh=True) if keep is not None else None

    def set_password(self, user: t.Any, new_password: str, revoke_sessions: bool = True) -> int:
        """Set a password without the current one (admin reset); ends all of
        the user's sessions unless ``revoke_sessions=False``. Returns how many."""
        app_state = self._state()
        user = _unproxy(user)
        setattr(user, app_state.password_attr, app_state.hasher.hash(new_password))
        revoked: list[str] = []
        with storage_errors():
            if revoke_sessions:
                revoked = app_state.store.delete(user.id, None)
            else:
                _commit(app_state.db)
        _signed_out_if_revoked(revoked)
        if revoked:
            _send_revoked(user.id, revoked, "password_reset")
        signals.password_changed.send(_sender(), user=user, revoked=len(revoked))
        return len(revoked)

    def reauthenticate(self, password: str) -> t.Any:
        """Sudo mode: check the signed-in user's password, rotate the token and
        mark the session fresh. Raises :class:`InvalidPassword`."""
        from .context import current_user

        user = current_user._get_current_object()
        if not user:
            raise SessionAuthError("No user is signed in.")
        limiter = self._state().limiter
        attempt = limiter.attempt(getattr(user, self._state().identity_attr))
        if not isinstance(password, str) or not self.verify_password(user, password):
            _failed(attempt, getattr(user, self._state().identity_attr), "password")
            raise InvalidPassword()
        limiter.succeeded(attempt)
        rotated = self._rotate(fresh=True)
        if rotated is None:
            raise SessionAuthError("This session has ended. Please sign in again.")
        return rotated

    def _rotate(self, *, fresh: bool) -> t.Any | None:
        """Give the current session a new token, keeping its history."""
        state = request_state()
        if state is None or state.record is None:
            return None
        app_state = state.app_state
        old = state.record
        now = lifecycle.utcnow()
        token = tokens.generate()
        values = {name: getattr(old, name) for name in RECORD_FIELDS}
        values.update(
            id=token.session_id,
            secret_hash=tokens.hash_secret(token.secret),
            updated_at=now,
            last_active_at=now,
            expires_at=max(old.expires_at, lifecycle.new_expiry(now, old.remember, old.created_at, app_state.settings)),
        )
        if fresh:
            values["authenticated_at"] = now
        with storage_errors():
            obj = app_state.store.replace(old.id, values)
        if obj is None:
            state.clear()
            return None
        _send_revoked(old.user_id, [old.id], "rotate")
        obj.token = token.value
        record = SessionRecord(**values)
        user = state.user
        state.set_record(record, user)
        state.session_obj = obj
        state.cookie = CookieAction(token.value, lifecycle.cookie_max_age(record, now))
        return obj

    def cleanup_expired(self) -> int:
        """Delete expired session rows in batches; returns how many.

        Also forgets rate-limit counters whose window is over, so one
        scheduled ``flask sessionauth cleanup`` keeps both tables small.
        """
        app_state = self._state()
        with storage_errors():
            count = app_state.store.cleanup(lifecycle.utcnow(), app_state.cleanup_batch_size)
        app_state.limiter.cleanup()
        return count

    # -- helpers ---------------------------------------------------------------

    def _is_inactive(self, user: t.Any) -> bool:
        return getattr(user, "is_active", True) is False

    def _user_id(self, user: t.Any) -> t.Any:
        if user is None:
            state = request_state()
            if state is not None:
                verify_with_storage(state)
            if state is None or state.record is None:
                raise SessionAuthError("No user is signed in.")
            return state.record.user_id
        return getattr(user, "id", user)

    def _current_id_of(self, user_id: t.Any) -> str | None:
        """The current request's session id, if it belongs to ``user_id``."""
        state = request_state()
        if state is None or state.record is None or state.record.user_id != user_id:
            return None
        return state.record.id


def authenticate_token(state: RequestState, token: tokens.Token, *, use_cache: bool = True) -> None:
    """Validate ``token`` and fill ``state``: the request hook's whole job.

    A valid cookie-cache cookie that calls for no write settles it without
    storage. Otherwise one read (and at most one write) against storage.
    Storage errors become :class:`StorageUnavailable` (503): an outage never
    lets a request through as signed in, and never shows a traceback.
    """
    app_state = state.app_state
    settings = app_state.settings
    now = lifecycle.utcnow()
    cache = app_state.cookie_cache
    if cache is not None and use_cache and not _reads_storage_always():
        cached = cache.load(request.cookies.get(cache.name), token)
        if cached is not None:
            verdict = lifecycle.evaluate(token, cached, now, settings)
            if verdict.record is not None and verdict.action is lifecycle.Action.NONE:
                state.set_record(cached)
                return
    store = app_state.store
    try:
        verdict = lifecycle.evaluate(token, store.load(token.session_id), now, settings)
        action = verdict.action
        record = lifecycle.apply(verdict, now)
        if action is lifecycle.Action.EXTEND:
            assert record is not None
            if not store.extend(record):
                record = None  # revoked meanwhile: never resurrect
        elif action is lifecycle.Action.TOUCH:
            assert record is not None
            store.touch(record)
    except SQLAlchemyError as exc:
        raise StorageUnavailable() from exc
    if record is None:
        state.clear()
        return
    state.set_record(record)
    if action is lifecycle.Action.EXTEND:
        state.cookie = CookieAction(token.value, lifecycle.cookie_max_age(record, now))


def _reads_storage_always() -> bool:
    """The extension's own pages and API (devices, revoke, password, sudo)
    never trust the cookie cache."""
    endpoint = request.endpoint
    return endpoint is not None and endpoint.partition(".")[0] in ("sessionauth", "sessionauth_api")


def verify_with_storage(state: RequestState) -> None:
    """Re-check a session that came from the cookie cache against storage.

    Sensitive decisions (sudo mode, management calls for the current user)
    call this, so a revoked session can never use them during the cache's
    max-age.
    """
    if not isinstance(state.record, CachedRecord):
        return
    token = tokens.parse(request.cookies.get(state.app_state.settings.cookie_name))
    if token is None:
        state.clear()
        return
    authenticate_token(state, token, use_cache=False)


def _write_cache_cookie(response: Response, state: RequestState, cache: CookieCache) -> None:
    """Issue the cache cookie after a storage-verified request; drop it with the session."""
    settings = state.app_state.settings
    record = state.record
    if isinstance(record, CachedRecord):
        return
    if record is None:
        # Only with the session cookie itself: requests that never looked at
        # the session (static files, an outage) leave the cache cookie alone.
        if cache.name not in request.cookies or state.cookie is None or state.cookie.value is not None:
            return
        write_cookie(response, settings, cache.name, None)
    else:
        write_cookie(response, settings, cache.name, cache.dump(record), cache.max_age)


def write_cookie(
    response: Response, settings: Settings, name: str, value: str | None, max_age: int | None = None
) -> None:
    """Set (or, for ``None``, clear) one of our cookies with the session
    cookie's attributes; such a response must never be cached."""
    if value is None:
        response.delete_cookie(
            name, path="/", secure=settings.cookie_secure, httponly=True, samesite=settings.cookie_samesite
        )
    else:
        response.set_cookie(
            name,
            value,
            max_age=max_age,
            path="/",
            secure=settings.cookie_secure,
            httponly=True,
            samesite=settings.cookie_samesite,
        )
    response.headers["Cache-Control"] = "no-store"
    response.vary.add("Cookie")


@contextlib.contextmanager
def storage_errors() -> t.Iterator[None]:
    """Turn database failures in management calls into :class:`StorageUnavailable`,
    so callers see one typed error and nothing is reported as done."""
    try:
        yield
    except SQLAlchemyError as exc:
        raise StorageUnavailable() from exc


def _commit(db: t.Any) -> None:
    try:
        db.session.commit()
    except BaseException:
        db.session.rollback()
        raise


def _failed(attempt: list[t.Any], identity: t.Any, reason: str) -> None:
    """A wrong password (or unknown account): count it against the rate
    limits and tell ``login_failed`` receivers."""
    extension()._state().limiter.failed(attempt)
    signals.login_failed.send(_sender(), identity=identity, reason=reason)


def _signed_out_if_revoked(revoked: list[str]) -> None:
    """If the caller's own session was among ``revoked``, this device is signed
    out: anonymous from now on, cookie cleared, ``Clear-Site-Data`` sent."""
    state = request_state()
    if state is not None and state.record is not None and state.record.id in revoked:
        state.clear()
        state.signed_out = True


def _unproxy(user: t.Any) -> t.Any:
    """The real user object behind ``current_user`` (signal receivers and
    callers keep it beyond the request; a proxy would turn anonymous)."""
    get = getattr(user, "_get_current_object", None)
    return get() if callable(get) else user


def _sender() -> t.Any:
    return current_app._get_current_object()  # type: ignore[attr-defined]


def _send_revoked(user_id: t.Any, ids: list[str], reason: str) -> None:
    signals.session_revoked.send(_sender(), user_id=user_id, session_ids=list(ids), reason=reason)


def _current_path() -> str:
    path = request.full_path if request.query_string else request.path
    return safe_redirect(path, "/")


def wants_json() -> bool:
    """API paths and clients that prefer JSON get JSON errors."""
    if not has_request_context():
        return False
    prefix = current_app.config.get("SESSIONAUTH_API_PREFIX") or "/api/auth"
    if request.path.startswith(prefix + "/") or request.is_json:
        return True
    best = request.accept_mimetypes.best_match(["text/html", "application/json"])
    return best == "application/json" and request.accept_mimetypes[best] > request.accept_mimetypes["text/html"]


def json_error(code: str, message: str, status: int, **headers: str) -> Response:
    response = jsonify(error={"code": code, "message": message})
    response.status_code = status
    for name, value in headers.items():
        response.headers[name.replace("_", "-")] = value
    return response


def _template_context() -> dict[str, t.Any]:
    from .context import current_session
    from .context import current_user

    return {"current_user": current_user, "current_session": current_session}


_listened: set[tuple[type, type]] = set()


def _listen_user_events(app_state: AppState) -> None:
    """End a user's sessions when the user is deleted or deactivated (ASVS 7.4.2).

    Runs inside the same flush, on the same connection, so the change and the
    revocation commit or roll back together.
    """
    key = (app_state.user_model, app_state.model)
    if key in _listened:
        return
    _listened.add(key)

    def end_sessions(connection: sa.Connection, user_id: t.Any) -> None:
        # The store of the app at hand (its Redis tier must forget the user's
        # sessions too); the listener is shared by every app on these models.
        store = app_state.store
        if has_app_context() and "sessionauth" in current_app.extensions:
            app = current_app._get_current_object()  # type: ignore[attr-defined]
            store = current_app.extensions["sessionauth"].state_for(app).store
        store.end_user_sessions(connection, user_id)
        state = request_state()
        if state is not None and state.record is not None and state.record.user_id == user_id:
            state.clear()

    def before_delete(mapper: t.Any, connection: sa.Connection, target: t.Any) -> None:
        end_sessions(connection, target.id)

    def after_update(mapper: t.Any, connection: sa.Connection, target: t.Any) -> None:
        if "is_active" not in mapper.columns:
            return
        history = sa.inspect(target).attrs.is_active.history
        if history.has_changes() and target.is_active is False:
            end_sessions(connection, target.id)

    sa.event.listen(app_state.user_model, "before_delete", before_delete)
    sa.event.listen(app_state.user_model, "after_update", after_update)
