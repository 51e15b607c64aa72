"""The JSON API's defences without a token: origin rules, JSON-only bodies,
the GET aliases' Fetch-Metadata rule, and CORS for trusted origins.

Cross-site calls must stay refused (403) with the victim's cookie attached,
while a same-origin ``fetch`` (or a trusted origin's, with CORS) needs
nothing but what a browser sends by itself. ``docs/api.md`` gives the reasons.
"""

from __future__ import annotations

import re
import typing as t

import pytest

from tests.helpers import API
from tests.helpers import API_POST_ENDPOINTS as POST_ENDPOINTS
from tests.helpers import ORIGIN
from tests.helpers import PASSWORD
from tests.helpers import api_post
from tests.helpers import api_signed_in
from tests.helpers import error_code
from tests.helpers import login
from tests.helpers import wire_code

TRUSTED = "https://app.example.com"
#: A same-origin ``fetch()`` from a page, as a current browser sends it.
SAME_ORIGIN_FETCH = {"Sec-Fetch-Site": "same-origin", "Sec-Fetch-Mode": "cors", "Sec-Fetch-Dest": "empty"}
BULK_GET_ALIASES = ["user/revoke-sessions", "user/revoke-other-sessions"]


def _body_for(path: str, session_id: str = "A" * 22) -> dict[str, t.Any]:
    """A body the endpoint accepts (``session_id``: the caller's own session)."""
    return {
        "revoke-session": {"token": "A" * 22},
        "update-session-name": {"id": session_id, "name": "Work laptop"},
        "change-password": {"currentPassword": PASSWORD, "newPassword": "a brand new password"},
        "sign-in/email": {"email": "alice@example.com", "password": PASSWORD},
    }.get(path, {})


# -- origin ----------------------------------------------------------------------------


@pytest.mark.parametrize("path", POST_ENDPOINTS)
@pytest.mark.parametrize(
    ("headers", "code"),
    [
        ({"Origin": None}, "MISSING_OR_NULL_ORIGIN"),  # neither Origin nor Sec-Fetch-Site
        ({"Origin": "null"}, "MISSING_OR_NULL_ORIGIN"),
        ({"Origin": None, "Sec-Fetch-Site": "cross-site"}, "MISSING_OR_NULL_ORIGIN"),
        ({"Origin": None, "Sec-Fetch-Site": "same-site"}, "MISSING_OR_NULL_ORIGIN"),
        ({"Origin": None, "Sec-Fetch-Site": "none"}, "MISSING_OR_NULL_ORIGIN"),  # not for a POST
        ({"Origin": "https://evil.example"}, "INVALID_ORIGIN"),
        ({"Origin": "http://localhost.evil.example"}, "INVALID_ORIGIN"),
        ({"Origin": "http://evil.localhost"}, "INVALID_ORIGIN"),
        ({"Origin": "https://localhost"}, "INVALID_ORIGIN"),  # other scheme: other origin
        ({"Origin": ORIGIN, "Sec-Fetch-Site": "cross-site"}, "INVALID_ORIGIN"),
        ({"Origin": ORIGIN, "Sec-Fetch-Site": "same-site"}, "INVALID_ORIGIN"),
    ],
)
def test_cross_site_calls_are_refused(
    client: t.Any, second_client: t.Any, user: t.Any, path: str, headers: dict[str, t.Any], code: str
) -> None:
    login(client)
    login(second_client)
    resp = api_post(client, path, _body_for(path), headers=headers)
    assert resp.status_code == 403
    assert wire_code(resp) == code
    assert error_code(resp) == "forbidden_origin"
    assert api_signed_in(client) and api_signed_in(second_client)


@pytest.mark.parametrize("origin", [None, "https://evil.example"])
def test_origin_is_checked_without_a_cookie_too(client: t.Any, user: t.Any, origin: str | None) -> None:
    """Stricter than Better Auth (which checks only calls carrying a cookie):
    a cross-site page cannot sign a victim in to the attacker's account."""
    resp = api_post(client, "sign-in/email", _body_for("sign-in/email"), headers={"Origin": origin})
    assert resp.status_code == 403
    assert not api_signed_in(client)


