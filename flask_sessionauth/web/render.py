"""What every account page view does the same way: bind a form, render a page,
answer a rate limit."""

from __future__ import annotations

import typing as t

from flask import current_app
from flask import render_template
from flask import request
from flask.wrappers import Response

from ..core.errors import RateLimited

if t.TYPE_CHECKING:
    from flask_wtf import FlaskForm

F = t.TypeVar("F", bound="FlaskForm")


def page(template: str, status: int = 200, **context: t.Any) -> tuple[str, int]:
    return render_template(template, **context), status


def rate_limited(template: str, exc: RateLimited, **context: t.Any) -> Response:
    response = current_app.make_response(page(template, 429, rate_limit=exc.message, **context))
    response.headers["Retry-After"] = str(exc.retry_after)
    return response


def bind(cls: type[F]) -> F:
    """Bind ``cls`` to the posted form fields only. Flask-WTF would otherwise parse a
    JSON body (and a deeply nested one raises RecursionError, a 500); these pages
    are HTML forms, so a JSON post simply fails validation."""
    return t.cast(F, cls(formdata=request.form if request.method == "POST" else None))
