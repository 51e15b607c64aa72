/**
 * flask-sessionauth browser client: Better Auth's client calls for a Flask app.
 *
 *   import { createAuthClient } from "/account/static/sessionauth/client.js";
 *   const authClient = createAuthClient({ baseURL: "/api/auth" });
 *   const { data: sessions, error } = await authClient.user.listSessions();
 *   await authClient.user.revokeSession({ id: sessions[1].id });
 *
 * Every call resolves to `{ data, error }` and never throws: `error` is null on
 * success, else `{ code, message, status, statusText }` (`retryAfter` in
 * seconds on 429). Requests carry the session cookie (`credentials:
 * "same-origin"`), and state-changing ones the CSRF token in `X-CSRFToken`,
 * taken from `<meta name="csrf-token">` or fetched from `GET csrf-token`.
 * The module has no dependencies and runs under a strict CSP
 * (`script-src 'self'`): no eval, no inline code.
 */

const DEFAULT_BASE_URL = "/api/auth";
const CSRF_ERRORS = new Set(["csrf_missing", "csrf_invalid"]);

function metaCsrfToken() {
  if (typeof document === "undefined") return null;
  const meta = document.querySelector('meta[name="csrf-token"]');
  return (meta && meta.getAttribute("content")) || null;
}

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
 * Options: `baseURL`; `csrfToken` (else read from the page or fetched);
 * `fetch` (a fetch implementation, e.g. for tests).
 */
export function createAuthClient(options = {}) {
  const baseURL = String(options.baseURL || DEFAULT_BASE_URL).replace(/\/+$/, "");
  const fetchImpl = options.fetch || globalThis.fetch.bind(globalThis);
  let csrfToken = options.csrfToken || null;
  // After sign-out the page's token belongs to a cleared cookie session.
  let pageTokenValid = true;

  async function send(method, path, body, fetchOptions = {}) {
    const headers = { Accept: "application/json" };
    const init = {
      method,
      headers,
      credentials: "same-origin",
      cache: "no-store",
      redirect: "error",
      signal: fetchOptions.signal,
    };
    if (method !== "GET") {
      const token = await getCsrfToken();
      if (token) headers["X-CSRFToken"] = token;
      if (body !== undefined) {
        headers["Content-Type"] = "application/json";
        init.body = JSON.stringify(body);
      }
    }
    let response;
    try {
      response = await fetchImpl(baseURL + path, init);
    } catch (cause) {
      return { data: null, error: networkError(cause) };
    }
    const payload = await readJSON(response);
    if (response.ok) return { data: payload, error: null };
    const reported = payload && payload.error ? payload.error : {};
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

  /** Send, and on a stale CSRF token fetch a fresh one and try once more. */
  async function call(method, path, body, fetchOptions = {}) {
    let result = await send(method, path, body, fetchOptions);
    if (method !== "GET" && result.error && result.error.status === 403 && CSRF_ERRORS.has(result.error.code)) {
      csrfToken = null;
      pageTokenValid = false;
      result = await send(method, path, body, fetchOptions);
    }
    const { onSuccess, onError } = fetchOptions;
    if (result.error && onError) onError({ error: result.error });
    if (!result.error && onSuccess) onSuccess({ data: result.data });
    return result;
  }

  /** The CSRF token for `X-CSRFToken` (cached; `refresh` fetches a new one). */
  async function getCsrfToken(refresh = false) {
    if (refresh) {
      csrfToken = null;
      pageTokenValid = false;
    }
    if (csrfToken) return csrfToken;
    if (pageTokenValid) {
      csrfToken = metaCsrfToken();
      if (csrfToken) return csrfToken;
    }
    const { data } = await send("GET", "/csrf-token");
    csrfToken = (data && data.csrfToken) || null;
    return csrfToken;
  }

  const getSession = (fetchOptions) => call("GET", "/get-session", undefined, fetchOptions);

  const signIn = {
    /** `{ email, password, rememberMe = true }` → `{ session, user }`; the token stays in the cookie. */
    email: ({ email, password, rememberMe = true } = {}, fetchOptions) =>
      call("POST", "/sign-in/email", { email, password, rememberMe }, fetchOptions),
  };

  async function signOut(fetchOptions) {
    const result = await call("POST", "/sign-out", undefined, fetchOptions);
    if (!result.error) {
      // Sign-out clears site cookies, and with them the CSRF token's session.
      csrfToken = null;
      pageTokenValid = false;
    }
    return result;
  }

  const user = {
    /** The caller's active sessions, most recently active first. */
    listSessions: (fetchOptions) => call("GET", "/list-sessions", undefined, fetchOptions),
    /** `{ id }` → `{ status: true }`; 404 if the id is not one of the caller's sessions. */
    revokeSession: ({ id } = {}, fetchOptions) => call("POST", "/revoke-session", { id }, fetchOptions),
    /** Every session, this one included. Needs a fresh sign-in, or `{ password }`. */
    revokeSessions: (input = {}, fetchOptions) => call("POST", "/revoke-sessions", input, fetchOptions),
    /** Every session but this one. Needs a fresh sign-in, or `{ password }`. */
    revokeOtherSessions: (input = {}, fetchOptions) => call("POST", "/revoke-other-sessions", input, fetchOptions),
    /** `{ currentPassword, newPassword, revokeOtherSessions = false }` → `{ session, user }`. */
    changePassword: ({ currentPassword, newPassword, revokeOtherSessions = false } = {}, fetchOptions) =>
      call("POST", "/change-password", { currentPassword, newPassword, revokeOtherSessions }, fetchOptions),
  };

  return {
    baseURL,
    getSession,
    signIn,
    signOut,
    user,
    // Newer Better Auth versions expose the session calls at the top level too.
    listSessions: user.listSessions,
    revokeSession: user.revokeSession,
    revokeSessions: user.revokeSessions,
    revokeOtherSessions: user.revokeOtherSessions,
    changePassword: user.changePassword,
    getCsrfToken,
  };
}

/** A client for the default mount point, for `import { authClient }`. */
export const authClient = createAuthClient();

export default authClient;
