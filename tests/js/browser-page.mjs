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
  /** A client; `baseURL` undefined means the client's default ("/api/auth" on this origin). */
  create(name, baseURL) {
    clients.set(name, createAuthClient(baseURL === undefined ? undefined : { baseURL }));
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
};
window.baReady = true;
