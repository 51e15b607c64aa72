// The real Better Auth client (npm `better-auth`, pinned in package-lock.json),
// unmodified, against a server's /api/auth: wire compatibility of the session
// endpoints (docs/better-auth.md is the spec these tests encode).
//
//   SESSIONAUTH_BASE_URL=http://127.0.0.1:5000 node --test better-auth.test.mjs
//
// Environment:
//   SESSIONAUTH_BASE_URL      the server (required); the client gets baseURL = it + "/api/auth"
//   SESSIONAUTH_TARGET        "flask" (default): flask-sessionauth, including its documented
//                             differences; "better-auth": the real Better Auth server
//                             (reference-server.mjs), to check this suite itself
//   SESSIONAUTH_FRESH_AGE     the server's freshness window in seconds (default 3); the stale
//                             tests wait this long
//   SESSIONAUTH_TRUSTED_ORIGIN an origin the server lists as trusted (default http://127.0.0.1:5173)
//   SESSIONAUTH_INJECT_CSRF   "1": add flask-sessionauth's X-CSRFToken through the client's own
//                             fetchOptions.onRequest (diagnosis of servers that still require it)
//   SESSIONAUTH_LOG           "1": print every exchange
//
// The accounts of users.json must exist with users.json's password. Each test
// uses its own account, so tests never see each other's sessions.
import assert from "node:assert/strict";
import { setTimeout as sleep } from "node:timers/promises";
import { test } from "node:test";
import { createAuthClient } from "better-auth/client";
import { Device, parseSetCookie, UA_CHROME, UA_FIREFOX } from "./lib/browser.mjs";
import { PASSWORD, USERS } from "./lib/users.mjs";

const BASE = process.env.SESSIONAUTH_BASE_URL?.replace(/\/+$/, "");
if (!BASE) throw new Error("Set SESSIONAUTH_BASE_URL to the server under test (e.g. http://127.0.0.1:5000)");
const ORIGIN = new URL(BASE).origin;
const API = `${BASE}/api/auth`;
const TARGET = process.env.SESSIONAUTH_TARGET ?? "flask";
const FLASK = TARGET === "flask";
const FRESH_AGE = Number(process.env.SESSIONAUTH_FRESH_AGE ?? 3);
const TRUSTED_ORIGIN = process.env.SESSIONAUTH_TRUSTED_ORIGIN ?? "http://127.0.0.1:5173";
// Same site as the server (127.0.0.1), so a browser sends its SameSite=Lax
// cookies along: only the server's origin check stands in the way.
const UNTRUSTED_SAME_SITE = "http://127.0.0.1:5174";
const CROSS_SITE = "http://evil.example";
const INJECT_CSRF = process.env.SESSIONAUTH_INJECT_CSRF === "1";
const LOG = process.env.SESSIONAUTH_LOG === "1";
const ISO_MS = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;
const NEW_PASSWORD = "a new long password";

// Better Auth's error codes and messages (BASE_ERROR_CODES in @better-auth/core).
const E = {
  INVALID_EMAIL_OR_PASSWORD: "Invalid email or password",
  UNAUTHORIZED: "Unauthorized",
  INVALID_PASSWORD: "Invalid password",
  PASSWORD_TOO_SHORT: "Password too short",
  SESSION_NOT_FRESH: "Session is not fresh",
  INVALID_ORIGIN: "Invalid origin",
  MISSING_OR_NULL_ORIGIN: "Missing or null Origin",
  VALIDATION_ERROR: null, // the message names the field
  UNSUPPORTED_MEDIA_TYPE: null,
};

assert.ok(TARGET === "flask" || TARGET === "better-auth", `unknown SESSIONAUTH_TARGET ${TARGET}`);

// -- devices and clients -----------------------------------------------------------

function device(name, { pageOrigin = ORIGIN, userAgent = UA_CHROME, jar } = {}) {
  const d = new Device(name, { pageOrigin, userAgent, jar, log: LOG });
  d.client = makeClient(d);
  return d;
}

function makeClient(d, baseURL = API) {
  const fetchOptions = { customFetchImpl: d.fetch };
  if (INJECT_CSRF) {
    fetchOptions.onRequest = async (context) => {
      if (context.method === "GET") return context;
      const response = await d.fetch(`${API}/csrf-token`, { credentials: "include" });
      const { csrfToken } = await response.json();
      context.headers.set("X-CSRFToken", csrfToken);
      return context;
    };
  }
  return createAuthClient({ baseURL, fetchOptions });
}

async function signIn(d, user, password = PASSWORD) {
  const result = await d.client.signIn.email({ email: user.email, password });
  assert.equal(result.error, null, `${d.name}: signIn.email(${user.email}) failed: ${describe(result.error)} ${lastBody(d)}`);
  return result;
}

