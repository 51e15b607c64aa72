"""Per-app state (:class:`AppState`, built once by ``init_app``) and
per-request state (:class:`RequestState`, on ``g``).

"App state" is everything one app's sessions need; "request state" is what
this request knows about its session. Each is reached through one function:
:func:`app_state` and :func:`request_state`.
"""

from __future__ import annotations

import copy
import hashlib
import hmac
import inspect
import typing as t

import sqlalchemy as sa
from flask import Flask
from flask import current_app
from flask import has_request_context
from flask import request
from flask.sessions import SecureCookieSessionInterface

from ..core.anonymous import ALWAYS_ACTIVE
from ..core.anonymous import AnonymousSession
from ..core.anonymous import AnonymousUser
from ..core.anonymous import add_user_mixin
from ..core.config import DEFAULTS
from ..core.config import Settings
from ..core.config import positive
from ..core.config import trusted_origins
from ..core.passwords import PasswordHasher
from ..core.records import Client
from ..core.records import SessionRecord
from ..core.records import clean_header
from ..services.accounts import Accounts
from ..services.activity import Activity
from ..services.ratelimit import ACCOUNT
from ..services.ratelimit import ADDRESS
from ..services.ratelimit import DEVICE
from ..services.ratelimit import NETWORK
from ..services.ratelimit import NEW_SESSIONS
from ..services.ratelimit import PAIR
from ..services.ratelimit import REAUTH_ADDRESS
from ..services.ratelimit import Limiter
from ..services.resets import RESET_ADDRESS
from ..services.resets import RESET_PAIR
from ..services.resets import PasswordResets
from ..services.sessions import Sessions
from ..storage import build as build_storage
from ..storage.events import EventStore
from ..storage.events import create_table as create_event_table
from ..storage.model import IP_LENGTH
from ..storage.model import USER_AGENT_LENGTH
from ..storage.model import create_session_model
from ..storage.verification import Verifications
from . import forwarded
from .cookies import mounted_name
from .devices import KnownDevices
from .location import Locator
from .mail import Mailer

#: Where ``init_app`` keeps the app's :class:`AppState`.
EXTENSION_KEY = "sessionauth"
STATE_KEY = "sessionauth.state"

ANONYMOUS_USER = AnonymousUser()
ANONYMOUS_SESSION = AnonymousSession()
UNSET: t.Any = object()


