"""The served OpenAPI description matches the API: schemathesis drives the app.

For every operation, schemathesis generates requests from the description
(valid ones, and invalid ones), sends them to the app as three kinds of caller
(a stranger without CSRF credentials, an anonymous browser with them, a
signed-in browser) and checks that nothing answers 5xx and that every status,
content type, header and body is one the description declares.
"""

from __future__ import annotations

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
OPERATIONS = [
    ("GET", "/get-session"),
    ("GET", "/list-sessions"),
    ("POST", "/revoke-session"),
    ("POST", "/revoke-sessions"),
    ("POST", "/revoke-other-sessions"),
    ("POST", "/change-password"),
    ("POST", "/sign-in/email"),
    ("POST", "/sign-out"),
    ("GET", "/csrf-token"),
]
WITH_BODY = {"/revoke-session", "/revoke-sessions", "/revoke-other-sessions", "/change-password", "/sign-in/email"}
# Operations a signed-in caller can complete with generated data alone.
SUCCEEDS_SIGNED_IN = {"/get-session", "/list-sessions", "/revoke-sessions", "/revoke-other-sessions", "/sign-out"}
CALLERS = ["stranger", "anonymous", "signed_in"]


@pytest.fixture
def app_config() -> dict[str, t.Any]:
    return {"SESSIONAUTH_COOKIE_SECURE": False}


@pytest.fixture
def schema(app: Flask) -> t.Any:
    return schemathesis.openapi.from_wsgi(f"{API}/openapi.json", app)


def credentials(app: Flask, caller: str, user: t.Any) -> tuple[dict[str, str], dict[str, str]]:
    """Headers and cookies for one request by ``caller``; a signed-in caller gets
    a brand-new session each time, since generated calls may end it."""
    if caller == "stranger":
        return {}, {}
    client = app.test_client()
    ext = app.extensions["sessionauth"]
    cookies: dict[str, str] = {}
    if caller == "signed_in":
        with app.test_request_context():
            session = ext.login_user(db.session.get(User, user.id))
        cookies[ext.state_for(app).settings.cookie_name] = session.token
        client.set_cookie(ext.state_for(app).settings.cookie_name, session.token)
    token = client.get(f"{API}/csrf-token").json["csrfToken"]
    flask_session = client.get_cookie(app.config["SESSION_COOKIE_NAME"])
    assert flask_session is not None
    cookies[app.config["SESSION_COOKIE_NAME"]] = flask_session.value
    return {"Origin": ORIGIN, "X-CSRFToken": token}, cookies


def test_description_is_valid_openapi(app: Flask, schema: t.Any) -> None:
    # Schemathesis leaves out the document's own path; everything else is described.
    labels = {(op.ok().method.upper(), op.ok().path) for op in schema.get_all_operations()}
    assert labels == set(OPERATIONS)
    api_rules = {
        (method, rule.rule.removeprefix(API))
        for rule in app.url_map.iter_rules()
        if rule.endpoint.startswith("sessionauth_api.")
        for method in rule.methods or ()
        if method in ("GET", "POST")
    }
    assert api_rules == {*OPERATIONS, ("GET", "/openapi.json")}


@pytest.mark.parametrize("caller", CALLERS)
@pytest.mark.parametrize(
    ("method", "path", "mode"),
    [(method, path, schemathesis.GenerationMode.POSITIVE) for method, path in OPERATIONS]
    # Negative (schema-breaking) data only where there is a body to break.
    + [(method, path, schemathesis.GenerationMode.NEGATIVE) for method, path in OPERATIONS if path in WITH_BODY],
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
    if caller == "stranger" and method == "POST":
        assert statuses == {403}  # no Origin, no token: refused before anything else
    if caller == "signed_in" and mode is schemathesis.GenerationMode.POSITIVE and path in SUCCEEDS_SIGNED_IN:
        assert 200 in statuses, statuses
