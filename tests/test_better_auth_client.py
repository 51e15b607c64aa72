"""The real Better Auth JavaScript client, unmodified, against the JSON API.

``tests/js`` pins ``better-auth`` (and esbuild) with a committed lock file and
holds the Node suite ``better-auth.test.mjs`` (node's built-in test runner; a
cookie jar and a browser's request headers per device). Here it runs against
the test app on 127.0.0.1, and against Better Auth's own server
(``reference-server.mjs``) to prove the suite itself right. The Chromium tests
load the bundled client in a page and run the same calls from the API's own
origin, from a trusted other origin (CORS with credentials), and check that
untrusted and cross-site pages are refused. ``docs/better-auth.md`` is the
wire spec these tests encode.

Node and npm missing: the tests skip, or fail with ``SESSIONAUTH_REQUIRE_SERVICES=1``.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
import subprocess
import time
import typing as t
from pathlib import Path

import pytest
from flask import Flask
from flask import send_from_directory

from tests.conftest import REQUIRE_SERVICES
from tests.helpers import PASSWORD
from tests.helpers import UA_CHROME
from tests.helpers import UA_FIREFOX
from tests.live import live_app
from tests.live import live_server
from tests.live import serve

JS_DIR = Path(__file__).parent / "js"
SUITE = "better-auth.test.mjs"
USERS: dict[str, dict[str, str]] = json.loads((JS_DIR / "users.json").read_text())["users"]
#: Small enough for the suite to wait it out, large enough for the "fresh" calls right after sign-in.
FRESH_AGE = 5
#: The origin the Node suite's trusted front end claims (nothing is served there).
NODE_TRUSTED_ORIGIN = "http://127.0.0.1:5173"
NEW_PASSWORD = "a new long password"
NODE_TIMEOUT = 300
#: Diagnosis only: add the X-CSRFToken header through the client's fetchOptions.onRequest.
INJECT_CSRF = os.environ.get("SESSIONAUTH_INJECT_CSRF") == "1"

# -- Node and the npm packages ---------------------------------------------------------


def _need(tool: str) -> str:
    path = shutil.which(tool)
    if path is None:
        message = f"{tool} is not installed (needed for the Better Auth client tests)"
        if REQUIRE_SERVICES:
            pytest.fail(f"{message}; SESSIONAUTH_REQUIRE_SERVICES=1")
        pytest.skip(message)
    return path


def _lock_digest() -> str:
    return hashlib.sha256((JS_DIR / "package-lock.json").read_bytes()).hexdigest()


@pytest.fixture(scope="session")
def node() -> str:
    """``node`` with ``tests/js/node_modules`` installed from the lock file
    (``npm ci``, only when missing or when the lock changed)."""
    node_bin = _need("node")
    npm = _need("npm")
    stamp = JS_DIR / "node_modules" / ".sessionauth-lock.sha256"
    digest = _lock_digest()
    if not stamp.exists() or stamp.read_text().strip() != digest:
        result = subprocess.run(
            [npm, "ci", "--no-audit", "--no-fund", "--loglevel=error"],
            cwd=JS_DIR,
            capture_output=True,
            text=True,
            timeout=NODE_TIMEOUT,
        )
        if result.returncode != 0:
            pytest.fail(f"npm ci failed in {JS_DIR} ({result.returncode}):\n{result.stdout}\n{result.stderr}")
        stamp.write_text(digest + "\n")
    return node_bin


def run_suite(node: str, base_url: str, *args: str, **env: str) -> None:
    """Run the Node suite (``args`` go to ``node --test``) against ``base_url``;
    fail with node's report unless it exits 0."""
    environment = {
        **os.environ,
        "SESSIONAUTH_BASE_URL": base_url,
        "SESSIONAUTH_FRESH_AGE": str(FRESH_AGE),
        "SESSIONAUTH_TRUSTED_ORIGIN": NODE_TRUSTED_ORIGIN,
        "SESSIONAUTH_PASSWORD": PASSWORD,
        "NO_COLOR": "1",
        **env,
    }
    result = subprocess.run(
        [node, "--test", "--test-reporter=spec", *args, SUITE],
        cwd=JS_DIR,
        env=environment,
        capture_output=True,
        text=True,
        timeout=NODE_TIMEOUT,
    )
    if result.returncode != 0:
        pytest.fail(
            f"node --test {SUITE} against {base_url} exited {result.returncode}\n"
            f"--- stdout ---\n{result.stdout}\n--- stderr ---\n{result.stderr}",
            pytrace=False,
        )