/** The token of the device's session as the server reports it (getSession). */
async function currentToken(d) {
  const { data, error } = await d.client.getSession();
  assert.equal(error, null, `${d.name}: getSession failed: ${describe(error)}`);
  assert.ok(data, `${d.name}: expected to be signed in, getSession returned null`);
  return data.session.token;
}

async function assertSignedIn(d) {
  const { data, error } = await d.client.getSession();
  assert.equal(error, null, `${d.name}: getSession failed: ${describe(error)}`);
  assert.notEqual(data, null, `${d.name} should still be signed in`);
  return data;
}

async function assertSignedOut(d) {
  const { data, error } = await d.client.getSession();
  assert.equal(error, null, `${d.name}: getSession failed: ${describe(error)}`);
  assert.equal(data, null, `${d.name} should be signed out, getSession returned a session`);
}

function describe(error) {
  return error ? JSON.stringify(error) : "null";
}

function lastBody(d) {
  const x = d.exchanges.at(-1);
  return x ? `(last exchange: ${x.method} ${new URL(x.url).pathname} -> ${x.status} ${x.body.slice(0, 300)})` : "";
}

/** The raw JSON the server sent for the last call to `path`. */
function raw(d, path) {
  const x = d.last(path);
  assert.ok(x, `${d.name}: no request to ${path} was made`);
  return JSON.parse(x.body);
}

function sessionCookie(d) {
  return d.jar
    .all(API)
    .find((c) => c.name === "better-auth.session_token" || c.name.endsWith("sessionauth")) ?? null;
}

// -- shape assertions (docs/better-auth.md, "Objects") ---------------------------

function assertDate(value, label, { nullable = false } = {}) {
  if (nullable && value === null) return;
  assert.equal(typeof value, "string", `${label} must be an ISO 8601 string, got ${JSON.stringify(value)}`);
  assert.match(value, ISO_MS, `${label} must look like Date.prototype.toISOString(): ${value}`);
}

/** A User as Better Auth sends it: id, email, name, emailVerified, image?, createdAt, updatedAt. */
function assertUser(user, expected) {
  assert.equal(typeof user, "object");
  assert.equal(typeof user.id, "string", "user.id is a string");
  assert.equal(user.email, expected.email);
  assert.equal(user.name, expected.name);
  assert.equal(typeof user.emailVerified, "boolean", "user.emailVerified is a boolean");
  if ("image" in user) assert.ok(user.image === null || typeof user.image === "string", "user.image is null or a string");
  for (const key of ["createdAt", "updatedAt"]) {
    assert.ok(key in user, `user.${key} is present`);
    // Better Auth always has them; flask-sessionauth sends null when the
    // user model has no created_at/updated_at column (the test model has none).
    assertDate(user[key], `user.${key}`, { nullable: FLASK });
  }
  for (const secret of ["password", "password_hash", "passwordHash"]) assert.ok(!(secret in user), `user.${secret} must never be sent`);
}

/** A Session as Better Auth sends it; `token` is a string (flask-sessionauth: the public id). */
function assertSession(session, { userId, userAgent } = {}) {
  for (const key of ["id", "token", "userId", "expiresAt", "createdAt", "updatedAt", "ipAddress", "userAgent"]) {
    assert.ok(key in session, `session.${key} is present (got keys ${Object.keys(session).join(", ")})`);
  }
  assert.equal(typeof session.id, "string");
  assert.equal(typeof session.token, "string", "session.token is a string (what revokeSession({token}) sends back)");
  if (FLASK) assert.equal(session.token, session.id, "flask-sessionauth puts the public session id in `token`, never a credential");
  else assert.notEqual(session.token, session.id);
  assert.equal(typeof session.userId, "string");
  if (userId !== undefined) assert.equal(session.userId, userId);
  for (const key of ["expiresAt", "createdAt", "updatedAt"]) assertDate(session[key], `session.${key}`);
  assert.ok(Date.parse(session.expiresAt) > Date.now(), "session.expiresAt is in the future");
  assert.ok(session.ipAddress === null || typeof session.ipAddress === "string");
  if (userAgent !== undefined) assert.equal(session.userAgent, userAgent);
  for (const secret of ["secret", "secretHash", "secret_hash", "tokenHash"]) assert.ok(!(secret in session), `session.${secret} must never be sent`);
}