@pytest.mark.parametrize("path", POST_ENDPOINTS)
def test_sec_fetch_site_same_origin_without_origin(client: t.Any, user: t.Any, path: str) -> None:
    session_id = login(client)
    resp = api_post(client, path, _body_for(path, session_id), headers={"Origin": None, **SAME_ORIGIN_FETCH})
    assert resp.status_code == 200, resp.get_data(as_text=True)


@pytest.mark.parametrize("path", POST_ENDPOINTS)
def test_no_csrf_token_needed(client: t.Any, second_client: t.Any, user: t.Any, path: str) -> None:
    """A same-origin call needs no ``X-CSRFToken`` (Better Auth's client sends
    none), and a forged or foreign one changes nothing either way."""
    session_id = login(client)
    stranger = second_client.get(f"{API}/csrf-token").json["csrfToken"]
    passwords = [PASSWORD, "a brand new password"]
    for token in (None, "forged", stranger):
        body = _body_for(path, session_id)
        if path == "change-password":
            body = {"currentPassword": passwords[0], "newPassword": passwords[1]}
            passwords.reverse()
        resp = api_post(client, path, body, headers={"X-CSRFToken": token})
        assert resp.status_code == 200, (token, resp.get_data(as_text=True))
        if path in ("sign-out", "revoke-sessions"):
            login(client)


@pytest.mark.parametrize("app_config", [{"SESSIONAUTH_TRUSTED_ORIGINS": [TRUSTED]}])
def test_trusted_origins_match_exactly(client: t.Any, user: t.Any) -> None:
    login(client)
    ok = api_post(client, "revoke-session", {"token": "A" * 22}, headers={"Origin": TRUSTED})
    assert ok.status_code == 200  # got past the origin check
    cross_site = {"Origin": TRUSTED, "Sec-Fetch-Site": "cross-site"}  # a listed other site
    assert api_post(client, "revoke-session", {"token": "A" * 22}, headers=cross_site).status_code == 200
    for origin in (
        "https://app.example.com.evil.io",
        "https://evil.app.example.com",
        "http://app.example.com",
        "https://APP.example.com",
        "https://app.example.com/",
        "https://app.example.com:443",
        "null",
    ):
        resp = api_post(client, "revoke-session", {"token": "A" * 22}, headers={"Origin": origin})
        assert resp.status_code == 403, origin


@pytest.mark.parametrize("app_config", [{"WTF_CSRF_ENABLED": False}])
def test_origin_check_ignores_wtf_csrf_enabled(client: t.Any, second_client: t.Any, user: t.Any) -> None:
    login(client)
    second = login(second_client)
    refused = client.post(f"{API}/revoke-session", json={"token": second}, headers={"Origin": "https://evil.example"})
    assert refused.status_code == 403  # the origin check never turns off
    assert api_signed_in(second_client)
    resp = client.post(f"{API}/revoke-session", json={"token": second}, headers={"Origin": ORIGIN})
    assert resp.status_code == 200
    assert not api_signed_in(second_client)


# -- content type ------------------------------------------------------------------------


@pytest.mark.parametrize("path", POST_ENDPOINTS)
@pytest.mark.parametrize(
    ("data", "content_type"),
    [
        ('{"id": "x"}', "text/plain"),
        ("id=x", "application/x-www-form-urlencoded"),
        ("", "multipart/form-data; boundary=x"),
    ],
)
def test_non_json_bodies_are_refused(client: t.Any, user: t.Any, path: str, data: str, content_type: str) -> None:
    login(client)
    resp = client.post(f"{API}/{path}", data=data, content_type=content_type, headers={"Origin": ORIGIN})
    assert resp.status_code == 415
    assert wire_code(resp) == "UNSUPPORTED_MEDIA_TYPE"
    assert api_signed_in(client)


def test_origin_is_checked_before_the_content_type(client: t.Any, user: t.Any) -> None:
    login(client)
    resp = client.post(
        f"{API}/revoke-other-sessions", data="{}", content_type="text/plain", headers={"Origin": "https://evil.example"}
    )
    assert resp.status_code == 403
    assert wire_code(resp) == "INVALID_ORIGIN"


# -- the /user/* aliases and their GET routes ---------------------------------------------


