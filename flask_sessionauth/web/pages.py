"""The ``sessionauth`` blueprint: sign-in, devices, password and sudo pages. Views only translate between forms
and :mod:`..glue.actions`; each action is a plain POST form with a CSRF token, answered by a redirect and a flash
(no JavaScript needed). Errors a view does not show go to the app-wide handler (``sessionauth/error.html``)."""

from __future__ import annotations

import typing as t

from flask import Blueprint
from flask import Flask
from flask import current_app
from flask import flash
from flask import redirect
from flask import request
from flask import url_for
from flask.wrappers import Response
from flask_wtf.csrf import CSRFError
from flask_wtf.csrf import generate_csrf
from sqlalchemy.exc import SQLAlchemyError
from werkzeug.exceptions import HTTPException
from werkzeug.exceptions import MethodNotAllowed

from ..core import lifecycle
from ..core import messages
from ..core.errors import InvalidCredentials
from ..core.errors import InvalidPassword
from ..core.errors import NotSignedIn
from ..core.errors import PasswordPolicyError
from ..core.errors import RateLimited
from ..core.errors import SessionRefused
from ..core.presentation import device_label
from ..core.presentation import device_views
from ..core.redirects import safe_redirect
from ..glue import actions
from ..glue.csrf import protect
from ..glue.csrf import secure_cookies_dropped
from ..glue.hook import insecure_transport
from ..glue.proxies import current_session
from ..glue.proxies import current_user
from ..glue.proxies import login_required
from ..glue.proxies import sensitive
from ..glue.responses import error_page
from ..glue.responses import storage_error_response
from ..glue.responses import wants_json
from ..glue.state import app_state
from . import naming
from .activity import add_pages as add_activity_pages
from .forms import ChangePasswordForm
from .forms import ConfirmPasswordForm
from .forms import LoginForm
from .forms import page_number
from .headers import init_headers
from .i18n import install_template_globals
from .recovery_pages import add_recovery_pages
from .render import bind as _form
from .render import page as _page
from .render import rate_limited as _rate_limited
from .resources import resource_dir

if t.TYPE_CHECKING:
    from flask_wtf import FlaskForm


def _account_name() -> str:
    """What the signed-in user is called on the page: their identity (email) field."""
    user = current_user._get_current_object()
    return str(getattr(user, app_state().identity_attr, "") or "") if user else ""


def _api_prefix() -> str | None:
    """The JSON API's URL, or ``None`` when the app did not register it."""
    if "sessionauth_api" not in current_app.blueprints:
        return None
    return request.script_root + app_state().api_prefix


def _next_target() -> str | None:
    """A same-site ``next`` from the query string or form, else ``None``.
    Targets are full paths, ``script_root`` included."""
    target = request.args.get("next") or request.form.get("next")
    return safe_redirect(target, None)


def _home() -> str:
    return url_for(current_app.config["SESSIONAUTH_HOME_ENDPOINT"])


def _csrf_error(error: CSRFError) -> Response:
    if secure_cookies_dropped():  # the real cause, on the page (not only in debug)
        return error_page(400, messages.COOKIES_DROPPED_TITLE, messages.COOKIES_DROPPED.with_values(host=request.host))
    return error_page(400, messages.FORM_EXPIRED_TITLE, messages.FORM_EXPIRED)


def _add_error(form: FlaskForm, name: str, message: str) -> None:
    field = form[name]
    field.errors = [*field.errors, message]


# -- the blueprint ------------------------------------------------------------------