/** `{data: null, error: {code, message, status}}` from a top-level `{code, message}` body. */
function assertError(d, result, status, code, path) {
  assert.equal(result.data, null, `expected an error ${status} ${code}, got data ${JSON.stringify(result.data)}`);
  assert.ok(result.error, "expected an error");
  assert.equal(result.error.status, status, `status: expected ${status} ${code}, got ${describe(result.error)} ${lastBody(d)}`);
  assert.equal(result.error.code, code, `error.code: expected ${code}, got ${describe(result.error)} ${lastBody(d)}`);
  assert.equal(typeof result.error.message, "string", "error.message is a string");
  assert.ok(result.error.message.length > 0);
  if (!FLASK && E[code]) assert.equal(result.error.message, E[code]);
  if (path) {
    const body = raw(d, path);
    assert.equal(body.code, code, "`code` is at the top level of the body");
    assert.equal(typeof body.message, "string", "`message` is at the top level of the body");
    // flask-sessionauth also sends, deprecated for one release, the same error
    // nested under `error` with its older lower-case code; the client ignores it.
    if (FLASK && body.error !== undefined) assert.equal(body.error.message, body.message, "the legacy copy says the same");
    else assert.ok(!("error" in body) || typeof body.error !== "object", "no nested {error: {...}} object");
  }
}

/** No response may contain the secret half of a flask-sessionauth cookie. */
function assertNoSecretsSent(...devices) {
  if (!FLASK) return; // Better Auth sends raw tokens by design
  for (const d of devices) {
    const secrets = new Set();
    for (const x of d.exchanges) {
      for (const line of x.setCookies) {
        const value = line.split(";")[0].split("=").slice(1).join("=");
        const secret = value.split(".")[1];
        if (secret && secret.length >= 16) secrets.add(secret);
      }
    }
    for (const x of d.exchanges) {
      for (const secret of secrets) {
        assert.ok(!x.body.includes(secret), `${x.method} ${x.url} returned a cookie secret in its body`);
      }
    }
  }
}

async function until(condition, timeout = 5000) {
  const end = Date.now() + timeout;
  while (!condition() && Date.now() < end) await sleep(25);
}

function assertFreshWindow(since, what) {
  const elapsed = (Date.now() - since) / 1000;
  assert.ok(
    elapsed < FRESH_AGE - 0.5,
    `${what} took ${elapsed.toFixed(1)} s after sign-in, too close to SESSIONAUTH_FRESH_AGE=${FRESH_AGE} s to test a fresh session; raise it`,
  );
}

// -- the calls ----------------------------------------------------------------------

test("signIn.email: Better Auth's response, a session cookie, no credential in the body", async () => {
  const user = USERS.main;
  const laptop = device("laptop");
  const result = await signIn(laptop, user);
  const x = laptop.last("/sign-in/email");
  assert.equal(x.method, "POST");
  assert.equal(x.status, 200);
  const body = JSON.parse(x.body);
  for (const key of ["redirect", "token", "user"]) assert.ok(key in body, `sign-in body has \`${key}\` (keys: ${Object.keys(body)})`);
  assert.equal(body.redirect, false);
  assert.ok(body.url === undefined || body.url === null, "url is absent without callbackURL");
  if (FLASK) assert.equal(body.token, null, "flask-sessionauth answers token: null (the cookie is the only credential)");
  else assert.equal(typeof body.token, "string");
  assertUser(body.user, user);
  // What the client hands the app: the same, with dates parsed into Date objects.
  assert.equal(result.data.user.email, user.email);
  if (result.data.user.createdAt !== null) assert.ok(result.data.user.createdAt instanceof Date);

  const cookie = sessionCookie(laptop);
  assert.ok(cookie, `a session cookie was set (Set-Cookie: ${x.setCookies.join(" | ")})`);
  assert.equal(cookie.httpOnly, true);
  assert.equal(cookie.sameSite, "lax");
  assert.equal(cookie.path, "/");
  assert.ok(cookie.maxAge > 0, "rememberMe defaults to true: the cookie has a Max-Age");
  assertNoSecretsSent(laptop);
});

test("signIn.email with rememberMe: false gives a browser-session cookie", async () => {
  const phone = device("phone", { userAgent: UA_FIREFOX });
  const result = await phone.client.signIn.email({ email: USERS.main.email, password: PASSWORD, rememberMe: false });
  assert.equal(result.error, null, describe(result.error));
  const cookie = sessionCookie(phone);
  assert.ok(cookie);
  assert.equal(cookie.expires, null, `no Max-Age/Expires on the session cookie: ${cookie.raw}`);
  // Every cookie this sign-in sets (a cookie cache's too, when the server has
  // one) ends with the browser session, as Better Auth's do.
  for (const line of phone.last("/sign-in/email").setCookies) {
    const set = parseSetCookie(line);
    if (set.maxAge !== null && set.maxAge <= 0) continue; // a deletion
    assert.equal(set.expires, null, `rememberMe: false, yet this cookie outlives the browser session: ${line}`);
  }
  const { data } = await phone.client.getSession();
  assert.ok(Date.parse(data.session.expiresAt) <= Date.now() + 86_400_000 + 5_000, "the session lasts at most a day");
  await phone.client.signOut();
});

