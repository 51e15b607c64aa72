"""The served OpenAPI description matches the API: schemathesis drives the app.

For every operation, schemathesis generates requests from the description
(valid ones, and invalid ones), sends them to the app as three kinds of caller
(a stranger that says nothing about its origin, an anonymous browser on the
site's origin, a signed-in browser) and checks that nothing answers 5xx and
that every status, content type, header and body is one the description declares.
"""

from __future__ import annotations

import re
import typing as t

import pytest
import schemathesis
from flask import Flask
from hypothesis import HealthCheck
from hypothesis import given
from hypothesis import settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import content_type_conformance
from schemathesis.specs.openapi.checks import response_headers_conformance
from schemathesis.specs.openapi.checks import response_schema_conformance
from schemathesis.specs.openapi.checks import status_code_conformance

from tests.conftest import User
from tests.conftest import db
from tests.helpers import API
from tests.helpers import ORIGIN

CONFORMANCE = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
]
POSTS = [
    "/revoke-session",
    "/update-session-name",
    "/revoke-sessions",
    "/revoke-other-sessions",
    "/change-password",
    "/sign-in/email",
    "/sign-out",
    "/request-password-reset",
    "/reset-password",
]
ALIASED = ["/list-sessions", "/revoke-session", "/revoke-sessions", "/revoke-other-sessions", "/change-password"]
GET_ALIASES = ["/user/revoke-sessions", "/user/revoke-other-sessions"]
OPERATIONS = [
    ("GET", "/get-session"),
    ("GET", "/list-sessions"),
    ("GET", "/list-activity"),
    ("GET", "/csrf-token"),
    *(("POST", path) for path in POSTS),
    ("GET", "/user/list-sessions"),
    *(("POST", f"/user{path}") for path in ALIASED if path != "/list-sessions"),
    *(("GET", path) for path in GET_ALIASES),
    ("GET", "/reset-password/{token}"),
]
#: CORS preflights, for every path a JSON POST goes to.
PREFLIGHTS = [("OPTIONS", path) for method, path in OPERATIONS if method == "POST"]
WITH_BODY = {f"{user}{path}" for path in POSTS if path != "/sign-out" for user in ("", "/user")}
# Operations a signed-in caller can complete with generated data alone.
SUCCEEDS_SIGNED_IN = {
    "/get-session",
    "/list-sessions",
    "/list-activity",
    "/revoke-session",
    "/revoke-sessions",
    "/revoke-other-sessions",
    "/sign-out",
    *(f"/user{path}" for path in ("/list-sessions", "/revoke-session", "/revoke-sessions", "/revoke-other-sessions")),
}
CALLERS = ["stranger", "anonymous", "signed_in"]


@pytest.fixture
def app_config() -> dict[str, t.Any]:
    return {"SESSIONAUTH_COOKIE_SECURE": False, "SESSIONAUTH_RESET_MIN_SECONDS": 0.0}


@pytest.fixture
def schema(app: Flask) -> t.Any:
    return schemathesis.openapi.from_wsgi(f"{API}/openapi.json", app)


def credentials(app: Flask, caller: str, user: t.Any) -> tuple[dict[str, str], dict[str, str]]:
    """Headers and cookies for one request by ``caller``; a signed-in caller gets
    a brand-new session each time, since generated calls may end it."""
    if caller == "stranger":
        return {}, {}
    cookies: dict[str, str] = {}
    if caller == "signed_in":
        ext = app.extensions["sessionauth"]
        with app.test_request_context():
            session = ext.login_user(db.session.get(User, user.id))
        cookies[ext.state_for(app).settings.cookie_name] = session.token
    return {"Origin": ORIGIN}, cookies


def test_description_is_valid_openapi(app: Flask, schema: t.Any) -> None:
    # Schemathesis leaves out the document's own path; everything else is described.
    labels = {(op.ok().method.upper(), op.ok().path) for op in schema.get_all_operations()}
    assert labels == {*OPERATIONS, *PREFLIGHTS}
    api_rules = {
        (method, re.sub(r"<(\w+)>", r"{\1}", rule.rule.removeprefix(API)))
        for rule in app.url_map.iter_rules()
        if rule.endpoint.startswith("sessionauth_api.")
        for method in rule.methods or ()
        if method in ("GET", "POST")
    }
    assert api_rules == {*OPERATIONS, ("GET", "/openapi.json")}
    spec = app.test_client().get(f"{API}/openapi.json").json
    assert "X-CSRFToken" not in str(spec)  # the API asks for no token
    assert "404" not in spec["paths"]["/revoke-session"]["post"]["responses"]  # an unknown token is a 200


@pytest.mark.parametrize("caller", CALLERS)
@pytest.mark.parametrize(
    ("method", "path", "mode"),
    [(method, path, schemathesis.GenerationMode.POSITIVE) for method, path in [*OPERATIONS, *PREFLIGHTS]]
    # Negative (schema-breaking) data only where there is a body to break.
    + [
        (method, path, schemathesis.GenerationMode.NEGATIVE)
        for method, path in OPERATIONS
        if method == "POST" and path in WITH_BODY
    ],
)
def test_api_conforms_to_description(
    app: Flask, schema: t.Any, user: t.Any, caller: str, method: str, path: str, mode: t.Any
) -> None:
    operation = schema[path][method]
    statuses: set[int] = set()

    @settings(
        max_examples=25,
        deadline=None,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    @given(case=operation.as_strategy(generation_mode=mode))
    def run(case: t.Any) -> None:
        headers, cookies = credentials(app, caller, user)
        response = case.call(headers=headers, cookies=cookies)
        statuses.add(response.status_code)
        # Invalid input must still be answered well: documented 4xx, never 5xx.
        case.validate_response(response, checks=CONFORMANCE)

    run()
    assert statuses, "no request was sent"
    assert all(status < 500 for status in statuses)
    if caller == "stranger" and (method == "POST" or (method == "GET" and path in GET_ALIASES)):
        assert statuses == {403}  # no Origin: refused before anything else
    if method == "OPTIONS":
        assert statuses == {204}
    signed_in_ok = caller == "signed_in" and mode is schemathesis.GenerationMode.POSITIVE and method != "OPTIONS"
    if signed_in_ok and path in SUCCEEDS_SIGNED_IN:
        assert 200 in statuses, statuses


def test_only_public_operations_are_declared_without_the_session_cookie() -> None:
    """revoke-other-sessions was declared public (``security: []``) by a
    positional argument landing on ``public``."""
    from flask_sessionauth.web.openapi import build_openapi

    spec = build_openapi(API)
    public = {
        op["operationId"]
        for item in spec["paths"].values()
        for method, op in item.items()
        if method != "options" and op.get("security") == []
    }
    assert public == {
        *("getSession", "signInemail", "signOut", "csrfToken", "openapi"),
        *("requestPasswordReset", "resetPassword", "resetPasswordCallback"),
    }