def better_auth_app(database: Path, **config: t.Any) -> Flask:
    """The live test app with every account of ``tests/js/users.json``."""
    config.setdefault("SESSIONAUTH_FRESH_AGE", FRESH_AGE)
    app = live_app(str(database), **config)
    with app.app_context():
        ext = app.extensions["sessionauth"]
        for user in USERS.values():
            if user["email"] != "alice@example.com":  # live_app made Alice
                ext.create_user(user["email"], PASSWORD, name=user["name"])
    return app


# -- the Node suite --------------------------------------------------------------------------


def test_better_auth_client_in_node(node: str, tmp_path: Path) -> None:
    """Every call of the suite, with two devices each, against the Flask app."""
    app = better_auth_app(tmp_path / "node.db", SESSIONAUTH_TRUSTED_ORIGINS=[NODE_TRUSTED_ORIGIN])
    with live_server(app) as url:
        run_suite(node, url)


def test_remember_me_false_with_the_cookie_cache(node: str, tmp_path: Path) -> None:
    """With the signed cookie cache on, a ``rememberMe: false`` sign-in sets no
    cookie that outlives the browser session (Better Auth's cookies.test.ts,
    "should respect dontRememberMe when storing session in cookie cache")."""
    app = better_auth_app(tmp_path / "cache.db", SESSIONAUTH_COOKIE_CACHE_MAX_AGE=60)
    with live_server(app) as url:
        run_suite(node, url, "--test-name-pattern=rememberMe")