test("getSession: {session, user} with Better Auth's fields; null when signed out", async () => {
  const user = USERS.main;
  const laptop = device("laptop");
  await signIn(laptop, user);
  const { data, error } = await laptop.client.getSession();
  assert.equal(error, null, describe(error));
  const x = laptop.last("/get-session");
  assert.equal(x.method, "GET");
  assert.equal(x.status, 200);
  assert.match(x.responseHeaders["cache-control"] ?? "", /no-store/);
  const body = JSON.parse(x.body);
  assert.ok(body.session && body.user, "body is {session, user}");
  assertUser(body.user, user);
  assertSession(body.session, { userId: body.user.id, userAgent: UA_CHROME });
  assert.ok(data.session.expiresAt instanceof Date, "the client parsed expiresAt into a Date");
  assert.equal(data.session.token, body.session.token);

  // The cookie-cache query the client may add is accepted (and must not bypass anything).
  const uncached = await laptop.client.getSession({ query: { disableCookieCache: true } });
  assert.equal(uncached.error, null, describe(uncached.error));
  assert.equal(uncached.data.session.id, data.session.id);

  const stranger = device("stranger");
  const anonymous = await stranger.client.getSession();
  assert.deepEqual(anonymous, { data: null, error: null });
  const y = stranger.last("/get-session");
  assert.equal(y.status, 200);
  assert.equal(y.body.trim(), "null");
  assertNoSecretsSent(laptop);
});

test("listSessions: every device's session, as Better Auth Session objects", async () => {
  const user = USERS.main;
  const laptop = device("laptop");
  const phone = device("phone", { userAgent: UA_FIREFOX });
  await signIn(laptop, user);
  await signIn(phone, user);
  const laptopSession = (await assertSignedIn(laptop)).session;
  const phoneSession = (await assertSignedIn(phone)).session;

  const { data, error } = await laptop.client.listSessions();
  assert.equal(error, null, `${describe(error)} ${lastBody(laptop)}`);
  const x = laptop.last("/list-sessions");
  assert.equal(x.method, "GET");
  assert.equal(new URL(x.url).pathname, "/api/auth/list-sessions");
  const body = JSON.parse(x.body);
  assert.ok(Array.isArray(body), "the body is a JSON array");
  for (const session of body) assertSession(session, { userId: laptopSession.userId });
  const tokens = body.map((s) => s.token);
  assert.ok(tokens.includes(laptopSession.token), "the laptop's own session is listed");
  assert.ok(tokens.includes(phoneSession.token), "the phone's session is listed");
  assert.equal(body.find((s) => s.token === phoneSession.token).userAgent, UA_FIREFOX);
  assert.ok(data.every((s) => s.expiresAt instanceof Date));

  if (FLASK) {
    // A listed token is the public id: presented as a cookie, it signs nobody in.
    const name = sessionCookie(laptop).name;
    for (const token of tokens) {
      const response = await fetch(`${API}/get-session`, { headers: { cookie: `${name}=${token}` } });
      assert.equal((await response.text()).trim(), "null", "a listed token must not authenticate");
    }
  }
  assertNoSecretsSent(laptop, phone);
  await laptop.client.signOut();
  await phone.client.signOut();
});

test("revokeSession({token}) with a listed session's token signs that device out", async () => {
  const user = USERS.main;
  const laptop = device("laptop");
  const phone = device("phone", { userAgent: UA_FIREFOX });
  await signIn(laptop, user);
  await signIn(phone, user);
  const phoneToken = await currentToken(phone);

  const listed = await laptop.client.listSessions();
  assert.equal(listed.error, null, describe(listed.error));
  const entry = listed.data.find((s) => s.token === phoneToken);
  assert.ok(entry, "the phone is in the laptop's list");

  const result = await laptop.client.revokeSession({ token: entry.token });
  assert.equal(result.error, null, `${describe(result.error)} ${lastBody(laptop)}`);
  const x = laptop.last("/revoke-session");
  assert.equal(x.method, "POST");
  assert.deepEqual(JSON.parse(x.requestBody), { token: entry.token }, "the client sends {token}");
  assert.deepEqual(JSON.parse(x.body), { status: true });
  await assertSignedOut(phone);
  await assertSignedIn(laptop);

  // An unknown token: Better Auth answers {status: true} and changes nothing.
  const unknown = await laptop.client.revokeSession({ token: "A".repeat(22) });
  assert.equal(unknown.error, null, `${describe(unknown.error)} ${lastBody(laptop)}`);
  assert.deepEqual(unknown.data, { status: true });
  await assertSignedIn(laptop);

  // No token at all is a validation error.
  const missing = await laptop.client.$fetch("/revoke-session", { method: "POST", body: {} });
  assertError(laptop, missing, 400, "VALIDATION_ERROR", "/revoke-session");

  // Its own token signs this device out and clears the cookie.
  const own = await currentToken(laptop);
  const self = await laptop.client.revokeSession({ token: own });
  assert.equal(self.error, null, describe(self.error));
  await assertSignedOut(laptop);
  assert.equal(sessionCookie(laptop), null, "the session cookie was cleared");
});

