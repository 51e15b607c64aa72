"""What each ``SESSIONAUTH_*`` key means: the one text of the configuration reference.

:data:`.config.DEFAULTS` holds each key and its default; this module says what
the key does, in one line of Markdown. The documentation's configuration page
is generated from the two (``docs/_ext/sessionauth_docs.py``), and
``tests/test_config_docs.py`` checks that README's configuration table has
exactly these keys, defaults and meanings, in this order, so the three cannot
drift: ``python scripts/config_table.py`` prints the README table.
"""

from __future__ import annotations

#: Key → meaning (Markdown), in the order of ``DEFAULTS``.
DOCS: dict[str, str] = {
    "SESSIONAUTH_EXPIRES_IN": "session lifetime after the last refresh, seconds",
    "SESSIONAUTH_UPDATE_AGE": "how often use slides the expiry",
    "SESSIONAUTH_DISABLE_REFRESH": "never slide: sessions end `EXPIRES_IN` after sign-in",
    "SESSIONAUTH_SHORT_EXPIRES_IN": "row lifetime of a `remember=False` session",
    "SESSIONAUTH_FRESH_AGE": "sudo window after entering the password; `0` = no freshness check (sudo mode off), as Better Auth's `freshAge: 0`",
    "SESSIONAUTH_ABSOLUTE_LIFETIME": "hard cap from sign-in, however active (seconds)",
    "SESSIONAUTH_ACTIVITY_RESOLUTION": "`last_active_at` written at most this often; 0 = off",
    "SESSIONAUTH_COOKIE_NAME": "cookie name (`__Host-` is prefixed when secure); unless set, an app under a mount point `/a` appends `-a` (see Cookie)",
    "SESSIONAUTH_COOKIE_SECURE": "Secure cookie with the `__Host-` prefix",
    "SESSIONAUTH_COOKIE_SAMESITE": "SameSite attribute",
    "SESSIONAUTH_COOKIE_CACHE_MAX_AGE": "signed cookie cache lifetime (0 = off); also the revocation delay, and `SECRET_KEY` becomes an impersonation key for it (see Storage)",
    "SESSIONAUTH_REDIS_URL": "Redis secondary storage (None = database only)",
    "SESSIONAUTH_REDIS_PREFIX": "key prefix in Redis (each app adds a namespace of its own, see Storage)",
    "SESSIONAUTH_REDIS_FALLBACK": 'Redis down: `"database"` (read the DB) or `"fail"` (503)',
    "SESSIONAUTH_DEPLOYMENT_ID": "names the deployment for Redis keys and the cookie cache; `None` = a random id stored once in the `sessionauth_deployment` table. Set it (the same in every process, unique per database) to do without that table",
    "SESSIONAUTH_URL_PREFIX": "where the account pages live",
    "SESSIONAUTH_REGISTER_BLUEPRINT": "register the account pages",
    "SESSIONAUTH_API_PREFIX": "where the JSON API lives",
    "SESSIONAUTH_REGISTER_API": "register the JSON API",
    "SESSIONAUTH_TRUSTED_ORIGINS": 'extra origins allowed to call the JSON API (exact matches; they also get CORS with credentials); each exactly `scheme://host[:port]`, checked at `init_app` (`"null"`, `"*"`, paths refused)',
    "SESSIONAUTH_BASE_TEMPLATE": "layout the account pages extend",
    "SESSIONAUTH_SITE_NAME": "your site's name in the account pages' title and header (text, escaped)",
    "SESSIONAUTH_HOME_ENDPOINT": "where sign-in goes without a safe `next`",
    "SESSIONAUTH_LOGIN_VIEW": 'where `login_required` sends anonymous users (with `?next=`): an endpoint (`"login"`) or a URL; `None` = `sessionauth.login`',
    "SESSIONAUTH_PASSWORD_SCHEMES": "first hashes, the rest verify and upgrade",
    "SESSIONAUTH_PASSWORD_CONTEXT_OPTIONS": "extra `CryptContext` arguments",
    "SESSIONAUTH_PASSWORD_LEGACY_VERIFIERS": "`LegacyVerifier` objects for formats outside passlib (Werkzeug's are built in)",
    "SESSIONAUTH_PASSWORD_MIN_FAILURE_SECONDS": "every failed password check lasts at least this long",
    "SESSIONAUTH_PASSWORD_FAILURE_FLOOR_MAX": "cap (seconds) on the measured failure floor: what a failure on the current format may wait for a slower legacy one",
    "SESSIONAUTH_PASSWORD_CALIBRATE": "time the usual legacy formats at `init_app` (~1 s) and keep them in the floor, so a legacy account's first failure is padded too",
    "SESSIONAUTH_PASSWORD_UPGRADE": "`True`: new and upgraded hashes use the first scheme (argon2id); `False`: Werkzeug's `generate_password_hash` format (scrypt), so an app's own `check_password_hash` still reads them; `None` = `False` with `use_flask_login`, else `True` (see the Flask-Login migration guide)",
    "SESSIONAUTH_PASSWORD_MIN_LENGTH": "shortest new password",
    "SESSIONAUTH_PASSWORD_MAX_LENGTH": "longest password; longer is an error, never truncated",
    "SESSIONAUTH_MAX_SESSIONS_PER_USER": "at the cap a new login ends the least recently active; `None` = no cap",
    "SESSIONAUTH_DEVICES_PER_PAGE": 'devices per devices page (this device first, "and N more", `?page=N`)',
    "SESSIONAUTH_LIST_LIMIT": "default and largest `limit` of the API's `list-sessions`; the CLI's `list` default",
    "SESSIONAUTH_USER_FASTPATH": "build `current_user` from the session read's joined row (no ORM query) where that is exactly what `db.session.get` returns: a plain mapping (no inheritance, composites, deferred or expression columns, version counter, eager relationships, numeric columns) and no load or session listeners that would tell; other models always use `db.session.get`; `False`: every model does",
    "SESSIONAUTH_TABLE_NAME": "session table name",
    "SESSIONAUTH_USER_IDENTITY_FIELD": "user attribute used to sign in",
    "SESSIONAUTH_PASSWORD_FIELD": "user attribute holding the hash",
    "SESSIONAUTH_CLEAR_SITE_DATA": '`Clear-Site-Data` on sign-out; `"cookies"` would also wipe the app\'s own cookies and flash message; `None` = off',
    "SESSIONAUTH_HOST_PREFIX_FLASK_SESSION": "rename Flask's default `session` cookie to `__Host-session` (when our cookie is secure)",
    "SESSIONAUTH_LOGIN_LINKS": 'links under the sign-in form: `[("Create an account", "signup")]` (label, endpoint or URL)',
    "SESSIONAUTH_RATE_LIMIT_ACCOUNT": "failed password checks per account and client address per window",
    "SESSIONAUTH_RATE_LIMIT_ACCOUNT_TOTAL": "failed password checks per account from all addresses per window",
    "SESSIONAUTH_RATE_LIMIT_IP": "failed password checks per IP per window",
    "SESSIONAUTH_RATE_LIMIT_WINDOW": "rate-limit window, seconds",
    "SESSIONAUTH_RATE_LIMIT_IPV6_48": "failed password checks per IPv6 /48 per window (besides the per-/64 `RATE_LIMIT_IP`)",
    "SESSIONAUTH_RATE_LIMIT_DEVICE": "failed password checks (and new sessions) per known-device cookie per window; it replaces the limits strangers can fill",
    "SESSIONAUTH_RATE_LIMIT_REAUTH_IP": "failed password re-entries (sudo confirm, password change) per address per window",
    "SESSIONAUTH_RATE_LIMIT_SESSIONS_IP": "new sessions per address per window (a known device counts against its own limit)",
    "SESSIONAUTH_DEVICE_COOKIE_MAX_AGE": "lifetime of the known-device cookie set by a successful sign-in; `0` = off",
    "SESSIONAUTH_TRUSTED_PROXIES": "reverse proxies whose `X-Forwarded-For` is believed: a hop count (`ProxyFix`) or a list of CIDRs; see Client IP",
    "SESSIONAUTH_CLEANUP_BATCH_SIZE": "rows per `DELETE` in `cleanup_expired`",
    "SESSIONAUTH_EVENT_RETENTION": "activity-log events older than this (seconds) are deleted by `flask sessionauth cleanup`; `None` = keep them",
    "SESSIONAUTH_KNOWN_DEVICE_DAYS": "a sign-in is from a new device (event flag, `new_device_sign_in` signal) unless the account signed in with the same browser family, OS family and country within this many days; a heuristic, never a security boundary",
    "SESSIONAUTH_POOL_SIZE": "connections of the hot path's own pool per process, besides the app's pool; the two bound what a worker opens (see Storage, \"Connection budget\")",
}