def create_blueprint(app: Flask) -> Blueprint:
    """The account pages (and :mod:`.activity`'s), registered by ``init_app`` under ``SESSIONAUTH_URL_PREFIX``."""
    bp = Blueprint(
        "sessionauth",
        __name__,
        template_folder=resource_dir("templates"),
        static_folder=resource_dir("static"),
        static_url_path="/static",
    )
    # Apps' own pages need the token for their sign-out button; same global as CSRFProtect.
    app.jinja_env.globals.setdefault("csrf_token", generate_csrf)
    # Globals (not context values) so macros imported without context can use them.
    install_template_globals(app)
    bp.before_request(protect)
    bp.register_error_handler(CSRFError, _csrf_error)
    bp.register_error_handler(SQLAlchemyError, storage_error_response)
    init_headers(bp)
    _styled_http_errors(app)

    # App-wide, so an app's own pages can extend the shipped layout too.
    @bp.app_context_processor
    def page_context() -> dict[str, t.Any]:
        return {
            "sessionauth_base": current_app.config["SESSIONAUTH_BASE_TEMPLATE"],
            "sessionauth_account": _account_name(),
            # devices.js enhances the page through the JSON API, when that is registered;
            # the pages work the same without it (plain form posts).
            "sessionauth_api": _api_prefix(),
            "sessionauth_links": current_app.config["SESSIONAUTH_LOGIN_LINKS"],
            "sessionauth_insecure_warning": _insecure_warning(),
        }

    for rule, endpoint, view, methods in (
        ("/login", "login", login, ["GET", "POST"]),
        ("/logout", "logout", logout, ["POST"]),
        ("/devices", "devices", devices, ["GET"]),
        ("/devices/<session_id>/revoke", "revoke", revoke, ["POST"]),
        ("/devices/<session_id>/rename", "rename", naming.rename_device, ["POST"]),
        ("/devices/revoke-others", "revoke_others", revoke_others, ["POST"]),
        ("/devices/revoke-all", "revoke_all", revoke_all, ["POST"]),
        ("/password", "change_password", change_password, ["GET", "POST"]),
        ("/confirm", "confirm", confirm, ["GET", "POST"]),
    ):
        # Account pages always read storage, never the cookie cache.
        bp.add_url_rule(rule, endpoint, sensitive(view), methods=methods)
    add_recovery_pages(bp)
    add_activity_pages(bp)
    return bp


def _styled_http_errors(app: Flask) -> None:
    """404 and 405 under ``SESSIONAUTH_URL_PREFIX`` from the styled error
    template. Routing errors reach no blueprint handler, so this is an app
    handler; elsewhere it answers as Flask would, and a handler the app set
    first is left alone (the API's JSON one chains to this)."""
    prefix = str(app.config["SESSIONAUTH_URL_PREFIX"] or "").rstrip("/")
    if not prefix:  # pages at the root: every 404 of the app is the app's
        return
    for status in (404, 405):
        if status in app.error_handler_spec[None]:
            continue

        def handler(error: HTTPException) -> t.Any:
            path = request.path
            if not (path == prefix or path.startswith(prefix + "/")) or wants_json():
                return error
            title, message = messages.HTTP_ERRORS[error.code or 404]
            response = error_page(error.code or 404, title, message)
            if isinstance(error, MethodNotAllowed) and error.valid_methods:
                response.headers["Allow"] = ", ".join(error.valid_methods)
            return response

        handler.sessionauth_fallback = True  # type: ignore[attr-defined]
        app.register_error_handler(status, handler)


def _insecure_warning() -> str | None:
    """In debug mode, say why sign-in would loop: Secure cookies over plain HTTP
    to a host the browser does not treat as secure."""
    return insecure_transport() if current_app.debug else None


# -- views ---------------------------------------------------------------------------


def login() -> t.Any:
    """Sign in. Unknown emails and wrong passwords get the very same answer."""
    form = _form(LoginForm)
    target = _next_target()
    if request.method == "GET" and actions.is_authenticated():
        return redirect(target or _home())
    context = {"form": form, "next": target}
    if not form.validate_on_submit():
        return _page("sessionauth/login.html", 400 if form.is_submitted() else 200, **context)
    try:
        user = actions.authenticate(form.email.data, form.password.data)
        if user is None:
            raise InvalidCredentials()
        actions.login_user(user, remember=bool(form.remember.data))
    except RateLimited as exc:
        return _rate_limited("sessionauth/login.html", exc, **context)
    except (InvalidCredentials, SessionRefused) as exc:  # one generic message for credentials: no enumeration
        return _page("sessionauth/login.html", exc.status, login_error=exc.message, **context)
    return redirect(target or _home())