test("revokeOtherSessions on a fresh session signs out every other device", async () => {
  const user = USERS.fresh;
  const laptop = device("laptop");
  const phone = device("phone", { userAgent: UA_FIREFOX });
  const tablet = device("tablet", { userAgent: UA_FIREFOX });
  await signIn(phone, user);
  await signIn(tablet, user);
  const signedInAt = Date.now();
  await signIn(laptop, user);
  const before = await currentToken(laptop);

  assertFreshWindow(signedInAt, "revokeOtherSessions");
  const result = await laptop.client.revokeOtherSessions();
  assert.equal(result.error, null, `${describe(result.error)} ${lastBody(laptop)}`);
  const x = laptop.last("/revoke-other-sessions");
  assert.equal(x.method, "POST");
  assert.equal(JSON.parse(x.body).status, true);
  await assertSignedOut(phone);
  await assertSignedOut(tablet);
  assert.equal(await currentToken(laptop), before);
  const listed = await laptop.client.listSessions();
  assert.deepEqual(listed.data.map((s) => s.token), [before]);
  await laptop.client.signOut();
});

test("revokeSessions signs out every device, this one included", async () => {
  const user = USERS.bulk;
  const laptop = device("laptop");
  const phone = device("phone", { userAgent: UA_FIREFOX });
  await signIn(phone, user);
  const signedInAt = Date.now();
  await signIn(laptop, user);
  assertFreshWindow(signedInAt, "revokeSessions");
  const result = await laptop.client.revokeSessions();
  assert.equal(result.error, null, `${describe(result.error)} ${lastBody(laptop)}`);
  const x = laptop.last("/revoke-sessions");
  assert.equal(x.method, "POST");
  assert.equal(JSON.parse(x.body).status, true);
  assert.equal(sessionCookie(laptop), null, "this device's cookie was cleared");
  await assertSignedOut(laptop);
  await assertSignedOut(phone);
});

test("a stale session: Better Auth lets bulk revocation through; flask-sessionauth asks for the password", async (t) => {
  const user = USERS.stale;
  const laptop = device("laptop");
  const phone = device("phone", { userAgent: UA_FIREFOX });
  const other = device("other-user-laptop");
  await signIn(laptop, user);
  await signIn(phone, user);
  await signIn(other, USERS.stale2);
  await sleep(FRESH_AGE * 1000 + 700);

  await t.test("listSessions", async () => {
    const listed = await laptop.client.listSessions();
    if (FLASK) {
      // Difference: listing is not a sensitive action here (the devices page
      // lists without asking for the password either).
      assert.equal(listed.error, null, describe(listed.error));
      assert.equal(listed.data.length, 2);
    } else {
      // Better Auth 1.7 puts list-sessions behind freshSessionMiddleware.
      assertError(laptop, listed, 403, "SESSION_NOT_FRESH", "/list-sessions");
    }
  });

  await t.test("revokeOtherSessions()", async () => {
    const stale = await laptop.client.revokeOtherSessions();
    if (!FLASK) {
      // Better Auth: sensitiveSessionMiddleware, no freshness check.
      assert.equal(stale.error, null, describe(stale.error));
      await assertSignedOut(phone);
      return;
    }
    assertError(laptop, stale, 403, "SESSION_NOT_FRESH", "/revoke-other-sessions");
    await assertSignedIn(phone);

    const wrong = await laptop.client.revokeOtherSessions({ password: "not the password" });
    assertError(laptop, wrong, 400, "INVALID_PASSWORD", "/revoke-other-sessions");
    await assertSignedIn(phone);

    const confirmed = await laptop.client.revokeOtherSessions({ password: PASSWORD });
    assert.equal(confirmed.error, null, `${describe(confirmed.error)} ${lastBody(laptop)}`);
    assert.deepEqual(JSON.parse(laptop.last("/revoke-other-sessions").requestBody), { password: PASSWORD });
    assert.equal(confirmed.data.status, true);
    await assertSignedOut(phone);
    await assertSignedIn(laptop);
  });

  await t.test("revokeSessions()", async () => {
    const stale = await other.client.revokeSessions();
    if (!FLASK) {
      assert.equal(stale.error, null, describe(stale.error));
      await assertSignedOut(other);
      return;
    }
    assertError(other, stale, 403, "SESSION_NOT_FRESH", "/revoke-sessions");
    await assertSignedIn(other);
    const confirmed = await other.client.revokeSessions({ password: PASSWORD });
    assert.equal(confirmed.error, null, `${describe(confirmed.error)} ${lastBody(other)}`);
    assert.equal(confirmed.data.status, true);
    await assertSignedOut(other);
  });
});

