"""CORS for the API, for the origins of ``SESSIONAUTH_TRUSTED_ORIGINS`` only.

Better Auth's client sends ``credentials: "include"`` and JSON bodies, so a
front end on a listed other origin needs, on every answer (errors included,
or its page sees a network ``TypeError`` instead of ``{code, message}``),
``Access-Control-Allow-Origin`` naming it exactly (never ``*``) and
``Access-Control-Allow-Credentials: true``, and a ``204`` to its preflights.
Any other origin gets no ``Access-Control-Allow-*`` header: its preflight
fails in the browser and the real request is never sent. This site's own
origin needs none. The origin check of :mod:`..glue.csrf` runs regardless.
"""

from __future__ import annotations

from flask import current_app
from flask import request
from flask.wrappers import Response

from ..glue.csrf import trusted_origins

#: How long a browser may reuse a preflight's answer, in seconds.
PREFLIGHT_MAX_AGE = 600
#: What the client may send: it uses no other method and no other header.
ALLOW_METHODS = "GET, POST"
ALLOW_HEADERS = "Content-Type"
#: Headers a front end may read (the wait of a 429 or a 503; list-sessions' paging).
EXPOSE_HEADERS = "Retry-After, X-Retry-After, X-Total-Count, Link"


def trusted_request_origin() -> str | None:
    """This request's ``Origin`` if it is a listed trusted origin (exactly)."""
    origin = request.headers.get("Origin")
    return origin if origin is not None and origin in trusted_origins() else None


def add_cors_headers(response: Response) -> Response:
    """The CORS headers of every API answer (``Vary: Origin`` on all of them)."""
    response.vary.add("Origin")
    origin = trusted_request_origin()
    if origin is not None:
        response.headers["Access-Control-Allow-Origin"] = origin
        response.headers["Access-Control-Allow-Credentials"] = "true"
        response.headers["Access-Control-Expose-Headers"] = EXPOSE_HEADERS
    return response


def preflight() -> Response | None:
    """The answer to a CORS preflight (``OPTIONS`` with
    ``Access-Control-Request-Method``), or ``None`` for any other request.
    ``204`` either way; only a trusted origin is told what it may send."""
    if request.method != "OPTIONS" or "Access-Control-Request-Method" not in request.headers:
        return None
    response = current_app.response_class(status=204)
    if trusted_request_origin() is not None:
        response.headers["Access-Control-Allow-Methods"] = ALLOW_METHODS
        response.headers["Access-Control-Allow-Headers"] = ALLOW_HEADERS
        response.headers["Access-Control-Max-Age"] = str(PREFLIGHT_MAX_AGE)
    return response