@contextlib.contextmanager
def reference_server(node: str, trusted_origins: list[str]) -> t.Iterator[str]:
    """Better Auth's own server (memory database) on 127.0.0.1; yields its base URL."""
    env = {
        **os.environ,
        "SESSIONAUTH_FRESH_AGE": str(FRESH_AGE),
        "SESSIONAUTH_PASSWORD": PASSWORD,
        "SESSIONAUTH_TRUSTED_ORIGINS": ",".join(trusted_origins),
    }
    process = subprocess.Popen(
        [node, "reference-server.mjs"],
        cwd=JS_DIR,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        line = process.stdout.readline()
        if not line:
            process.wait(10)
            pytest.fail(f"reference-server.mjs did not start:\n{process.stderr.read() if process.stderr else ''}")
        yield str(json.loads(line)["baseURL"])
    finally:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(10)
        for stream in (process.stdout, process.stderr):
            if stream is not None:
                stream.close()


def test_suite_passes_against_better_auth_itself(node: str) -> None:
    """The suite is right about Better Auth: against the real Better Auth
    server it passes (the tests that check flask-sessionauth's documented
    differences take Better Auth's side of them there, the ``/user/*`` aliases
    are skipped). So a failure against the Flask app is the app's."""
    with reference_server(node, [NODE_TRUSTED_ORIGIN]) as url:
        run_suite(node, url, SESSIONAUTH_TARGET="better-auth")


# -- Chromium ----------------------------------------------------------------------------------

PAGE_HTML = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Better Auth client</title>
<script type="module" src="page.mjs"></script></head>
<body><h1>Better Auth client test page</h1></body></html>
"""


@pytest.fixture(scope="session")
def client_bundle(node: str, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """``createAuthClient`` from ``better-auth/client``, bundled by esbuild, plus
    the page helper: a directory with ``better-auth-client.mjs`` and ``page.mjs``."""
    out = tmp_path_factory.mktemp("better-auth-bundle")
    result = subprocess.run(
        [node, "bundle.mjs", str(out)], cwd=JS_DIR, capture_output=True, text=True, timeout=NODE_TIMEOUT
    )
    if result.returncode != 0:
        pytest.fail(f"bundling the Better Auth client failed:\n{result.stdout}\n{result.stderr}")
    return out


def add_client_page(app: Flask, bundle: Path) -> None:
    """Test-only routes: the page at ``/test/better-auth/`` and its two modules."""

    def page() -> t.Any:
        return PAGE_HTML, 200, {"Content-Type": "text/html; charset=utf-8", "Cache-Control": "no-store"}

    def module(name: str) -> t.Any:
        response = send_from_directory(bundle, name, mimetype="text/javascript", max_age=0)
        response.headers["Cache-Control"] = "no-store"
        return response

    app.add_url_rule("/test/better-auth/", "better_auth_page", page)
    app.add_url_rule("/test/better-auth/<any('better-auth-client.mjs','page.mjs'):name>", "better_auth_module", module)


class ClientPage:
    """A page that loaded the bundled client, and one client in it."""

    def __init__(self, page: t.Any, url: str, base_url: str | None) -> None:
        self.page = page
        page.goto(url)
        page.wait_for_function("window.baReady === true")
        page.evaluate("([baseURL, inject]) => window.ba.create('c', baseURL, inject)", [base_url, INJECT_CSRF])

    def call(self, path: str, *args: t.Any) -> t.Any:
        return self.page.evaluate("([path, args]) => window.ba.call('c', path, ...args)", [path, list(args)])

    def ok(self, path: str, *args: t.Any) -> t.Any:
        result = self.call(path, *args)
        assert isinstance(result, dict) and "thrown" not in result, f"{path}{args}: {result}"
        assert result["error"] is None, f"{path}{args}: {result['error']}"
        return result["data"]

    def error(self, path: str, *args: t.Any) -> dict[str, t.Any]:
        result = self.call(path, *args)
        assert isinstance(result, dict) and "thrown" not in result, f"{path}{args}: {result}"
        assert result["data"] is None, f"{path}{args}: expected an error, got {result['data']}"
        return t.cast(dict[str, t.Any], result["error"])

    def sign_in(self, user: str, password: str = PASSWORD) -> t.Any:
        return self.ok("signIn.email", {"email": USERS[user]["email"], "password": password})

    def token(self) -> str:
        data = self.ok("getSession")
        assert data is not None, "expected to be signed in"
        return str(data["session"]["token"])

    def signed_in(self) -> bool:
        return self.ok("getSession") is not None


@pytest.fixture
def contexts(browser: t.Any) -> t.Iterator[t.Callable[..., t.Any]]:
    made: list[t.Any] = []

    def make(user_agent: str = UA_CHROME) -> t.Any:
        context = browser.new_context(user_agent=user_agent)
        context.set_default_timeout(10_000)
        made.append(context)
        return context

    yield make
    for context in made:
        context.close()


def assert_error(error: dict[str, t.Any], status: int, code: str) -> None:
    assert error.get("status") == status and error.get("code") == code, f"expected {status} {code}, got {error}"
    assert isinstance(error.get("message"), str) and error["message"]


@pytest.mark.browser
def test_better_auth_client_in_chromium_same_origin(
    client_bundle: Path, tmp_path: Path, contexts: t.Callable[..., t.Any]
) -> None:
    """The suite's flow in real Chromium, from a page on the API's own origin:
    the browser's own cookies, Origin and Fetch Metadata headers."""
    app = better_auth_app(tmp_path / "chromium.db")
    add_client_page(app, client_bundle)
    with live_server(app) as base:
        page_url = f"{base}/test/better-auth/"
        api = f"{base}/api/auth"
        laptop = ClientPage(contexts(UA_CHROME).new_page(), page_url, api)
        phone = ClientPage(contexts(UA_FIREFOX).new_page(), page_url, api)
        laptop.page.evaluate("window.ba.watch('c')")

        signed = laptop.sign_in("browser")
        assert signed["redirect"] is False and signed["token"] is None
        assert signed["user"]["email"] == USERS["browser"]["email"]
        assert signed["user"]["emailVerified"] in (True, False)
        laptop.page.wait_for_function(
            "email => window.ba.session('c')?.data?.user?.email === email", arg=USERS["browser"]["email"]
        )
        phone.sign_in("browser")

        session = laptop.ok("getSession")
        assert session["session"]["token"] == session["session"]["id"]
        assert session["session"]["userAgent"] == UA_CHROME
        # The client's default base URL (/api/auth on the page's origin) works too.
        laptop.page.evaluate("inject => window.ba.create('default', undefined, inject)", INJECT_CSRF)
        default = laptop.page.evaluate("window.ba.call('default', 'getSession')")
        assert default["error"] is None and default["data"]["session"]["id"] == session["session"]["id"]

        phone_token = phone.token()
        listed = laptop.ok("listSessions")
        assert {s["token"] for s in listed} == {session["session"]["token"], phone_token}

        assert laptop.ok("revokeSession", {"token": phone_token}) == {"status": True}
        assert not phone.signed_in()

        phone.sign_in("browser")
        laptop.sign_in("browser")  # fresh again (FRESH_AGE is short)
        assert laptop.ok("revokeOtherSessions")["status"] is True
        assert not phone.signed_in() and laptop.signed_in()

        # Stale: the password is asked for, and can be given in the same call.
        phone.sign_in("browser")
        time.sleep(FRESH_AGE + 0.7)
        assert_error(laptop.error("revokeOtherSessions"), 403, "SESSION_NOT_FRESH")
        assert phone.signed_in()
        assert laptop.ok("revokeOtherSessions", {"password": PASSWORD})["status"] is True
        assert not phone.signed_in()

        phone.sign_in("browser")
        assert_error(
            laptop.error("changePassword", {"currentPassword": "wrong one!", "newPassword": NEW_PASSWORD}),
            400,
            "INVALID_PASSWORD",
        )
        changed = laptop.ok(
            "changePassword", {"currentPassword": PASSWORD, "newPassword": NEW_PASSWORD, "revokeOtherSessions": True}
        )
        assert changed["token"] is None and changed["user"]["email"] == USERS["browser"]["email"]
        assert laptop.signed_in() and not phone.signed_in()
        assert_error(
            phone.error("signIn.email", {"email": USERS["browser"]["email"], "password": PASSWORD}),
            401,
            "INVALID_EMAIL_OR_PASSWORD",
        )

        # The seed's spelling; user.revokeSessions() is a GET from this client.
        phone.sign_in("browser", NEW_PASSWORD)
        assert len(laptop.ok("user.listSessions")) == 2
        assert laptop.ok("user.revokeSession", {"token": phone.token()}) == {"status": True}
        assert not phone.signed_in()
        phone.sign_in("browser", NEW_PASSWORD)
        laptop.sign_in("browser", NEW_PASSWORD)  # fresh again
        with laptop.page.expect_request("**/api/auth/user/revoke-sessions") as request:
            assert laptop.ok("user.revokeSessions")["status"] is True
        assert request.value.method == "GET"
        assert not laptop.signed_in() and not phone.signed_in()
        # The client's session signal matches exact paths, so a /user/* call
        # does not refresh useSession by itself; a refetch does.
        laptop.page.evaluate("window.ba.refetch('c')")
        laptop.page.wait_for_function("window.ba.session('c')?.data === null")

        assert_error(laptop.error("listSessions"), 401, "UNAUTHORIZED")
        laptop.sign_in("browser", NEW_PASSWORD)
        assert laptop.ok("signOut") == {"success": True}
        assert not laptop.signed_in()
        laptop.page.wait_for_function("window.ba.session('c')?.data === null")


@pytest.mark.browser
def test_better_auth_client_in_chromium_from_a_trusted_origin(
    client_bundle: Path, tmp_path: Path, contexts: t.Callable[..., t.Any]
) -> None:
    """A front end on another origin (another port of 127.0.0.1: same site, so
    the SameSite=Lax cookie goes along), listed in SESSIONAUTH_TRUSTED_ORIGINS:
    the client's credentialed CORS calls all work."""
    front = Flask("front_end")
    add_client_page(front, client_bundle)
    with serve(front) as front_url:
        # No stale step here: a freshness window the calls can never outlast.
        app = better_auth_app(tmp_path / "cors.db", SESSIONAUTH_TRUSTED_ORIGINS=[front_url], SESSIONAUTH_FRESH_AGE=3600)
        with live_server(app) as base:
            api = f"{base}/api/auth"
            page_url = f"{front_url}/test/better-auth/"
            laptop = ClientPage(contexts(UA_CHROME).new_page(), page_url, api)
            phone = ClientPage(contexts(UA_FIREFOX).new_page(), page_url, api)
            failed: list[str] = []
            laptop.page.on("requestfailed", lambda r: failed.append(f"{r.method} {r.url}: {r.failure}"))

            signed = laptop.call("signIn.email", {"email": USERS["browser"]["email"], "password": PASSWORD})
            assert "thrown" not in signed and signed["error"] is None, f"{signed} {failed}"
            phone.sign_in("browser")
            session = laptop.ok("getSession")
            phone_token = phone.token()
            assert {s["token"] for s in laptop.ok("listSessions")} == {session["session"]["token"], phone_token}
            assert laptop.ok("revokeSession", {"token": phone_token}) == {"status": True}
            assert not phone.signed_in()
            phone.sign_in("browser")
            assert laptop.ok("revokeOtherSessions")["status"] is True
            assert not phone.signed_in()
            phone.sign_in("browser")
            assert (
                laptop.ok(
                    "changePassword",
                    {"currentPassword": PASSWORD, "newPassword": NEW_PASSWORD, "revokeOtherSessions": True},
                )["token"]
                is None
            )
            assert not phone.signed_in()
            phone.sign_in("browser", NEW_PASSWORD)
            assert laptop.ok("user.revokeSessions")["status"] is True  # a credentialed CORS GET
            assert not laptop.signed_in() and not phone.signed_in()
            laptop.sign_in("browser", NEW_PASSWORD)
            assert laptop.ok("signOut") == {"success": True}
            assert not laptop.signed_in()
            assert failed == []


ATTACK_HTML = """<!doctype html><html><head><meta charset="utf-8"><title>attacker</title>
<script type="module" src="page.mjs"></script></head><body>
<form id="f" method="post" action="{api}/sign-out"><input name="x" value="1"></form>
</body></html>
"""
#: A foreign site for Chromium: resolved to 127.0.0.1 by the browser itself, so the
#: attacker page is a real server in the loopback address space (Chromium's local
#: network access rules would block a page from a public address before the
#: request ever reached the API, which would test nothing).
CROSS_SITE_HOST = "evil.test"


@pytest.fixture(scope="module")
def resolving_browser(browser: t.Any) -> t.Iterator[t.Any]:
    """Chromium that resolves ``evil.test`` to 127.0.0.1 (same Playwright instance)."""
    from tests.live import CHROMIUM
    from tests.live import CHROMIUM_ARGS

    chromium = browser.browser_type.launch(
        executable_path=CHROMIUM, args=[*CHROMIUM_ARGS, f"--host-resolver-rules=MAP {CROSS_SITE_HOST} 127.0.0.1"]
    )
    try:
        yield chromium
    finally:
        chromium.close()


def attacker_app(api: str, bundle: Path) -> Flask:
    """The attacker's site: a page with the bundled client and a form posting to the API."""
    attacker = Flask("attacker")

    @attacker.get("/attack/")
    def attack_page() -> t.Any:
        return ATTACK_HTML.format(api=api), 200, {"Content-Type": "text/html; charset=utf-8"}

    @attacker.get("/attack/<any('better-auth-client.mjs','page.mjs'):name>")
    def attack_module(name: str) -> t.Any:
        return send_from_directory(bundle, name, mimetype="text/javascript", max_age=0)

    return attacker


@pytest.mark.browser
def test_untrusted_and_cross_site_pages_are_refused(
    client_bundle: Path, tmp_path: Path, resolving_browser: t.Any
) -> None:
    """In the victim's own browser (one context, one cookie jar): a page on an
    unlisted origin of the same site (127.0.0.1, another port: the SameSite=Lax
    cookie goes along) and a page on another site (evil.test) try the real
    client, a no-preflight ``fetch``, a form post and a top-level GET. The server
    must refuse every one, and nothing may change."""
    app = better_auth_app(tmp_path / "csrf.db")
    add_client_page(app, client_bundle)
    with live_server(app) as base:
        api = f"{base}/api/auth"
        context = resolving_browser.new_context(user_agent=UA_CHROME)
        other_context = resolving_browser.new_context(user_agent=UA_FIREFOX)
        context.set_default_timeout(10_000)
        other_context.set_default_timeout(10_000)
        try:
            victim = ClientPage(context.new_page(), f"{base}/test/better-auth/", api)
            victim.sign_in("browser")
            other_device = ClientPage(other_context.new_page(), f"{base}/test/better-auth/", api)
            other_device.sign_in("browser")
            before = sorted(s["token"] for s in victim.ok("listSessions"))
            with serve(attacker_app(api, client_bundle)) as attacker_url:
                port = attacker_url.rsplit(":", 1)[1]
                for origin in (attacker_url, f"http://{CROSS_SITE_HOST}:{port}"):
                    # The real client: its JSON POSTs need a CORS preflight, which must fail.
                    attacker = ClientPage(context.new_page(), f"{origin}/attack/", api)
                    for path in ("revokeOtherSessions", "signOut"):
                        result = attacker.call(path)
                        assert "thrown" in result, f"{origin} {path}: the call went through: {result}"
                    # A request that needs no preflight (the page cannot read the answer).
                    with attacker.page.expect_response(f"{api}/revoke-other-sessions") as response:
                        attacker.page.evaluate(
                            """url => fetch(url, {method: "POST", mode: "no-cors", credentials: "include",
                                headers: {"Content-Type": "text/plain"}, body: "{}"}).catch(() => null)""",
                            f"{api}/revoke-other-sessions",
                        )
                    assert response.value.status == 403, f"{origin}: no-cors POST answered {response.value.status}"
                    # A top-level GET to the GET alias of a state-changing call (a link or script).
                    with attacker.page.expect_navigation(url=f"{api}/user/revoke-sessions") as navigation:
                        attacker.page.evaluate("url => { location.href = url; }", f"{api}/user/revoke-sessions")
                    status = navigation.value.status if navigation.value else None
                    assert status == 403, f"{origin}: top-level GET answered {status}"
                    attacker.page.close()
                    # A form post (a top-level POST navigation).
                    page = ClientPage(context.new_page(), f"{origin}/attack/", api).page
                    with page.expect_navigation(url=f"{api}/sign-out") as navigation:
                        page.evaluate("document.getElementById('f').submit()")
                    status = navigation.value.status if navigation.value else None
                    assert status == 403, f"{origin}: form post answered {status}"
                    page.close()
                    assert sorted(s["token"] for s in victim.ok("listSessions")) == before, (
                        f"{origin} changed something"
                    )
            assert other_device.signed_in()
        finally:
            context.close()
            other_context.close()


# -- password reset (requestPasswordReset / resetPassword) -------------------------------------


def reset_step(node: str, base_url: str, *args: str) -> dict[str, t.Any]:
    """One step of ``tests/js/password-reset.mjs``: what the real client returned."""
    result = subprocess.run(
        [node, "password-reset.mjs", *args],
        cwd=JS_DIR,
        env={**os.environ, "SESSIONAUTH_BASE_URL": base_url, "NO_COLOR": "1"},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    return t.cast(dict[str, t.Any], json.loads(result.stdout.strip().splitlines()[-1]))


def test_password_reset_with_the_real_client(node: str, tmp_path: Path, mailbox: t.Any) -> None:
    """``authClient.requestPasswordReset({email, redirectTo})``, the mailed link's
    redirect to ``redirectTo?token=``, then ``authClient.resetPassword({newPassword, token})``."""
    from urllib.parse import parse_qs
    from urllib.parse import urlsplit

    from tests.mailbox import link_in

    app = live_app(str(tmp_path / "reset.db"), **mailbox.config(), SESSIONAUTH_RESET_MIN_SECONDS=0.0)
    with live_server(app) as url:
        app.config["SESSIONAUTH_PUBLIC_URL"] = url
        asked = reset_step(node, url, "request", "alice@example.com", "/app/reset")
        assert asked["status"] == 200 and asked["error"] is None
        assert asked["data"]["status"] is True
        assert app.extensions["sessionauth.state"].mailer.wait()
        (message,) = mailbox.wait_for(1)
        link = link_in(message, "reset-password")
        parts = urlsplit(link)
        hop = app.test_client().get(f"{parts.path}?{parts.query}")  # the link's own redirect
        assert hop.status_code == 302
        target = urlsplit(hop.headers["Location"])
        assert target.path == "/app/reset"
        token = parse_qs(target.query)["token"][0]
        done = reset_step(node, url, "reset", token, NEW_PASSWORD)
        assert done == {"data": {"status": True}, "error": None, "status": 200, "path": "/api/auth/reset-password"}
        again = reset_step(node, url, "reset", token, NEW_PASSWORD)
        assert again["status"] == 400 and again["error"]["code"] == "INVALID_TOKEN"
        with app.app_context():
            assert app.extensions["sessionauth"].authenticate("alice@example.com", NEW_PASSWORD) is not None