def test_user_aliases_answer_like_the_endpoints(client: t.Any, second_client: t.Any, user: t.Any) -> None:
    login(client)
    second = login(second_client)
    listed = client.get(f"{API}/user/list-sessions")
    assert listed.status_code == 200
    assert listed.json == client.get(f"{API}/list-sessions").json
    assert api_post(client, "user/revoke-session", {"token": second}).json == {"status": True}
    assert not api_signed_in(second_client)
    changed = api_post(client, "user/change-password", {"currentPassword": PASSWORD, "newPassword": "a brand new one"})
    assert changed.status_code == 200 and changed.json["token"] is None
    login(second_client, password="a brand new one")
    assert api_post(client, "user/revoke-other-sessions").json["status"] is True
    assert not api_signed_in(second_client) and api_signed_in(client)
    assert api_post(client, "user/revoke-sessions").json["status"] is True
    assert not api_signed_in(client)


@pytest.mark.parametrize("app_config", [{"SESSIONAUTH_TRUSTED_ORIGINS": [TRUSTED]}])
def test_get_alias_from_a_trusted_origin(client: t.Any, second_client: t.Any, user: t.Any) -> None:
    login(client)
    login(second_client)
    headers = {"Origin": TRUSTED, "Sec-Fetch-Site": "cross-site", "Sec-Fetch-Mode": "cors"}
    resp = client.get(f"{API}/user/revoke-other-sessions", headers=headers)
    assert resp.status_code == 200
    assert resp.headers["Access-Control-Allow-Origin"] == TRUSTED
    assert not api_signed_in(second_client)


@pytest.mark.parametrize("method", ["GET", "HEAD"])  # Flask runs the GET view for HEAD
@pytest.mark.parametrize("path", BULK_GET_ALIASES)
@pytest.mark.parametrize(
    ("headers", "code"),
    [
        # authClient.user.revokeSessions() arrives as a body-less GET from fetch().
        (SAME_ORIGIN_FETCH, None),
        # A link, a typed URL, a prefetch or prerender, an <iframe>: navigations.
        (
            {"Sec-Fetch-Site": "cross-site", "Sec-Fetch-Mode": "navigate", "Sec-Fetch-Dest": "document"},
            "INVALID_ORIGIN",
        ),
        (
            {"Sec-Fetch-Site": "same-origin", "Sec-Fetch-Mode": "navigate", "Sec-Fetch-Dest": "document"},
            "INVALID_ORIGIN",
        ),
        ({"Sec-Fetch-Site": "none", "Sec-Fetch-Mode": "navigate", "Sec-Fetch-Dest": "document"}, "INVALID_ORIGIN"),
        (
            {"Sec-Fetch-Site": "same-site", "Sec-Fetch-Mode": "nested-navigate", "Sec-Fetch-Dest": "iframe"},
            "INVALID_ORIGIN",
        ),
        # <img>, <script>, fetch(..., {mode: "no-cors"}).
        ({"Sec-Fetch-Site": "cross-site", "Sec-Fetch-Mode": "no-cors", "Sec-Fetch-Dest": "image"}, "INVALID_ORIGIN"),
        ({"Sec-Fetch-Site": "same-origin", "Sec-Fetch-Mode": "no-cors", "Sec-Fetch-Dest": "script"}, "INVALID_ORIGIN"),
        # A cross-origin fetch carries its Origin.
        (
            {"Origin": "https://evil.example", "Sec-Fetch-Site": "cross-site", "Sec-Fetch-Mode": "cors"},
            "INVALID_ORIGIN",
        ),
        ({"Origin": "null", "Sec-Fetch-Mode": "cors"}, "MISSING_OR_NULL_ORIGIN"),
        ({"Sec-Fetch-Site": "same-site", "Sec-Fetch-Mode": "cors"}, "MISSING_OR_NULL_ORIGIN"),
        # No Fetch Metadata, no Origin: a same-origin GET from an old browser, or not a browser.
        ({}, "MISSING_OR_NULL_ORIGIN"),
    ],
)
def test_get_alias_only_from_a_script(
    client: t.Any,
    second_client: t.Any,
    user: t.Any,
    path: str,
    method: str,
    headers: dict[str, str],
    code: str | None,
) -> None:
    """The GET routes that change state accept a script's ``fetch`` from an
    allowed origin, and nothing a page can trigger with the cookie attached."""
    login(client)
    login(second_client)
    resp = client.open(f"{API}/{path}", method=method, headers=headers)
    assert resp.headers["Cache-Control"] == "no-store"
    if code is None:
        assert resp.status_code == 200
        assert method == "HEAD" or resp.json["status"] is True
        assert not api_signed_in(second_client)
        assert api_signed_in(client) is (path == "user/revoke-other-sessions")
        return
    assert resp.status_code == 403
    assert method == "HEAD" or wire_code(resp) == code
    assert api_signed_in(client) and api_signed_in(second_client)


