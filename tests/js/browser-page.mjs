// Loaded by the Chromium tests' page (served as page.mjs next to the bundled
// better-auth-client.mjs). It only makes the real client reachable from
// Playwright's page.evaluate; every call goes through the unmodified client.
import { createAuthClient } from "./better-auth-client.mjs";

const clients = new Map();
const sessions = new Map();

function plain(value) {
  return JSON.parse(JSON.stringify(value ?? null)); // Dates become ISO strings
}

window.ba = {
  /** A client; `baseURL` undefined means the client's default ("/api/auth" on this origin).
   * `injectCsrf` (diagnosis only, SESSIONAUTH_INJECT_CSRF=1): add flask-sessionauth's
   * X-CSRFToken through the client's own fetchOptions.onRequest. */
  create(name, baseURL, injectCsrf = false) {
    const options = baseURL === undefined ? {} : { baseURL };
    if (injectCsrf) {
      const api = baseURL ?? `${location.origin}/api/auth`;
      options.fetchOptions = {
        async onRequest(context) {
          if (context.method === "GET") return context;
          const response = await fetch(`${api}/csrf-token`, { credentials: "include" });
          context.headers.set("X-CSRFToken", (await response.json()).csrfToken);
          return context;
        },
      };
    }
    clients.set(name, createAuthClient(options));
    return true;
  },
  /** Call `client.<path>(...args)`, e.g. call("c", "signIn.email", {...}) or "user.listSessions". */
  async call(name, path, ...args) {
    let fn = clients.get(name);
    for (const part of path.split(".")) fn = fn[part];
    try {
      return plain(await fn(...args));
    } catch (error) {
      return { thrown: `${error?.name}: ${error?.message}` };
    }
  },
  /** Subscribe to the useSession store; `session(name)` then returns its latest value. */
  watch(name) {
    clients.get(name).useSession.subscribe((value) => sessions.set(name, plain({ ...value, refetch: undefined })));
    return true;
  },
  session(name) {
    return sessions.get(name) ?? null;
  },
  /** Ask the useSession store to fetch get-session again. */
  async refetch(name) {
    await clients.get(name).useSession.get().refetch();
    return true;
  },
};
window.baReady = true;