test("changePassword({currentPassword, newPassword, revokeOtherSessions: true}) signs the other device out", async () => {
  const user = USERS.password;
  const laptop = device("laptop");
  const phone = device("phone", { userAgent: UA_FIREFOX });
  await signIn(laptop, user);
  await signIn(phone, user);

  const wrong = await laptop.client.changePassword({ currentPassword: "not the password", newPassword: NEW_PASSWORD });
  assertError(laptop, wrong, 400, "INVALID_PASSWORD", "/change-password");
  const short = await laptop.client.changePassword({ currentPassword: PASSWORD, newPassword: "short" });
  assertError(laptop, short, 400, "PASSWORD_TOO_SHORT", "/change-password");
  await assertSignedIn(phone);

  const before = sessionCookie(laptop).value;
  const result = await laptop.client.changePassword({
    currentPassword: PASSWORD,
    newPassword: NEW_PASSWORD,
    revokeOtherSessions: true,
  });
  assert.equal(result.error, null, `${describe(result.error)} ${lastBody(laptop)}`);
  const x = laptop.last("/change-password");
  assert.equal(x.method, "POST");
  const body = JSON.parse(x.body);
  assert.ok("token" in body && "user" in body, `body is {token, user}: ${x.body}`);
  if (FLASK) assert.equal(body.token, null);
  else assert.equal(typeof body.token, "string", "Better Auth returns the new session's token");
  assertUser(body.user, user);
  assert.notEqual(sessionCookie(laptop)?.value, before, "this device got a new session cookie");
  await assertSignedIn(laptop);
  await assertSignedOut(phone);

  const old = await phone.client.signIn.email({ email: user.email, password: PASSWORD });
  assertError(phone, old, 401, "INVALID_EMAIL_OR_PASSWORD", "/sign-in/email");
  await signIn(phone, user, NEW_PASSWORD);

  // Without revokeOtherSessions: token null, the other device stays.
  const kept = await laptop.client.changePassword({ currentPassword: NEW_PASSWORD, newPassword: PASSWORD });
  assert.equal(kept.error, null, describe(kept.error));
  assert.equal(JSON.parse(laptop.last("/change-password").body).token, null);
  await assertSignedIn(phone);
  await assertSignedIn(laptop);
  assertNoSecretsSent(laptop, phone);
});

test("signOut ends this session only and clears its cookie; harmless when signed out", async () => {
  const user = USERS.signout;
  const laptop = device("laptop");
  const phone = device("phone", { userAgent: UA_FIREFOX });
  await signIn(laptop, user);
  await signIn(phone, user);
  const result = await laptop.client.signOut();
  assert.equal(result.error, null, `${describe(result.error)} ${lastBody(laptop)}`);
  const x = laptop.last("/sign-out");
  assert.equal(x.method, "POST");
  assert.deepEqual(JSON.parse(x.body), { success: true });
  assert.equal(sessionCookie(laptop), null, "the cookie was cleared");
  await assertSignedOut(laptop);
  await assertSignedIn(phone);
  const again = await laptop.client.signOut();
  assert.equal(again.error, null, describe(again.error));
  assert.deepEqual(again.data, { success: true });
  await phone.client.signOut();
});

test("the useSession store follows sign-in and sign-out", async () => {
  const user = USERS.signout;
  const laptop = device("laptop");
  const store = laptop.client.useSession;
  const states = [];
  const unsubscribe = store.subscribe((value) => states.push(value));
  try {
    await signIn(laptop, user);
    // The sign-in's session signal triggers a refetch of its own (10 ms later),
    // which may supersede this one: wait for the store to settle.
    await store.get().refetch();
    await until(() => store.get().data?.user.email === user.email);
    assert.equal(store.get().data?.user.email, user.email, `useSession: ${JSON.stringify(store.get())}`);
    await laptop.client.signOut();
    await until(() => store.get().data === null && !store.get().isRefetching);
    assert.equal(store.get().data, null, "useSession was refreshed by the sign-out signal");
  } finally {
    unsubscribe();
  }
});

