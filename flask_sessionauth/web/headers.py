"""Security headers for the account pages.

The pages show where a user is signed in and let them end sessions, so they
are locked down harder than a typical app page: a strict Content-Security-Policy
(no inline script or style, no external resources, no framing), no caching of
the HTML, no referrer leaking session ids from revoke URLs. Static files of the
blueprint are left alone so browsers may cache the stylesheet.
"""

from __future__ import annotations

from flask import Blueprint
from flask import request
from flask.wrappers import Response

#: The policy every account page is sent with. Nothing inline is needed: styles
#: come from the blueprint's stylesheet and icons are inline SVG markup (which
#: CSP does not restrict), so neither a nonce nor ``'unsafe-inline'`` is used.
CONTENT_SECURITY_POLICY = "; ".join(
    [
        "default-src 'none'",
        "style-src 'self'",
        "img-src 'self' data:",
        "script-src 'self'",
        "connect-src 'self'",
        "form-action 'self'",
        "base-uri 'none'",
        "frame-ancestors 'none'",
    ]
)

SECURITY_HEADERS: dict[str, str] = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "same-origin",
    "X-Content-Type-Options": "nosniff",
    "Cross-Origin-Opener-Policy": "same-origin",
    "Cache-Control": "no-store",
}


def apply_security_headers(response: Response) -> Response:
    """Add :data:`SECURITY_HEADERS` to an account page response.

    Headers an application already set on the response win, so an app can
    loosen or tighten a single page from its own ``after_request``-free code
    (e.g. a view that returns a response with its own CSP).
    """
    if request.endpoint is not None and request.endpoint.rpartition(".")[2] == "static":
        return response
    for name, value in SECURITY_HEADERS.items():
        if name == "Cache-Control" or name not in response.headers:
            response.headers[name] = value
    response.vary.add("Cookie")
    response.vary.add("Accept-Language")  # the pages' language follows it
    return response


def init_headers(bp: Blueprint) -> None:
    """Send the security headers on every page of ``bp`` (not its static files)."""
    bp.after_request(apply_security_headers)
