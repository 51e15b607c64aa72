"""Every ``SESSIONAUTH_*`` configuration key, its default, and why it exists.

``init_app`` applies these with ``app.config.setdefault`` so an application only
sets what it wants to change. :class:`Settings` is a frozen snapshot read once per
app, so the per-request hook never looks keys up in ``app.config``.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging
import re
import typing as t

log = logging.getLogger("flask_sessionauth")

#: Default values. The README documents each key; keep the two in step.
DEFAULTS: dict[str, t.Any] = {
    # Sliding expiry (Better Auth's ``expiresIn`` / ``updateAge``), in seconds.
    "SESSIONAUTH_EXPIRES_IN": 7 * 24 * 3600,
    "SESSIONAUTH_UPDATE_AGE": 24 * 3600,
    # Never slide the expiry: a session ends EXPIRES_IN after sign-in.
    "SESSIONAUTH_DISABLE_REFRESH": False,
    # Lifetime of a ``remember=False`` session row (browser-session cookie).
    "SESSIONAUTH_SHORT_EXPIRES_IN": 24 * 3600,
    # "Sudo mode": how long after entering the password sensitive actions are allowed
    # (0 = no freshness check, as Better Auth's ``freshAge: 0``).
    "SESSIONAUTH_FRESH_AGE": 3600,
    # Hard cap on a session's life however active it is (None = no cap).
    "SESSIONAUTH_ABSOLUTE_LIFETIME": None,
    # ``last_active_at`` is written at most once per this many seconds (0 = never).
    "SESSIONAUTH_ACTIVITY_RESOLUTION": 300,
    "SESSIONAUTH_COOKIE_NAME": "sessionauth",
    # Secure cookies get the ``__Host-`` prefix (Secure, Path=/, no Domain).
    "SESSIONAUTH_COOKIE_SECURE": True,
    "SESSIONAUTH_COOKIE_SAMESITE": "Lax",
    # Signed short-lived cookie that lets requests skip storage (0 = off).
    "SESSIONAUTH_COOKIE_CACHE_MAX_AGE": 0,
    # Redis secondary storage (None = database only).
    "SESSIONAUTH_REDIS_URL": None,
    "SESSIONAUTH_REDIS_PREFIX": "sessionauth:",
    # What to do when Redis is unreachable: "database" (fall back) or "fail" (503).
    "SESSIONAUTH_REDIS_FALLBACK": "database",
    # Process-local copies of Redis session entries, kept coherent by
    # CLIENT TRACKING: the most entries kept (0 = off).
    "SESSIONAUTH_REDIS_LOCAL_CACHE": 0,
    # A ready client (redis.Redis, RedisCluster, a Sentinel master_for() client)
    # instead of SESSIONAUTH_REDIS_URL.
    "SESSIONAUTH_REDIS_CLIENT": None,
    # Replicas that must confirm a revoke's tombstones (None = 1 for a cluster
    # or Sentinel client, 0 for one server).
    "SESSIONAUTH_REDIS_WAIT_REPLICAS": None,
    # Seconds after a Redis error during which reads are checked against the database.
    "SESSIONAUTH_REDIS_FAILOVER_WINDOW": 30,
    # Names the deployment for Redis keys and the cookie cache (None = a random
    # id stored once in the sessionauth_deployment table).
    "SESSIONAUTH_DEPLOYMENT_ID": None,
    "SESSIONAUTH_URL_PREFIX": "/account",
    "SESSIONAUTH_REGISTER_BLUEPRINT": True,
    "SESSIONAUTH_API_PREFIX": "/api/auth",
    "SESSIONAUTH_REGISTER_API": True,
    # Origins (scheme://host[:port]) allowed to call the JSON API besides our own.
    "SESSIONAUTH_TRUSTED_ORIGINS": [],
    "SESSIONAUTH_BASE_TEMPLATE": "sessionauth/base.html",
    # The name the account pages show in their title and header.
    "SESSIONAUTH_SITE_NAME": "Account",
    # The app's own ``sessionauth`` catalogues, searched before the shipped ones (Flask-Babel).
    "SESSIONAUTH_TRANSLATION_DIRECTORIES": [],
    # Where the sign-in page sends users when there is no safe ``next``.
    "SESSIONAUTH_HOME_ENDPOINT": "sessionauth.devices",
    # Where login_required sends anonymous users: an endpoint or a URL
    # (None = the account pages' sign-in form).
    "SESSIONAUTH_LOGIN_VIEW": None,
    # Password hashing (passlib CryptContext); the first scheme hashes new passwords.
    "SESSIONAUTH_PASSWORD_SCHEMES": ["argon2", "bcrypt", "pbkdf2_sha256"],
    # Extra CryptContext keyword arguments; argon2id with OWASP's minimum parameters.
    "SESSIONAUTH_PASSWORD_CONTEXT_OPTIONS": {
        "argon2__type": "ID",
        "argon2__memory_cost": 19456,
        "argon2__time_cost": 2,
        "argon2__parallelism": 1,
    },
    # Verifiers for password formats outside passlib (``LegacyVerifier``
    # objects); Werkzeug's formats are built in.
    "SESSIONAUTH_PASSWORD_LEGACY_VERIFIERS": [],
    # Every failed password check lasts at least this long (seconds), besides
    # the floor measured from the slowest hash format seen.
    "SESSIONAUTH_PASSWORD_MIN_FAILURE_SECONDS": 0.0,
    # The measured floor never exceeds this (CPU seconds): one slow legacy
    # hash cannot make every failure hold a worker longer.
    "SESSIONAUTH_PASSWORD_FAILURE_FLOOR_MAX": 0.3,
    # Time the configured formats at init_app, so even the first failure of a
    # slow legacy format is padded like the others (costs ~1 s at start-up).
    "SESSIONAUTH_PASSWORD_CALIBRATE": False,
    # Store new hashes with the first scheme (True) or in Werkzeug's
    # generate_password_hash format, so an app's own check_password_hash
    # still reads them (False). None: False with use_flask_login, else True.
    "SESSIONAUTH_PASSWORD_UPGRADE": None,
    "SESSIONAUTH_PASSWORD_MIN_LENGTH": 8,
    "SESSIONAUTH_PASSWORD_MAX_LENGTH": 256,
    # At the cap a new sign-in ends the user's least recently active session
    # (None = no cap). Bounds the rows, the devices page and the API listing.
    "SESSIONAUTH_MAX_SESSIONS_PER_USER": 100,
    # Devices shown per devices page (most recent first; "and N more" below).
    "SESSIONAUTH_DEVICES_PER_PAGE": 50,
    # Default and largest ``limit`` of the API's list-sessions (and the CLI's list).
    "SESSIONAUTH_LIST_LIMIT": 100,
    # Build ``current_user`` from the session read's joined row, without an
    # ORM query, for user models where that is exactly ``db.session.get``
    # (decided at init_app); False: always ``db.session.get``.
    "SESSIONAUTH_USER_FASTPATH": True,
    "SESSIONAUTH_TABLE_NAME": "user_session",
    "SESSIONAUTH_USER_IDENTITY_FIELD": "email",
    "SESSIONAUTH_PASSWORD_FIELD": "password_hash",
    # Sent on sign-out. The default clears only the browser cache: "cookies"
    # would also wipe the app's own cookies (its Flask session, the "signed
    # out" flash) and every cookie of the registrable domain.
    "SESSIONAUTH_CLEAR_SITE_DATA": '"cache"',
    # Give Flask's own session cookie (which holds the CSRF secret) the
    # ``__Host-`` prefix too, so a sibling subdomain cannot overwrite it. Only
    # when our cookie is secure and the app kept Flask's default name.
    "SESSIONAUTH_HOST_PREFIX_FLASK_SESSION": True,
    # Links under the sign-in form, e.g. [("Create an account", "signup")]
    # (label, endpoint or URL).
    "SESSIONAUTH_LOGIN_LINKS": [],
    # Brute-force limits: failures allowed per window per (account, client
    # address) pair, per account from everywhere, and per client address.
    "SESSIONAUTH_RATE_LIMIT_ACCOUNT": 5,
    "SESSIONAUTH_RATE_LIMIT_ACCOUNT_TOTAL": 100,
    "SESSIONAUTH_RATE_LIMIT_IP": 20,
    "SESSIONAUTH_RATE_LIMIT_WINDOW": 900,
    # Failures per IPv6 /48 (besides the per-/64 IP limit), so a network
    # cannot multiply its buckets; per known-device cookie (instead of the
    # limits strangers can fill); per address for password re-entry; and new
    # sessions per address (or per known device) per window.
    "SESSIONAUTH_RATE_LIMIT_IPV6_48": 60,
    "SESSIONAUTH_RATE_LIMIT_DEVICE": 10,
    "SESSIONAUTH_RATE_LIMIT_REAUTH_IP": 50,
    "SESSIONAUTH_RATE_LIMIT_SESSIONS_IP": 30,
    # Lifetime of the known-device cookie set by a successful sign-in (0 = off).
    "SESSIONAUTH_DEVICE_COOKIE_MAX_AGE": 365 * 24 * 3600,
    # Reverse proxies whose X-Forwarded-For is believed: None (none), a hop
    # count (Werkzeug's ProxyFix) or a list of CIDRs.
    "SESSIONAUTH_TRUSTED_PROXIES": None,
    # Approximate location of each new session (country, region, city), and
    # what resolves it: "geoip2fast" (bundled offline data, extra [geoip]),
    # a callable ip -> Location | None, or None; a trusted CDN's country header.
    "SESSIONAUTH_STORE_LOCATION": True,
    "SESSIONAUTH_GEOIP_RESOLVER": "geoip2fast",
    "SESSIONAUTH_GEOIP_HEADER": None,
    "SESSIONAUTH_GEOIP_TIMEOUT": 1.0,
    # What a session row keeps of its client: the address "full", "truncated"
    # (IPv4 /24, IPv6 /48) or "none"; the User-Agent or not.
    "SESSIONAUTH_STORE_IP": "full",
    "SESSIONAUTH_STORE_USER_AGENT": True,
    # Rows deleted per statement by ``cleanup_expired``.
    "SESSIONAUTH_CLEANUP_BATCH_SIZE": 1000,
    # Activity-log events older than this many seconds are deleted by cleanup (None = keep).
    "SESSIONAUTH_EVENT_RETENTION": 90 * 24 * 3600,
    # A sign-in is from a new device unless the account signed in with the same
    # browser, OS and country within this many days (a heuristic for notices).
    "SESSIONAUTH_KNOWN_DEVICE_DAYS": 90,
    # Connections of the hot path's own pool per process (session reads,
    # activity stamps, rate-limit counters), besides the app's pool: the two
    # together bound what a worker process opens.
    "SESSIONAUTH_POOL_SIZE": 5,
    # Mail: an app callable ``send(message)`` (an ``email.message.EmailMessage``);
    # None = Flask-Mailman with the app's ``MAIL_*`` settings (extra ``[mail]``).
    "SESSIONAUTH_MAIL_SEND": None,
    # The origin links in mails are built from (never the request's Host header);
    # None = ``SERVER_NAME`` with ``PREFERRED_URL_SCHEME``, else no link mails.
    "SESSIONAUTH_PUBLIC_URL": None,
    # Lifetime of a mail's "This wasn't me" link, seconds.
    "SESSIONAUTH_REPORT_LINK_MAX_AGE": 7 * 24 * 3600,
    # Lifetime of a password reset link, seconds.
    "SESSIONAUTH_RESET_TOKEN_MAX_AGE": 3600,
    # A password reset by e-mail signs out every session of the account.
    "SESSIONAUTH_REVOKE_SESSIONS_ON_PASSWORD_RESET": True,
    # Every reset request lasts at least this long, account or not (seconds).
    "SESSIONAUTH_RESET_MIN_SECONDS": 0.5,
    # Reset requests per window per address and per (address, account).
    "SESSIONAUTH_RATE_LIMIT_RESET_IP": 10,
    "SESSIONAUTH_RATE_LIMIT_RESET_ACCOUNT": 3,
}


@dataclasses.dataclass(frozen=True)
class Settings:
    """The values the hot path needs, read once from ``app.config``."""

    expires_in: int
    update_age: int
    short_expires_in: int
    short_update_age: int
    disable_refresh: bool
    fresh_age: int
    absolute_lifetime: int | None
    activity_resolution: int
    cookie_name: str
    cookie_secure: bool
    cookie_samesite: str | None
    cookie_cache_max_age: int
    max_sessions_per_user: int | None
    password_min_length: int
    password_max_length: int
    # Derived once (trick #11: the hot path builds no timedelta per request).
    refresh_gap: dt.timedelta = dataclasses.field(init=False)  # expires_in - update_age
    short_refresh_gap: dt.timedelta = dataclasses.field(init=False)
    absolute_delta: dt.timedelta | None = dataclasses.field(init=False)
    activity_delta: dt.timedelta | None = dataclasses.field(init=False)  # None: no touches

    def __post_init__(self) -> None:
        absolute = self.absolute_lifetime
        derived = {
            "refresh_gap": dt.timedelta(seconds=self.expires_in - self.update_age),
            "short_refresh_gap": dt.timedelta(seconds=self.short_expires_in - self.short_update_age),
            "absolute_delta": None if absolute is None else dt.timedelta(seconds=absolute),
            "activity_delta": dt.timedelta(seconds=self.activity_resolution) if self.activity_resolution > 0 else None,
        }
        for name, value in derived.items():
            object.__setattr__(self, name, value)

    @classmethod
    def from_config(cls, config: t.Mapping[str, t.Any]) -> Settings:
        expires_in = int(config["SESSIONAUTH_EXPIRES_IN"])
        update_age = int(config["SESSIONAUTH_UPDATE_AGE"])
        short = int(config["SESSIONAUTH_SHORT_EXPIRES_IN"])
        if expires_in <= 0 or short <= 0:
            raise ValueError("SESSIONAUTH_EXPIRES_IN and SHORT_EXPIRES_IN must be > 0")
        if not 0 <= update_age <= expires_in:
            raise ValueError("SESSIONAUTH_UPDATE_AGE must be between 0 and EXPIRES_IN")
        secure = bool(config["SESSIONAUTH_COOKIE_SECURE"])
        name = str(config["SESSIONAUTH_COOKIE_NAME"])
        absolute = config["SESSIONAUTH_ABSOLUTE_LIFETIME"]
        max_sessions = config["SESSIONAUTH_MAX_SESSIONS_PER_USER"]
        if max_sessions is not None:
            max_sessions = positive(config, "SESSIONAUTH_MAX_SESSIONS_PER_USER")
        return cls(
            expires_in=expires_in,
            update_age=update_age,
            short_expires_in=short,
            # The short session slides by the same fraction of its life.
            short_update_age=update_age * short // expires_in,
            disable_refresh=bool(config["SESSIONAUTH_DISABLE_REFRESH"]),
            fresh_age=int(config["SESSIONAUTH_FRESH_AGE"]),
            absolute_lifetime=None if absolute is None else int(absolute),
            activity_resolution=int(config["SESSIONAUTH_ACTIVITY_RESOLUTION"]),
            cookie_name=f"__Host-{name}" if secure else name,
            cookie_secure=secure,
            cookie_samesite=config["SESSIONAUTH_COOKIE_SAMESITE"],
            cookie_cache_max_age=int(config["SESSIONAUTH_COOKIE_CACHE_MAX_AGE"]),
            max_sessions_per_user=max_sessions,
            password_min_length=int(config["SESSIONAUTH_PASSWORD_MIN_LENGTH"]),
            password_max_length=int(config["SESSIONAUTH_PASSWORD_MAX_LENGTH"]),
        )


def configuration_error(message: str) -> ValueError:
    """A setting ``init_app`` refuses: logged (a deployment's logs say what
    is wrong even when the traceback goes elsewhere) and raised."""
    log.error("flask-sessionauth configuration: %s", message)
    return ValueError(message)


def positive(config: t.Mapping[str, t.Any], key: str) -> int:
    """``config[key]`` as an integer of at least 1."""
    value = config[key]
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise configuration_error(f"{key} must be a whole number of at least 1, not {value!r}.")
    return value


# scheme://host[:port], as a browser serialises an ``Origin`` header: lower
# case, no path, query, fragment or user info, no wildcard.
_ORIGIN = re.compile(r"(https?)://([a-z0-9.-]+|\[[0-9a-f:.]+\])(?::([0-9]{1,5}))?")
_DEFAULT_PORTS = {"http": "80", "https": "443"}


def trusted_origins(value: t.Any) -> frozenset[str]:
    """``SESSIONAUTH_TRUSTED_ORIGINS`` checked at ``init_app``: each entry must
    be exactly what a browser sends as ``Origin`` (one trailing ``/`` is
    forgiven), since anything else either never matches (a path, upper case, a
    default port) or matches what it must not (``"null"`` is the origin of
    every sandboxed iframe and ``file:`` page; ``"*"`` would be everyone)."""
    entries = [value] if isinstance(value, str) else list(value or [])
    origins = set()
    for entry in entries:
        origin = entry[:-1] if isinstance(entry, str) and entry.endswith("/") else entry
        match = _ORIGIN.fullmatch(origin) if isinstance(origin, str) else None
        if match is None or _DEFAULT_PORTS[match[1]] == match[3] or not 0 < int(match[3] or 1) < 65536:
            raise configuration_error(
                f"SESSIONAUTH_TRUSTED_ORIGINS entry {entry!r} is not an origin: write it as a browser sends "
                "it, scheme://host[:port] in lower case (e.g. 'https://app.example.com'), without a path, "
                "a default port, a wildcard or 'null'."
            )
        origins.add(origin)
    return frozenset(origins)