test("errors: {code, message} at the top level with Better Auth's codes and statuses", async (t) => {
  const user = USERS.errors;
  const laptop = device("laptop");

  await t.test("wrong password", async () => {
    const result = await laptop.client.signIn.email({ email: user.email, password: "not the password" });
    assertError(laptop, result, 401, "INVALID_EMAIL_OR_PASSWORD", "/sign-in/email");
    assert.equal(sessionCookie(laptop), null);
  });
  await t.test("unknown email", async () => {
    const result = await laptop.client.signIn.email({ email: "nobody@example.com", password: PASSWORD });
    assertError(laptop, result, 401, "INVALID_EMAIL_OR_PASSWORD", "/sign-in/email");
  });
  await t.test("missing field", async () => {
    const result = await laptop.client.signIn.email({ email: user.email });
    assertError(laptop, result, 400, "VALIDATION_ERROR", "/sign-in/email");
  });
  await t.test("listSessions signed out", async () => {
    const result = await laptop.client.listSessions();
    assertError(laptop, result, 401, "UNAUTHORIZED", "/list-sessions");
  });
  await t.test("revokeOtherSessions signed out", async () => {
    const result = await laptop.client.revokeOtherSessions();
    assertError(laptop, result, 401, "UNAUTHORIZED", "/revoke-other-sessions");
  });
  await t.test("changePassword signed out", async () => {
    const result = await laptop.client.changePassword({ currentPassword: PASSWORD, newPassword: NEW_PASSWORD });
    assertError(laptop, result, 401, "UNAUTHORIZED", "/change-password");
  });
  await t.test("a text/plain body", async () => {
    const response = await laptop.fetch(`${API}/sign-in/email`, {
      method: "POST",
      credentials: "include",
      headers: { "content-type": "text/plain" },
      body: JSON.stringify({ email: user.email, password: PASSWORD }),
    });
    assert.equal(response.status, 415);
    const body = await response.json();
    assert.equal(body.code, "UNSUPPORTED_MEDIA_TYPE");
    assert.equal(sessionCookie(laptop), null);
  });
});

test("CSRF: cross-site and untrusted origins are refused, a trusted origin works with CORS", async (t) => {
  const user = USERS.origins;
  const victim = device("victim");
  const victimPhone = device("victim-phone", { userAgent: UA_FIREFOX });
  await signIn(victim, user);
  await signIn(victimPhone, user);
  const tokens = async () => (await victim.client.listSessions()).data.map((s) => s.token).sort();
  const before = await tokens();
  assert.equal(before.length, 2);
  const cookie = () => `${sessionCookie(victim).name}=${sessionCookie(victim).value}`;

  // Pages the victim's browser opens: they share the victim's cookie jar.
  const sameSite = device("untrusted-same-site-page", { pageOrigin: UNTRUSTED_SAME_SITE, jar: victim.jar });
  const crossSite = device("cross-site-page", { pageOrigin: CROSS_SITE, jar: victim.jar });

  await t.test("the real client on an untrusted page: the CORS preflight fails, nothing happens", async () => {
    await assert.rejects(sameSite.client.revokeOtherSessions(), TypeError);
    await assert.rejects(crossSite.client.signOut(), TypeError);
    assert.deepEqual(await tokens(), before);
  });

  await t.test("a simple (no-preflight) POST from an untrusted same-site page, cookies attached", async () => {
    await assert.rejects(
      sameSite.fetch(`${API}/revoke-other-sessions`, {
        method: "POST",
        credentials: "include",
        headers: { "content-type": "text/plain" },
        body: "{}",
      }),
      TypeError, // the page cannot read the answer; what matters is what the server did
    );
    const x = sameSite.last("/revoke-other-sessions");
    assert.ok(x.requestHeaders.cookie, "the browser attached the session cookie (same site)");
    assert.ok(x.status >= 400, `refused: ${x.status} ${x.body}`);
    if (FLASK) {
      assert.equal(x.status, 403);
      assert.equal(JSON.parse(x.body).code, "INVALID_ORIGIN");
    }
    assert.deepEqual(await tokens(), before);
  });

  await t.test("a cross-site form login (login CSRF)", async () => {
    await assert.rejects(
      crossSite.fetch(`${API}/sign-in/email`, {
        method: "POST",
        credentials: "include",
        headers: { "content-type": "application/x-www-form-urlencoded" },
        body: new URLSearchParams({ email: user.email, password: PASSWORD }).toString(),
      }),
      TypeError,
    );
    const x = crossSite.last("/sign-in/email");
    assert.equal(x.status, 403, `refused: ${x.status} ${x.body}`);
    assert.equal(JSON.parse(x.body).code, "INVALID_ORIGIN");
  });

  await t.test("Origin: null and no Origin at all, with the cookie", async () => {
    for (const headers of [{ origin: "null" }, {}]) {
      const response = await fetch(`${API}/revoke-other-sessions`, {
        method: "POST",
        headers: { cookie: cookie(), "content-type": "application/json", ...headers },
        body: "{}",
      });
      const text = await response.text();
      assert.equal(response.status, 403, `${JSON.stringify(headers)}: ${response.status} ${text}`);
      assert.equal(JSON.parse(text).code, "MISSING_OR_NULL_ORIGIN", text);
    }
    assert.deepEqual(await tokens(), before);
  });

  await t.test("a cross-site top-level navigation to a GET alias", { skip: !FLASK && "Better Auth has no /user/* routes" }, async () => {
    const response = await fetch(`${API}/user/revoke-sessions`, {
      headers: {
        cookie: cookie(), // SameSite=Lax cookies do go along on top-level navigations
        "sec-fetch-site": "cross-site",
        "sec-fetch-mode": "navigate",
        "sec-fetch-dest": "document",
        "user-agent": UA_CHROME,
      },
      redirect: "manual",
    });
    const text = await response.text();
    assert.equal(response.status, 403, `${response.status} ${text}`);
    assert.deepEqual(await tokens(), before);
  });

  await t.test("a trusted origin: the real client works cross-origin with credentials", async () => {
    const app = device("trusted-front-end", { pageOrigin: TRUSTED_ORIGIN });
    await signIn(app, user);
    const x = app.last("/sign-in/email");
    assert.equal(x.responseHeaders["access-control-allow-origin"], TRUSTED_ORIGIN);
    assert.equal(x.responseHeaders["access-control-allow-credentials"], "true");
    assert.match(x.responseHeaders.vary ?? "", /origin/i, "Vary: Origin");
    const preflight = app.exchanges.find((e) => e.method === "OPTIONS");
    assert.ok(preflight, "the JSON POST was preflighted");
    assert.ok(preflight.status >= 200 && preflight.status < 300, `preflight status ${preflight.status}`);
    const session = await assertSignedIn(app);
    assertSession(raw(app, "/get-session").session, { userAgent: UA_CHROME });
    const listed = await app.client.listSessions();
    assert.equal(listed.error, null, describe(listed.error));
    assert.deepEqual(listed.data.map((s) => s.token).sort(), [...before, session.session.token].sort());
    const revoked = await app.client.revokeSession({ token: session.session.token });
    assert.equal(revoked.error, null, describe(revoked.error));
    await assertSignedOut(app);
    await signIn(app, user);
    const out = await app.client.signOut();
    assert.equal(out.error, null, describe(out.error));
    await assertSignedOut(app);
  });

  await t.test("the victim's sessions are untouched", async () => {
    assert.deepEqual(await tokens(), before);
    await assertSignedIn(victimPhone);
  });
});