def test_other_get_routes_stay_safe(client: t.Any, user: t.Any) -> None:
    """Only the two bulk aliases accept GET; the rest answer it with 405."""
    login(client)
    for path in ("user/revoke-session", "user/change-password"):
        resp = client.get(f"{API}/{path}", headers=SAME_ORIGIN_FETCH)
        assert resp.status_code == 405, path
        assert wire_code(resp) == "METHOD_NOT_ALLOWED"
    assert api_signed_in(client)


# -- CORS ------------------------------------------------------------------------------------


def _cors(resp: t.Any) -> dict[str, str]:
    return {k: v for k, v in resp.headers.items() if k.lower().startswith("access-control-")}


def preflight(client: t.Any, path: str, origin: str) -> t.Any:
    """The preflight a browser sends before a JSON POST from ``origin``; always a 204."""
    headers = {
        "Origin": origin,
        "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "content-type",
    }
    resp = client.options(f"{API}/{path}", headers=headers)
    assert resp.status_code == 204
    return resp


@pytest.mark.parametrize("app_config", [{"SESSIONAUTH_TRUSTED_ORIGINS": [TRUSTED]}])
def test_preflight_from_a_trusted_origin(client: t.Any) -> None:
    resp = preflight(client, "sign-in/email", TRUSTED)
    assert _cors(resp) == {
        "Access-Control-Allow-Origin": TRUSTED,
        "Access-Control-Allow-Credentials": "true",
        "Access-Control-Allow-Methods": "GET, POST",
        "Access-Control-Allow-Headers": "Content-Type",
        "Access-Control-Max-Age": "600",
        "Access-Control-Expose-Headers": "Retry-After, X-Retry-After, X-Total-Count, Link",
    }
    assert "Origin" in resp.headers["Vary"]


@pytest.mark.parametrize("app_config", [{"SESSIONAUTH_TRUSTED_ORIGINS": [TRUSTED]}])
@pytest.mark.parametrize("origin", ["https://evil.example", "https://app.example.com.evil.io", "null", ORIGIN])
def test_preflight_from_any_other_origin_allows_nothing(client: t.Any, origin: str) -> None:
    resp = preflight(client, "revoke-other-sessions", origin)
    assert _cors(resp) == {}


@pytest.mark.parametrize("app_config", [{"SESSIONAUTH_TRUSTED_ORIGINS": [TRUSTED]}])
def test_every_answer_to_a_trusted_origin_has_cors_headers(client: t.Any, user: t.Any) -> None:
    """Errors too: without them the front end sees a network error, not ``{code, message}``."""
    headers = {"Origin": TRUSTED, "Sec-Fetch-Site": "cross-site", "Sec-Fetch-Mode": "cors"}
    answers = {
        "sign-in 200": api_post(client, "sign-in/email", _body_for("sign-in/email"), headers=headers),
        "get-session 200": client.get(f"{API}/get-session", headers=headers),
        "415": client.post(f"{API}/sign-out", data="x", content_type="text/plain", headers=headers),
        "405": client.get(f"{API}/sign-out", headers=headers),
        "404": client.get(f"{API}/no-such-endpoint", headers=headers),
        "413": api_post(client, "revoke-session", {"token": "x" * 20_000}, headers=headers),
        "sign-out 200": api_post(client, "sign-out", headers=headers),
        "401": client.get(f"{API}/list-sessions", headers=headers),
    }
    for name, resp in answers.items():
        assert resp.headers.get("Access-Control-Allow-Origin") == TRUSTED, name
        assert resp.headers.get("Access-Control-Allow-Credentials") == "true", name
        assert "Origin" in resp.headers.get("Vary", ""), name
        assert resp.headers["Cache-Control"] == "no-store", name
    assert [r.status_code for r in answers.values()] == [200, 200, 415, 405, 404, 413, 200, 401]