class AppState:
    """Everything one app's sessions need; the extension object stays app-free."""

    def __init__(self, app: Flask, db: t.Any, user_model: t.Any) -> None:
        config = app.config
        #: An app that names its cookie keeps that name under a mount point.
        self.cookie_name_per_mount = "SESSIONAUTH_COOKIE_NAME" not in config
        for key, value in DEFAULTS.items():
            config.setdefault(key, copy.deepcopy(value))
        if not config.get("SECRET_KEY"):
            raise RuntimeError(
                "flask-sessionauth needs app.config['SECRET_KEY'] (it signs CSRF tokens and keys the "
                "rate-limit counters); set it before calling init_app."
            )
        self.settings = settings = Settings.from_config(config)
        self.trusted_origins = trusted_origins(config["SESSIONAUTH_TRUSTED_ORIGINS"])
        self.devices_per_page = positive(config, "SESSIONAUTH_DEVICES_PER_PAGE")
        self.list_limit = positive(config, "SESSIONAUTH_LIST_LIMIT")
        if settings.cookie_secure and config["SESSIONAUTH_HOST_PREFIX_FLASK_SESSION"]:
            host_prefix_flask_session(app)
        self.db = db
        self.user_model = user_model
        check_setup(app, db, user_model)
        self.model = create_session_model(db, user_model, config["SESSIONAUTH_TABLE_NAME"])
        mapper = sa.inspect(user_model)
        # ``is_active`` as a column is checked inside the session query; as a
        # Python property (Flask-Login's UserMixin) when the user object loads.
        # (Not the always-true one add_user_mixin gave a model without it.)
        active = inspect.getattr_static(user_model, "is_active", None)
        self.check_active_property = "is_active" not in mapper.columns and active not in (None, ALWAYS_ACTIVE)
        self.identity_attr = config["SESSIONAUTH_USER_IDENTITY_FIELD"]
        self.password_attr = config["SESSIONAUTH_PASSWORD_FIELD"]
        for key, attr in (("USER_IDENTITY", self.identity_attr), ("PASSWORD", self.password_attr)):
            if not hasattr(user_model, attr):
                found = ", ".join(sorted(mapper.columns.keys()))
                raise TypeError(
                    f"{user_model.__name__} has no attribute {attr!r} (its columns: {found}); "
                    f"name the right one with SESSIONAUTH_{key}_FIELD."
                )
        add_user_mixin(user_model, mapper.get_property_by_column(mapper.primary_key[0]).key)
        with app.app_context():
            storage = build_storage(config, settings, db, self.model, user_model)
        self.store = storage.store
        self.cookie_cache = storage.cookie_cache
        self.objects = storage.objects
        min_failure = float(config["SESSIONAUTH_PASSWORD_MIN_FAILURE_SECONDS"])
        floor_max = float(config["SESSIONAUTH_PASSWORD_FAILURE_FLOOR_MAX"])
        if not 0 <= min_failure <= floor_max:
            raise ValueError(
                "SESSIONAUTH_PASSWORD_MIN_FAILURE_SECONDS must be between 0 and SESSIONAUTH_PASSWORD_FAILURE_FLOOR_MAX"
            )
        self.hasher = PasswordHasher(
            config["SESSIONAUTH_PASSWORD_SCHEMES"],
            config["SESSIONAUTH_PASSWORD_CONTEXT_OPTIONS"],
            settings.password_min_length,
            settings.password_max_length,
            legacy_verifiers=config["SESSIONAUTH_PASSWORD_LEGACY_VERIFIERS"],
            min_failure_seconds=min_failure,
            max_failure_seconds=floor_max,
        )
        if config["SESSIONAUTH_PASSWORD_UPGRADE"] is False:
            self.hasher.werkzeug_method = "scrypt"
        if config["SESSIONAUTH_PASSWORD_CALIBRATE"]:
            self.hasher.calibrate()
        limits = {
            PAIR: config["SESSIONAUTH_RATE_LIMIT_ACCOUNT"],
            ACCOUNT: config["SESSIONAUTH_RATE_LIMIT_ACCOUNT_TOTAL"],
            ADDRESS: config["SESSIONAUTH_RATE_LIMIT_IP"],
            NETWORK: config["SESSIONAUTH_RATE_LIMIT_IPV6_48"],
            DEVICE: config["SESSIONAUTH_RATE_LIMIT_DEVICE"],
            REAUTH_ADDRESS: config["SESSIONAUTH_RATE_LIMIT_REAUTH_IP"],
            NEW_SESSIONS: config["SESSIONAUTH_RATE_LIMIT_SESSIONS_IP"],
            RESET_ADDRESS: config["SESSIONAUTH_RATE_LIMIT_RESET_IP"],
            RESET_PAIR: config["SESSIONAUTH_RATE_LIMIT_RESET_ACCOUNT"],
        }
        secret: str | bytes = config["SECRET_KEY"]
        raw = secret.encode() if isinstance(secret, str) else secret
        throttle_key = hmac.new(raw, b"flask-sessionauth.throttle", hashlib.sha256).digest()
        window = int(config["SESSIONAUTH_RATE_LIMIT_WINDOW"])
        self.limiter = Limiter(storage.counters, limits, window, throttle_key)
        self.devices = KnownDevices(raw, settings, int(config["SESSIONAUTH_DEVICE_COOKIE_MAX_AGE"]))
        #: Log forwarded headers that arrive while no proxy is trusted (once).
        self.watch_forwarded = not forwarded.install(app, config["SESSIONAUTH_TRUSTED_PROXIES"])
        self.sessions = Sessions(self.store, self.objects, settings, app)
        self.locator = Locator(config)  # location and what a session row keeps of its client
        self.accounts = Accounts(
            db, user_model, self.identity_attr, self.password_attr, self.hasher, self.limiter, self.sessions, app
        )
        self.deployment = storage.deployment
        self.verifications = Verifications(db, storage.deployment.table.metadata)
        reset_key = hmac.new(raw, b"flask-sessionauth.password-reset", hashlib.sha256).digest()
        self.resets = PasswordResets(
            self.accounts,
            self.verifications,
            self.limiter,
            reset_key,
            positive(config, "SESSIONAUTH_RESET_TOKEN_MAX_AGE"),
            bool(config["SESSIONAUTH_REVOKE_SESSIONS_ON_PASSWORD_RESET"]),
            app,
        )
        self.mailer = Mailer(app)
        retention = config["SESSIONAUTH_EVENT_RETENTION"]
        events = EventStore(
            db, create_event_table(user_model.__table__.metadata, user_model), getattr(self.store, "_reader", None)
        )
        self.activity = Activity(
            events,
            self.sessions,
            None if retention is None else int(retention),
            positive(config, "SESSIONAUTH_KNOWN_DEVICE_DAYS"),
        )
        self.clear_site_data: str | None = config["SESSIONAUTH_CLEAR_SITE_DATA"] or None
        self.cleanup_batch_size = int(config["SESSIONAUTH_CLEANUP_BATCH_SIZE"])
        self.api_prefix = str(config["SESSIONAUTH_API_PREFIX"] or "/api/auth")
        self.unauthorized_callback: t.Callable[[], t.Any] | None = None