def logout() -> t.Any:
    """Sign out this device (POST only, so a link or image cannot do it)."""
    actions.logout_user()
    flash(str(messages.SIGNED_OUT), "success")
    return redirect(url_for("sessionauth.login"))


def _devices_page(status: int = 200, notice: str | None = None) -> tuple[str, int]:
    """One page of devices (``SESSIONAUTH_DEVICES_PER_PAGE``), this device
    first, then the most recently active; how many more follow, and links."""
    per_page = app_state().devices_per_page
    page = page_number()
    listed, total = actions.page_of_sessions(per_page, (page - 1) * per_page, current_first=True)
    more = max(total - (page - 1) * per_page - len(listed), 0)
    sessions = device_views(listed, current_session.id, lifecycle.utcnow(), app_state().settings.activity_resolution)
    context = {
        "sessions": sessions,
        "others": max(total - 1, 0),
        "more": messages.more_devices(more) if more else None,
        "next_page": url_for("sessionauth.devices", page=page + 1) if page * per_page < total else None,
        "first_page": url_for("sessionauth.devices") if page > 1 else None,
        "fresh": actions.is_fresh(),
        "notice": notice,
    }
    return _page("sessionauth/devices.html", status, **context)


@login_required
def devices() -> t.Any:
    return _devices_page()


@login_required
def revoke(session_id: str) -> t.Any:
    """Sign out one device. Not the user's, or already gone (another tab may have signed
    it out): the devices page, with a 404 and a message saying so; nothing changes."""
    target = actions.find_session(session_id)
    if target is None or not actions.revoke(None, [session_id], keep_current=False, reason="revoke"):
        return _devices_page(404, str(messages.ALREADY_SIGNED_OUT))
    if session_id == current_session.id or not actions.is_authenticated():
        flash(str(messages.SIGNED_OUT), "success")
        return redirect(url_for("sessionauth.login"))
    flash(messages.device_signed_out(device_label(target)), "success")
    return redirect(url_for("sessionauth.devices"))


def _finish_sudo_action(action: str) -> t.Any:
    """Run a sensitive action once the session is fresh."""
    if action == "revoke_all":
        count = actions.revoke(None, None, keep_current=False, reason="revoke_all")
        flash(messages.signed_out_everywhere(count), "success")
        return redirect(url_for("sessionauth.login"))
    count = actions.revoke(None, None, keep_current=True, reason="revoke_others")
    flash(messages.signed_out_others(count), "success" if count else "info")
    return redirect(url_for("sessionauth.devices"))


def _sudo(action: str) -> t.Any:
    if not actions.is_fresh():
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
    action = request.values.get("action")
    action = action if action in messages.SUDO_ACTIONS else None
    target = _next_target()
    form = _form(ConfirmPasswordForm)
    label = messages.SUDO_ACTIONS.get(action or "")
    context = {"form": form, "action": action, "action_label": label, "next": target}
    if not form.validate_on_submit():
        return _page("sessionauth/confirm.html", 400 if form.is_submitted() else 200, **context)
    try:
        actions.reauthenticate(form.password.data)
    except RateLimited as exc:
        return _rate_limited("sessionauth/confirm.html", exc, **context)
    except InvalidPassword:
        form.password.errors = [messages.PASSWORD_WRONG]
        return _page("sessionauth/confirm.html", 401, **context)
    except NotSignedIn:  # the session ended meanwhile
        return redirect(url_for("sessionauth.login"))
    if action is not None:
        return _finish_sudo_action(action)
    return redirect(target or _home())


@login_required
def change_password() -> t.Any:
    """Change the password; this device stays signed in (its token is rotated)."""
    form = _form(ChangePasswordForm)
    if not form.validate_on_submit():
        return _page("sessionauth/password.html", 400 if form.is_submitted() else 200, form=form)
    revoke_others_too = bool(form.revoke_other_sessions.data)
    try:
        actions.change_password(
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
    flash(str(messages.PASSWORD_CHANGED_REVOKED if revoke_others_too else messages.PASSWORD_CHANGED), "success")
    return redirect(url_for("sessionauth.devices"))