@pytest.mark.parametrize("app_config", [{"SESSIONAUTH_TRUSTED_ORIGINS": [TRUSTED]}])
@pytest.mark.parametrize("origin", [None, ORIGIN, "https://evil.example"])
def test_no_cors_headers_for_other_origins(client: t.Any, user: t.Any, origin: str | None) -> None:
    login(client)
    headers = {"Origin": origin} if origin else {}
    for resp in (client.get(f"{API}/list-sessions", headers=headers), api_post(client, "sign-out", headers=headers)):
        assert _cors(resp) == {}


# -- DNS rebinding: the Host header ------------------------------------------------------

REBOUND = "http://rebound.example"  # an attacker's name, re-pointed at this server


@pytest.mark.parametrize("trusted_hosts", [None, ["localhost"]])
def test_a_rebinding_page_is_refused_when_trusted_hosts_is_set(app: t.Any, user: t.Any, trusted_hosts: t.Any) -> None:
    """Issue 15, item 8: a DNS-rebinding page sends its own name as both
    ``Host`` and ``Origin``, so the same-origin check alone lets it through;
    with Flask's ``TRUSTED_HOSTS`` the request is a 400 before any check, on
    the API and the pages alike, while the real host works as before."""
    app.config["TRUSTED_HOSTS"] = trusted_hosts
    rebound = app.test_client()
    body = _body_for("sign-in/email")
    resp = rebound.post(f"{API}/sign-in/email", json=body, headers={"Origin": REBOUND}, base_url=REBOUND)
    assert resp.status_code == (200 if trusted_hosts is None else 400)
    rebound = app.test_client()  # a new visitor of the rebound page, for the sign-in form
    page = rebound.get("/account/login", base_url=REBOUND)
    if trusted_hosts is None:  # the page, its CSRF token, then a same-"origin" post: signed in
        token = re.search(r'name="csrf-token" content="([^"]+)"', page.get_data(as_text=True))
        assert token is not None
        form = {"email": "alice@example.com", "password": PASSWORD, "csrf_token": token.group(1)}
        posted = rebound.post("/account/login", data=form, headers={"Origin": REBOUND}, base_url=REBOUND)
        assert posted.status_code == 302
    else:
        assert page.status_code == 400
        assert rebound.post("/account/login", headers={"Origin": REBOUND}, base_url=REBOUND).status_code == 400
    honest = app.test_client()
    assert api_post(honest, "sign-in/email", body).status_code == 200


# -- SESSIONAUTH_TRUSTED_ORIGINS is checked at init_app --------------------------------------


@pytest.mark.parametrize(
    "entry",
    [
        "null",
        "*",
        "https://*.example.com",
        "https://app.example.com/path",
        "https://app.example.com?x=1",
        "https://user@app.example.com",
        "https://APP.example.com",
        "https://app.example.com:443",
        "http://app.example.com:80",
        "https://app.example.com:99999",
        "app.example.com",
        "ftp://app.example.com",
        "",
        42,
    ],
)
def test_a_malformed_trusted_origin_is_refused_at_init_app(entry: t.Any, caplog: pytest.LogCaptureFixture) -> None:
    from tests.conftest import create_app

    with pytest.raises(ValueError, match="SESSIONAUTH_TRUSTED_ORIGINS"):
        create_app({"SESSIONAUTH_TRUSTED_ORIGINS": [TRUSTED, entry]})
    assert any("SESSIONAUTH_TRUSTED_ORIGINS" in r.getMessage() for r in caplog.records if r.levelname == "ERROR")


def test_well_formed_trusted_origins_are_accepted() -> None:
    from tests.conftest import create_app
    from tests.conftest import dispose
    from tests.helpers import state_of

    origins = [TRUSTED + "/", "http://127.0.0.1:8080", "http://[::1]:3000", "https://xn--bcher-kva.example"]
    app = create_app({"SESSIONAUTH_TRUSTED_ORIGINS": origins})
    try:
        assert state_of(app).trusted_origins == {o.rstrip("/") for o in origins}
    finally:
        dispose(app)