def check_setup(app: Flask, db: t.Any, user_model: t.Any) -> None:
    """Fail at start, naming the fix, when ``db`` is not set up on ``app``
    (``auth.init_app`` before ``db.init_app``) or the user model is no model."""
    if app.extensions.get("sqlalchemy") is not db:
        raise RuntimeError(
            "flask-sessionauth: this 'db' is not initialised on the app; call db.init_app(app) "
            "(or SQLAlchemy(app)) before SessionAuth.init_app(app)."
        )
    if sa.inspect(user_model, raiseerr=False) is None:
        raise TypeError(f"user_model must be a mapped model class of this db, not {user_model!r}.")


def host_prefix_flask_session(app: Flask) -> None:
    """Rename Flask's default ``session`` cookie to ``__Host-session`` (Secure,
    Path=/, no Domain): it holds the CSRF secret, and a sibling subdomain can
    overwrite a plain cookie but never a ``__Host-`` one. An app that chose
    its own name or a Domain keeps it. With Flask's own cookie sessions, an
    app under a mount point uses ``__Host-session-a`` (:func:`.cookies.mounted_name`),
    so another app on the host cannot replace its CSRF secret."""
    config = app.config
    if config.get("SESSION_COOKIE_NAME", "session") != "session" or config.get("SESSION_COOKIE_DOMAIN"):
        return
    config["SESSION_COOKIE_NAME"] = "__Host-session"
    config["SESSION_COOKIE_SECURE"] = True
    config["SESSION_COOKIE_PATH"] = "/"
    if type(app.session_interface) is SecureCookieSessionInterface:
        app.session_interface = MountedCookieSessionInterface()


class MountedCookieSessionInterface(SecureCookieSessionInterface):
    """Flask's signed-cookie sessions, the cookie named per mount point."""

    def get_cookie_name(self, app: Flask) -> str:
        name = super().get_cookie_name(app)
        script_name = request.environ.get("SCRIPT_NAME") if has_request_context() else None
        return mounted_name(name, script_name) if script_name else name


def app_state() -> AppState:
    """The current app's :class:`AppState`."""
    return t.cast(AppState, current_app.extensions[STATE_KEY])


class CookieAction(t.NamedTuple):
    value: str | None  # None clears the cookie
    max_age: int | None = None


class RequestState:
    """What this request knows about its session; lives on ``g._sessionauth``."""

    __slots__ = (
        "app_state",
        "cookie_name",
        "record",
        "user",
        "session_obj",
        "cookie",
        "accessed",
        "signed_out",
        "verified",
        "device_cookie",
    )

    def __init__(self, app_state: AppState) -> None:
        self.app_state = app_state
        #: The session cookie's name for this request (per mount point, see the hook).
        self.cookie_name = app_state.settings.cookie_name
        self.record: SessionRecord | None = None
        self.user: t.Any = ANONYMOUS_USER
        self.session_obj: t.Any = ANONYMOUS_SESSION
        self.cookie: CookieAction | None = None
        self.accessed = False
        self.signed_out = False
        #: ``(user id, password hash)`` verified by a sign-in in this request.
        self.verified: tuple[t.Any, str] | None = None
        #: The known-device cookie to send with a new session's cookie.
        self.device_cookie: str | None = None

    def set_record(self, record: SessionRecord | None, user: t.Any = UNSET) -> None:
        self.record = record
        self.user = user if record is not None else ANONYMOUS_USER
        self.session_obj = UNSET if record is not None else ANONYMOUS_SESSION

    def clear(self) -> None:
        """Become anonymous and tell the browser to forget its cookie."""
        self.set_record(None)
        self.cookie = CookieAction(None)


def client() -> Client | None:
    """Who is asking, cleaned for storage; ``None`` outside a request."""
    if not has_request_context():
        return None
    state = app_state()
    if state.watch_forwarded and forwarded.warn_if_forwarded(request.headers, request.environ):
        state.watch_forwarded = False
    return Client(
        clean_header(request.remote_addr, IP_LENGTH),
        clean_header(request.headers.get("User-Agent"), USER_AGENT_LENGTH),
    )
