/**
 * flask-sessionauth browser client: Better Auth's client calls for a Flask app.
 *
 *   import { createAuthClient } from "/account/static/sessionauth/client.js";
 *   const authClient = createAuthClient({ baseURL: "/api/auth" });
 *   const { data: sessions, error } = await authClient.listSessions();
 *   await authClient.revokeSession({ token: sessions[1].token });
 *
 * A small, dependency-free stand-in for `createAuthClient` from
 * `better-auth/client` (which works against the same API unmodified). Every
 * session call exists in both spellings, `authClient.listSessions()` and
 * `authClient.user.listSessions()`. Every call resolves to `{ data, error }`
 * and never throws: `error` is null on success, else `{ code, message,
 * status, statusText }` with Better Auth's codes (`retryAfter` in seconds on
 * 429). Requests carry the session cookie (`credentials: "include"`); no CSRF
 * token is needed, the browser's own `Origin` and `Sec-Fetch-Site` headers are
 * what the server checks. The module runs under a strict CSP (`script-src
 * 'self'`): no eval, no inline code.
 */

const DEFAULT_BASE_URL = "/api/auth";

function networkError(cause) {
  return {
    code: "network_error",
    message: (cause && cause.message) || "The server could not be reached.",
    status: 0,
    statusText: "",
  };
}

async function readJSON(response) {
  const text = await response.text();
  if (!text) return null;
  try {
    return JSON.parse(text);
  } catch {
    return null;
  }
}

/**
 * Create a client for the JSON API mounted at `baseURL` (default "/api/auth").
 *
 * Options: `baseURL`; `fetch` (a fetch implementation, e.g. for tests).
 */
export function createAuthClient(options = {}) {
  const baseURL = String(options.baseURL || DEFAULT_BASE_URL).replace(/\/+$/, "");
  const fetchImpl = options.fetch || globalThis.fetch.bind(globalThis);

  async function send(method, path, body, fetchOptions = {}) {
    const headers = { Accept: "application/json" };
    const init = {
      method,
      headers,
      credentials: "include",
      cache: "no-store",
      redirect: "error",
      signal: fetchOptions.signal,
    };
    if (body !== undefined) {
      headers["Content-Type"] = "application/json";
      init.body = JSON.stringify(body);
    }
    let response;
    try {
      response = await fetchImpl(baseURL + path, init);
    } catch (cause) {
      return { data: null, error: networkError(cause) };
    }
    const payload = await readJSON(response);
    if (response.ok) return { data: payload, error: null };
    const reported = payload && typeof payload === "object" ? payload : {};
    const error = {
      code: reported.code || "http_error",
      message: reported.message || response.statusText || `HTTP ${response.status}`,
      status: response.status,
      statusText: response.statusText,
    };
    const retryAfter = Number(response.headers.get("Retry-After"));
    if (retryAfter > 0) error.retryAfter = retryAfter;
    return { data: null, error };
  }

  async function call(method, path, body, fetchOptions = {}) {
    const result = await send(method, path, body, fetchOptions);
    const { onSuccess, onError } = fetchOptions;
    if (result.error && onError) onError({ error: result.error });
    if (!result.error && onSuccess) onSuccess({ data: result.data });
    return result;
  }

  const post = (path) => (input = {}, fetchOptions) => call("POST", path, input, fetchOptions);

  const sessions = {
    /** The caller's active sessions (each with `token`, its public id), most recently active first. */
    listSessions: (fetchOptions) => call("GET", "/list-sessions", undefined, fetchOptions),
    /** `{ token }` (a listed session's; `{ id }` works too) → `{ status: true }`, also when it is not the caller's. */
    revokeSession: ({ token, id } = {}, fetchOptions) =>
      call("POST", "/revoke-session", { token: token ?? id }, fetchOptions),
    /** Every session, this one included. Needs a fresh sign-in, or `{ password }` (else 403 SESSION_NOT_FRESH). */
    revokeSessions: post("/revoke-sessions"),
    /** Every session but this one. Needs a fresh sign-in, or `{ password }` (else 403 SESSION_NOT_FRESH). */
    revokeOtherSessions: post("/revoke-other-sessions"),
    /** `{ currentPassword, newPassword, revokeOtherSessions = false }` → `{ token: null, user, session }`. */
    changePassword: ({ currentPassword, newPassword, revokeOtherSessions = false } = {}, fetchOptions) =>
      call("POST", "/change-password", { currentPassword, newPassword, revokeOtherSessions }, fetchOptions),
  };

  return {
    baseURL,
    /** `{ session, user }`, or `null` when signed out. */
    getSession: (fetchOptions) => call("GET", "/get-session", undefined, fetchOptions),
    signIn: {
      /** `{ email, password, rememberMe = true }` → `{ redirect: false, token: null, user, session }`. */
      email: ({ email, password, rememberMe = true } = {}, fetchOptions) =>
        call("POST", "/sign-in/email", { email, password, rememberMe }, fetchOptions),
    },
    signOut: post("/sign-out"),
    ...sessions,
    // Both spellings, as the seed code uses them: authClient.user.listSessions() etc.
    user: { ...sessions },
  };
}

/** A client for the default mount point, for `import { authClient }`. */
export const authClient = createAuthClient();

export default authClient;
