"""Diagnostic only, not part of the product or of the test suite: the
implementation checklist of ``docs/better-auth.md`` applied as WSGI middleware
on top of today's JSON API (error shape and codes, ``token`` fields, User
fields, ``/user/*`` aliases with the GET rule, ``{token}`` for revoke-session,
CORS for trusted origins, cache cookie of ``remember=False`` sessions).

``SESSIONAUTH_BETTER_AUTH_SHIM=1 pytest tests/test_better_auth_client.py``
wraps the test apps with it (and turns the API's CSRF token check off, as
checklist 4.1 does): every test then passes, which shows that the suite's
expectations for flask-sessionauth are consistent and the checklist is enough.
It is a sketch (no HEAD handling, codes guessed from today's codes): delete it
once ``flask_sessionauth/api.py`` implements the checklist.
"""

from __future__ import annotations

import io
import json
import typing as t

from werkzeug.wrappers import Request
from werkzeug.wrappers import Response

CODES = {
    "invalid_credentials": "INVALID_EMAIL_OR_PASSWORD",
    "unauthorized": "UNAUTHORIZED",
    "invalid_password": "INVALID_PASSWORD",
    "fresh_login_required": "SESSION_NOT_FRESH",
    "invalid_body": "VALIDATION_ERROR",
    "unsupported_media_type": "UNSUPPORTED_MEDIA_TYPE",
    "payload_too_large": "PAYLOAD_TOO_LARGE",
    "rate_limited": "TOO_MANY_REQUESTS",
    "not_found": "NOT_FOUND",
    "method_not_allowed": "METHOD_NOT_ALLOWED",
    "storage_unavailable": "STORAGE_UNAVAILABLE",
}
PREFIX = "/api/auth"
ALIASES = {
    "/user/list-sessions",
    "/user/revoke-session",
    "/user/revoke-sessions",
    "/user/revoke-other-sessions",
    "/user/change-password",
}


def fix_user(u: dict[str, t.Any]) -> dict[str, t.Any]:
    u.setdefault("emailVerified", False)
    u.setdefault("image", None)
    u.setdefault("createdAt", None)
    u.setdefault("updatedAt", None)
    return u


def fix_session(s: dict[str, t.Any]) -> dict[str, t.Any]:
    s["token"] = s["id"]
    return s


class Shim:
    def __init__(self, app: t.Any, trusted: t.Iterable[str]) -> None:
        self.app = app
        self.trusted = set(trusted)

    def __call__(self, environ: dict[str, t.Any], start_response: t.Any) -> t.Any:
        req = Request(environ)
        path = req.path
        if not path.startswith(PREFIX):
            return self.app(environ, start_response)
        sub = path[len(PREFIX) :]
        origin = req.headers.get("Origin")
        cors = origin in self.trusted
        if req.method == "OPTIONS" and "Access-Control-Request-Method" in req.headers:
            resp = Response(status=204)
            if cors:
                resp.headers.update(
                    {
                        "Access-Control-Allow-Origin": str(origin),
                        "Access-Control-Allow-Credentials": "true",
                        "Access-Control-Allow-Methods": "GET, POST",
                        "Access-Control-Allow-Headers": "Content-Type",
                        "Access-Control-Max-Age": "600",
                    }
                )
                resp.vary.add("Origin")
            return resp(environ, start_response)
        body = req.get_data()
        if sub in ALIASES:
            sub = sub[len("/user") :]
            environ["PATH_INFO"] = PREFIX + sub
            if req.method == "GET" and sub in {"/revoke-sessions", "/revoke-other-sessions"}:
                mode = req.headers.get("Sec-Fetch-Mode")
                site = req.headers.get("Sec-Fetch-Site")
                ok = mode in (None, "cors", "same-origin") and (
                    site == "same-origin" or (origin and (origin in self.trusted))
                )
                if not ok:
                    return self.error(
                        403, "INVALID_ORIGIN" if origin else "MISSING_OR_NULL_ORIGIN", "refused", origin, cors
                    )(environ, start_response)
                environ["REQUEST_METHOD"] = "POST"
                environ["CONTENT_TYPE"] = "application/json"
                if origin is None:
                    environ["HTTP_ORIGIN"] = f"{req.scheme}://{req.host}"
                body = b"{}"
        if sub == "/revoke-session" and body:
            try:
                data = json.loads(body)
                if isinstance(data, dict) and "token" in data:
                    data["id"] = data.pop("token")
                    body = json.dumps(data).encode()
            except ValueError:
                pass
        if req.headers.get("Origin") == "null":
            return self.error(403, "MISSING_OR_NULL_ORIGIN", "Missing or null Origin", origin, cors)(
                environ, start_response
            )
        environ["wsgi.input"] = io.BytesIO(body)
        environ["CONTENT_LENGTH"] = str(len(body))
        inner = Response.from_app(self.app, environ)
        resp = inner
        ctype = inner.headers.get("Content-Type", "")
        if ctype.startswith("application/json"):
            data = json.loads(inner.get_data() or b"null")
            status = inner.status_code
            if isinstance(data, dict) and isinstance(data.get("error"), dict):
                code = data["error"]["code"]
                msg = data["error"]["message"]
                if code == "forbidden_origin":
                    code = "INVALID_ORIGIN" if origin else "MISSING_OR_NULL_ORIGIN"
                elif code == "password_policy":
                    newp = json.loads(body or b"{}").get("newPassword", "")
                    code = "PASSWORD_TOO_SHORT" if len(newp) < 8 else "PASSWORD_TOO_LONG"
                elif code == "session_not_found" and sub == "/revoke-session":
                    data, status = {"status": True}, 200
                    code = None
                else:
                    code = CODES.get(code, code.upper())
                if code is not None:
                    data = {"code": code, "message": msg}
            elif isinstance(data, dict):
                if "user" in data:
                    fix_user(data["user"])
                if isinstance(data.get("session"), dict):
                    fix_session(data["session"])
                if sub == "/sign-in/email":
                    data = {"redirect": False, "token": None, "user": data["user"], "session": data.get("session")}
                if sub == "/change-password":
                    data["token"] = None
            elif isinstance(data, list):
                for s in data:
                    fix_session(s)
            resp = Response(
                json.dumps(data),
                status=status,
                headers=[(k, v) for k, v in inner.headers if k.lower() != "content-length"],
            )
        if cors:
            resp.headers["Access-Control-Allow-Origin"] = origin
            resp.headers["Access-Control-Allow-Credentials"] = "true"
            resp.vary.add("Origin")
        # remember=False: cache cookie without Max-Age when the session cookie has none
        cookies = resp.headers.getlist("Set-Cookie")
        sess = [c for c in cookies if c.split("=", 1)[0].endswith("sessionauth")]
        if sess and "Max-Age" not in sess[0]:
            fixed = []
            for c in cookies:
                if c.split("=", 1)[0].endswith("sessionauth_cache") and "Max-Age=0" not in c:
                    c = "; ".join(p for p in c.split("; ") if not p.startswith(("Max-Age", "Expires")))
                fixed.append(c)
            resp.headers.remove("Set-Cookie")
            for c in fixed:
                resp.headers.add("Set-Cookie", c)
        return resp(environ, start_response)

    def error(self, status: int, code: str, message: str, origin: str | None, cors: bool) -> Response:
        resp = Response(json.dumps({"code": code, "message": message}), status=status, mimetype="application/json")
        if cors:
            resp.headers["Access-Control-Allow-Origin"] = origin
            resp.headers["Access-Control-Allow-Credentials"] = "true"
        return resp
