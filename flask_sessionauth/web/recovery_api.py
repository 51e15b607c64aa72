"""Better Auth's password reset endpoints: ``requestPasswordReset``
(``POST /request-password-reset`` ``{email, redirectTo}``), ``resetPassword``
(``POST /reset-password`` ``{newPassword, token}``) and the mailed link's
``GET /reset-password/<token>?callbackURL=``, which redirects to the callback
with ``?token=`` (or ``?error=INVALID_TOKEN``). ``redirectTo`` and
``callbackURL`` must be same-site paths or on a trusted origin
(:func:`..glue.recovery.safe_callback`): never an open redirect.
"""

from __future__ import annotations

import typing as t

from flask import current_app
from flask import jsonify
from flask import redirect
from flask import request
from flask import url_for

from ..core import messages
from ..core.errors import InvalidResetToken
from ..core.i18n import _l
from ..glue import recovery
from .wire import InvalidBody
from .wire import json_body
from .wire import string_field


def request_password_reset() -> t.Any:
    body = json_body("email", "redirectTo")
    email = string_field(body, "email")
    redirect_to = body.get("redirectTo")
    if redirect_to is not None and not isinstance(redirect_to, str):
        raise InvalidBody(_l("'%(field)s' must be a string.", field="redirectTo"))
    recovery.request_reset(email, redirect_to)
    return jsonify(status=True, message=str(messages.RESET_REQUESTED))


def reset_password() -> t.Any:
    body = json_body("newPassword", "token")
    token = body.get("token")
    new_password = string_field(body, "newPassword")
    recovery.reset_password(token, new_password)
    return jsonify(status=True)


def reset_password_callback(token: str) -> t.Any:
    """The mailed link: on to ``callbackURL`` with the token, if it still works.
    An unsafe or missing callback goes to the account pages' reset form."""
    callback = recovery.safe_callback(request.args.get("callbackURL"))
    if callback is None:
        if "sessionauth" not in current_app.blueprints:
            raise InvalidBody(_l("'%(field)s' must be a path on this site or a trusted origin.", field="callbackURL"))
        callback = url_for("sessionauth.reset_password")
    try:
        recovery.check_reset_token(token)
    except InvalidResetToken:
        return redirect(recovery.with_query(callback, error="INVALID_TOKEN"))
    return redirect(recovery.with_query(callback, token=token))


#: ``(rule, view, methods, aliased)`` rows for the API's ROUTES.
RECOVERY_ROUTES: tuple[tuple[str, t.Callable[..., t.Any], tuple[str, ...], bool], ...] = (
    ("/request-password-reset", request_password_reset, ("POST",), False),
    ("/reset-password", reset_password, ("POST",), False),
    ("/reset-password/<token>", reset_password_callback, ("GET",), False),
)
