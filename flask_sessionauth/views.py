"""The ``sessionauth`` blueprint: sign-in, active devices, password and sudo pages.

Views only translate between HTTP and the extension's public API
(``current_app.extensions["sessionauth"]``); every rule about sessions lives
there. Pages work without JavaScript: each action is a plain POST form with a
CSRF token, answered by a redirect and a flash message.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import functools
import os
import typing as t

from flask import Blueprint
from flask import Flask
from flask import abort
from flask import current_app
from flask import flash
from flask import redirect
from flask import render_template
from flask import request
from flask import url_for
from flask.wrappers import Response
from flask_wtf.csrf import CSRFError
from flask_wtf.csrf import generate_csrf
from flask_wtf.csrf import validate_csrf
from markupsafe import Markup
from wtforms.validators import ValidationError

from . import lifecycle
from .context import current_session
from .context import current_user
from .context import extension
from .context import login_required
from .exceptions import InvalidPassword
from .exceptions import PasswordPolicyError
from .exceptions import RateLimited
from .exceptions import SessionAuthError
from .exceptions import StorageUnavailable
from .forms import ChangePasswordForm
from .forms import ConfirmPasswordForm
from .forms import LoginForm
from .headers import init_headers
from .redirects import safe_redirect
from .useragent import describe

if t.TYPE_CHECKING:
    from flask_wtf import FlaskForm

_PACKAGE_DIR = os.path.dirname(os.path.abspath(__file__))

#: Sensitive actions the confirm page can finish after the password is entered.
SUDO_ACTIONS: dict[str, str] = {
    "revoke_others": "sign out of all other devices",
    "revoke_all": "sign out everywhere",
}


def resource_dir(name: str) -> str:
    """``templates`` or ``static``: inside the package in a wheel install (setup.cfg
    maps the repo's top-level folders there), else the repository's top level
    (editable install or plain checkout)."""
    packaged = os.path.join(_PACKAGE_DIR, name)
    if os.path.isdir(packaged):
        return packaged
    return os.path.join(os.path.dirname(_PACKAGE_DIR), name)


# -- presentation helpers -----------------------------------------------------------


@functools.lru_cache(maxsize=32)
def _read_icon(path: str) -> str:
    with open(path, encoding="utf-8") as f:
        return f.read().strip()


def icon(name: str) -> Markup:
    """Inline SVG from ``static/sessionauth/icons`` so it follows ``currentColor``
    (light and dark themes) without an ``<img>`` per icon."""
    if not name.replace("-", "").isalnum():
        raise ValueError(f"bad icon name {name!r}")
    folder = current_app.blueprints["sessionauth"].static_folder
    assert folder is not None
    return Markup(_read_icon(os.path.join(folder, "sessionauth", "icons", f"{name}.svg")))


def relative_time(when: dt.datetime, now: dt.datetime) -> str:
    """ "Active now", "5 minutes ago", "3 hours ago", "yesterday", "4 days ago", or a date.

    Activity is stamped at most once per ``SESSIONAUTH_ACTIVITY_RESOLUTION``, so
    anything within that window (at least five minutes) reads as "Active now".
    """
    seconds = max((now - when).total_seconds(), 0)
    resolution = max(int(current_app.config["SESSIONAUTH_ACTIVITY_RESOLUTION"] or 0), 300)
    if seconds < resolution:
        return "Active now"
    minutes = int(seconds // 60)
    if minutes < 60:
        return f"{minutes} minutes ago"
    hours = minutes // 60
    if hours < 24:
        return "1 hour ago" if hours == 1 else f"{hours} hours ago"
    days = hours // 24
    if days == 1:
        return "yesterday"
    if days < 30:
        return f"{days} days ago"
    return f"on {format_date(when)}"


def format_date(when: dt.datetime) -> str:
    """ "Nov 27, 2026": unambiguous in every locale, unlike 11/27/2026."""
    return f"{when:%b} {when.day}, {when.year}"


def format_exact(when: dt.datetime) -> str:
    return when.astimezone(dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")


@dataclasses.dataclass(frozen=True)
class SessionView:
    """What a device card shows; templates that override ``devices.html`` get a
    list of these as ``sessions`` (the ``UserSession`` itself is ``.session``)."""

    session: t.Any
    id: str
    name: str
    kind: str
    icon: str
    is_current: bool
    ip_address: str | None
    signed_in: str
    signed_in_iso: str
    signed_in_title: str
    last_active: str
    last_active_iso: str
    last_active_title: str

    @classmethod
    def build(cls, obj: t.Any, current_id: str | None, now: dt.datetime) -> SessionView:
        device = describe(obj.user_agent)
        is_current = obj.id == current_id
        # The current device is making this very request.
        last = now if is_current else (obj.last_active_at or obj.updated_at or obj.created_at)
        kind = device.kind if device.kind in ("desktop", "phone", "tablet") else "desktop"
        return cls(
            session=obj,
            id=obj.id,
            name=device.name,
            kind=device.kind,
            icon=kind,
            is_current=is_current,
            ip_address=obj.ip_address,
            signed_in=format_date(obj.created_at),
            signed_in_iso=obj.created_at.isoformat(),
            signed_in_title=format_exact(obj.created_at),
            last_active="Active now" if is_current else relative_time(last, now),
            last_active_iso=last.isoformat(),
            last_active_title=format_exact(last),
        )


def _account_name() -> str:
    """What the signed-in user is called on the page: their identity (email) field."""
    user = current_user._get_current_object()
    if not user:
        return ""
    return str(getattr(user, current_app.config["SESSIONAUTH_USER_IDENTITY_FIELD"], "") or "")


def _api_prefix() -> str | None:
    """The JSON API's URL prefix, or ``None`` when the app did not register it."""
    from .api import BLUEPRINT_NAME

    if BLUEPRINT_NAME not in current_app.blueprints:
        return None
    return request.script_root + str(current_app.config["SESSIONAUTH_API_PREFIX"])


def _next_target() -> str | None:
    """A same-site ``next`` from the query string or form, else ``None``."""
    target = request.args.get("next") or request.form.get("next")
    return safe_redirect(target, None)


def _home() -> str:
    return url_for(current_app.config["SESSIONAUTH_HOME_ENDPOINT"])


def _page(template: str, status: int = 200, **context: t.Any) -> tuple[str, int]:
    return render_template(template, **context), status


def _rate_limited(template: str, exc: RateLimited, **context: t.Any) -> Response:
    response = current_app.make_response(_page(template, 429, rate_limit=exc.message, **context))
    response.headers["Retry-After"] = str(int(exc.retry_after))
    return response


F = t.TypeVar("F", bound="FlaskForm")


def _form(cls: type[F]) -> F:
    """Bind ``cls`` to the posted form fields only. Flask-WTF would otherwise parse a
    JSON body (and a deeply nested one raises RecursionError, a 500); these pages
    are HTML forms, so a JSON post simply fails validation."""
    return t.cast(F, cls(formdata=request.form if request.method == "POST" else None))


def _require_csrf() -> None:
    """Refuse any state-changing request without a valid CSRF token (400),
    before a form or the database is touched."""
    if request.method in ("GET", "HEAD", "OPTIONS"):
        return
    if not current_app.config.get("WTF_CSRF_ENABLED", True):
        return
    field = current_app.config.get("WTF_CSRF_FIELD_NAME", "csrf_token")
    try:
        validate_csrf(request.form.get(field) or request.headers.get("X-CSRFToken"))
    except ValidationError as exc:
        raise CSRFError(exc.args[0]) from exc


def _csrf_error(error: CSRFError) -> tuple[str, int]:
    return _page(
        "sessionauth/error.html",
        400,
        title="This form has expired",
        message="For your security the page timed out. Go back, reload the page and try again.",
    )


# -- the blueprint ------------------------------------------------------------------


def create_blueprint(app: Flask) -> Blueprint:
    """The account pages, registered by ``init_app`` under ``SESSIONAUTH_URL_PREFIX``."""
    bp = Blueprint(
        "sessionauth",
        __name__,
        template_folder=resource_dir("templates"),
        static_folder=resource_dir("static"),
        static_url_path="/static",
    )
    # Apps' own pages need the token for their sign-out button; same global as CSRFProtect.
    app.jinja_env.globals.setdefault("csrf_token", generate_csrf)
    # A global (not a context value) so macros imported without context can use it.
    app.jinja_env.globals["sessionauth_icon"] = icon
    bp.before_request(_require_csrf)
    bp.register_error_handler(CSRFError, _csrf_error)
    init_headers(bp)

    # App-wide, so an app's own pages can extend the shipped layout too.
    @bp.app_context_processor
    def page_context() -> dict[str, t.Any]:
        return {
            "sessionauth_base": current_app.config["SESSIONAUTH_BASE_TEMPLATE"],
            "sessionauth_account": _account_name(),
            # devices.js enhances the page through the JSON API, when that is registered;
            # the pages work the same without it (plain form posts).
            "sessionauth_api": _api_prefix(),
        }

    bp.add_url_rule("/login", "login", login, methods=["GET", "POST"])
    bp.add_url_rule("/logout", "logout", logout, methods=["POST"])
    bp.add_url_rule("/devices", "devices", devices)
    bp.add_url_rule("/devices/<session_id>/revoke", "revoke", revoke, methods=["POST"])
    bp.add_url_rule("/devices/revoke-others", "revoke_others", revoke_others, methods=["POST"])
    bp.add_url_rule("/devices/revoke-all", "revoke_all", revoke_all, methods=["POST"])
    bp.add_url_rule("/password", "change_password", change_password, methods=["GET", "POST"])
    bp.add_url_rule("/confirm", "confirm", confirm, methods=["GET", "POST"])
    return bp


# -- views ---------------------------------------------------------------------------


def login() -> t.Any:
    """Sign in. Unknown emails and wrong passwords get the very same answer."""
    auth = extension()
    form = _form(LoginForm)
    target = _next_target()
    if request.method == "GET" and auth.is_authenticated():
        return redirect(target or _home())
    context = {"form": form, "next": target}
    if not form.validate_on_submit():
        return _page("sessionauth/login.html", 400 if form.is_submitted() else 200, **context)
    try:
        user = auth.authenticate(form.email.data, form.password.data)
        if user is not None:
            auth.login_user(user, remember=bool(form.remember.data))
    except RateLimited as exc:
        return _rate_limited("sessionauth/login.html", exc, **context)
    except StorageUnavailable:
        raise  # the extension's 503 page, never "incorrect password"
    except SessionAuthError:
        user = None  # a disabled account reads like any failed sign-in
    if user is None:
        return _page("sessionauth/login.html", 401, login_error="Incorrect email or password.", **context)
    return redirect(target or _home())


def logout() -> t.Any:
    """Sign out this device (POST only, so a link or image cannot do it)."""
    extension().logout_user()
    flash("You have been signed out.", "success")
    return redirect(url_for("sessionauth.login"))


@login_required
def devices() -> t.Any:
    auth = extension()
    current_id = current_session.id
    now = lifecycle.utcnow()
    views = [SessionView.build(obj, current_id, now) for obj in auth.list_sessions()]
    # This device first (it is active right now), then the rest, newest activity first.
    views.sort(key=lambda v: not v.is_current)
    others = sum(not v.is_current for v in views)
    return render_template("sessionauth/devices.html", sessions=views, others=others, fresh=auth.is_fresh())


@login_required
def revoke(session_id: str) -> t.Any:
    """Sign out one device. Not the user's (or unknown) → 404, nothing changes."""
    auth = extension()
    target = next((s for s in auth.list_sessions() if s.id == session_id), None)
    if target is None or not auth.revoke_session(session_id):
        abort(404)
    if session_id == current_session.id or not auth.is_authenticated():
        flash("You have been signed out.", "success")
        return redirect(url_for("sessionauth.login"))
    flash(f"{describe(target.user_agent).name} has been signed out.", "success")
    return redirect(url_for("sessionauth.devices"))


def _finish_sudo_action(action: str) -> t.Any:
    """Run a sensitive action once the session is fresh."""
    auth = extension()
    if action == "revoke_all":
        count = auth.revoke_sessions()
        flash(f"You have been signed out everywhere ({_devices(count)}).", "success")
        return redirect(url_for("sessionauth.login"))
    count = auth.revoke_other_sessions()
    if count:
        flash(f"Signed out of {_devices(count)}. Only this device is still signed in.", "success")
    else:
        flash("No other devices were signed in.", "info")
    return redirect(url_for("sessionauth.devices"))


def _devices(count: int) -> str:
    return "1 device" if count == 1 else f"{count} devices"


def _sudo(action: str) -> t.Any:
    if not extension().is_fresh():
        return redirect(url_for("sessionauth.confirm", action=action))
    return _finish_sudo_action(action)


@login_required
def revoke_others() -> t.Any:
    return _sudo("revoke_others")


@login_required
def revoke_all() -> t.Any:
    return _sudo("revoke_all")


@login_required
def confirm() -> t.Any:
    """Sudo mode: re-enter the password, then finish ``action`` or go to ``next``."""
    auth = extension()
    action = request.values.get("action")
    action = action if action in SUDO_ACTIONS else None
    target = _next_target()
    form = _form(ConfirmPasswordForm)
    context = {"form": form, "action": action, "action_label": SUDO_ACTIONS.get(action or ""), "next": target}
    if not form.validate_on_submit():
        return _page("sessionauth/confirm.html", 400 if form.is_submitted() else 200, **context)
    try:
        auth.reauthenticate(form.password.data)
    except RateLimited as exc:
        return _rate_limited("sessionauth/confirm.html", exc, **context)
    except InvalidPassword:
        form.password.errors = ["The password is incorrect."]
        return _page("sessionauth/confirm.html", 401, **context)
    except StorageUnavailable:
        raise
    except SessionAuthError:  # the session ended meanwhile
        return redirect(url_for("sessionauth.login"))
    if action is not None:
        return _finish_sudo_action(action)
    return redirect(target or _home())


@login_required
def change_password() -> t.Any:
    """Change the password; this device stays signed in (its token is rotated)."""
    auth = extension()
    form = _form(ChangePasswordForm)
    if not form.validate_on_submit():
        return _page("sessionauth/password.html", 400 if form.is_submitted() else 200, form=form)
    revoke_others_too = bool(form.revoke_other_sessions.data)
    try:
        auth.change_password(
            current_user._get_current_object(),
            form.current_password.data,
            form.new_password.data,
            revoke_other_sessions=revoke_others_too,
            confirm_password=form.confirm_password.data,
        )
    except RateLimited as exc:
        return _rate_limited("sessionauth/password.html", exc, form=form)
    except InvalidPassword as exc:
        _add_error(form, "current_password", exc.message)
        return _page("sessionauth/password.html", 400, form=form)
    except PasswordPolicyError as exc:
        _add_error(form, "new_password", exc.message)
        return _page("sessionauth/password.html", 400, form=form)
    if revoke_others_too:
        flash("Your password has been changed and all other devices were signed out.", "success")
    else:
        flash("Your password has been changed.", "success")
    return redirect(url_for("sessionauth.devices"))


def _add_error(form: FlaskForm, name: str, message: str) -> None:
    field = form[name]
    field.errors = [*field.errors, message]