test(
  "the seed's spelling: authClient.user.listSessions / revokeSession / changePassword / revokeSessions",
  { skip: !FLASK && "Better Auth itself has no /user/* routes (the client maps user.x to /user/x)" },
  async () => {
    const user = USERS.seed;
    const laptop = device("laptop");
    const phone = device("phone", { userAgent: UA_FIREFOX });
    await signIn(phone, user);
    await signIn(laptop, user);
    const phoneToken = await currentToken(phone);

    const listed = await laptop.client.user.listSessions();
    let x = laptop.last("/user/list-sessions");
    assert.equal(x?.method, "GET");
    assert.equal(listed.error, null, `${describe(listed.error)} ${lastBody(laptop)}`);
    for (const session of JSON.parse(x.body)) assertSession(session);
    assert.ok(listed.data.some((s) => s.token === phoneToken));

    const revoked = await laptop.client.user.revokeSession({ token: phoneToken });
    x = laptop.last("/user/revoke-session");
    assert.equal(x.method, "POST");
    assert.equal(revoked.error, null, `${describe(revoked.error)} ${lastBody(laptop)}`);
    assert.deepEqual(revoked.data, { status: true });
    await assertSignedOut(phone);

    const changed = await laptop.client.user.changePassword({
      currentPassword: PASSWORD,
      newPassword: NEW_PASSWORD,
      revokeOtherSessions: true,
    });
    x = laptop.last("/user/change-password");
    assert.equal(x.method, "POST");
    assert.equal(changed.error, null, `${describe(changed.error)} ${lastBody(laptop)}`);
    assert.equal(changed.data.token, null);
    assertUser(JSON.parse(x.body).user, user);
    await assertSignedIn(laptop);

    // The client knows no method for /user/revoke-sessions and sends a body-less
    // call as GET: the server must accept that GET, with the same origin rules.
    await signIn(phone, user, NEW_PASSWORD);
    const freshAt = Date.now();
    await signIn(laptop, user, NEW_PASSWORD); // a fresh session for the bulk calls
    assertFreshWindow(freshAt, "user.revokeOtherSessions");
    const others = await laptop.client.user.revokeOtherSessions();
    x = laptop.last("/user/revoke-other-sessions");
    assert.equal(x.method, "GET");
    assert.equal(others.error, null, `${describe(others.error)} ${lastBody(laptop)}`);
    assert.equal(others.data.status, true);
    await assertSignedOut(phone);
    await assertSignedIn(laptop);

    await signIn(phone, user, NEW_PASSWORD);
    assertFreshWindow(freshAt, "user.revokeSessions");
    const all = await laptop.client.user.revokeSessions();
    x = laptop.last("/user/revoke-sessions");
    assert.equal(x.method, "GET");
    assert.equal(all.error, null, `${describe(all.error)} ${lastBody(laptop)}`);
    assert.equal(all.data.status, true);
    await assertSignedOut(laptop);
    await assertSignedOut(phone);
    assertNoSecretsSent(laptop, phone);
  },
);
