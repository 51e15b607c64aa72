// A browser, as far as an auth API can tell: a cookie jar, the request headers
// a browser adds itself, and the browser's CORS and SameSite rules. Plugged
// into the unmodified Better Auth client through `fetchOptions.customFetchImpl`
// (Node's fetch keeps no cookies and sends no `Origin`).
//
// Modelled on Chromium:
// - cookies are kept per host (ports share them, as in browsers), honour
//   Max-Age/Expires, and SameSite=Lax/Strict cookies (Lax is the default) are
//   not sent on cross-site subresource requests;
// - `Origin` is sent on every non-GET/HEAD request and on every cross-origin
//   request; `Sec-Fetch-Site`/`-Mode`/`-Dest` on every request; `Referer` is the
//   page URL (same origin) or the page origin (cross origin);
// - `Clear-Site-Data: "cookies"` drops the host's cookies;
// - a cross-origin request that is not "simple" is preceded by a preflight, and
//   a cross-origin response without `Access-Control-Allow-Origin: <page origin>`
//   and `Access-Control-Allow-Credentials: true` makes fetch reject with a
//   TypeError, exactly like `fetch()` in a page.
//
// Every exchange is recorded (raw response text included) so tests can assert
// the wire format, not only what the client makes of it.

const SIMPLE_METHODS = new Set(["GET", "HEAD", "POST"]);
const SIMPLE_CONTENT_TYPES = new Set(["application/x-www-form-urlencoded", "multipart/form-data", "text/plain"]);
const SAFELISTED_HEADERS = new Set(["accept", "accept-language", "content-language", "content-type"]);
const BROWSER_HEADERS = new Set(["origin", "referer", "cookie", "user-agent", "sec-fetch-site", "sec-fetch-mode", "sec-fetch-dest"]);

export const UA_CHROME =
  "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36";
export const UA_FIREFOX = "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:133.0) Gecko/20100101 Firefox/133.0";

/** The site of an origin (scheme + registrable domain; an IP or one-label host is its own site). */
function site(origin) {
  const url = new URL(origin);
  const host = url.hostname;
  const isIp = /^[\d.]+$/.test(host) || host.startsWith("[");
  const labels = host.split(".");
  return `${url.protocol}//${isIp || labels.length <= 2 ? host : labels.slice(-2).join(".")}`;
}

export function fetchSite(pageOrigin, target) {
  const targetOrigin = new URL(target).origin;
  if (pageOrigin === targetOrigin) return "same-origin";
  return site(pageOrigin) === site(targetOrigin) ? "same-site" : "cross-site";
}

/** Parse one Set-Cookie line (RFC 6265, the parts a browser uses here). */
export function parseSetCookie(line, now = Date.now()) {
  const [pair, ...attributes] = line.split(";");
  const eq = pair.indexOf("=");
  const cookie = {
    name: pair.slice(0, eq).trim(),
    value: pair.slice(eq + 1).trim(),
    expires: null, // ms since epoch; null = a browser-session cookie
    maxAge: null,
    sameSite: "lax",
    secure: false,
    httpOnly: false,
    path: "/",
    domain: null,
    raw: line,
  };
  let expiresAttr = null;
  for (const attribute of attributes) {
    const i = attribute.indexOf("=");
    const key = (i < 0 ? attribute : attribute.slice(0, i)).trim().toLowerCase();
    const value = i < 0 ? "" : attribute.slice(i + 1).trim();
    if (key === "max-age") cookie.maxAge = Number(value);
    else if (key === "expires") expiresAttr = Date.parse(value);
    else if (key === "samesite") cookie.sameSite = value.toLowerCase();
    else if (key === "secure") cookie.secure = true;
    else if (key === "httponly") cookie.httpOnly = true;
    else if (key === "path") cookie.path = value || "/";
    else if (key === "domain") cookie.domain = value;
  }
  if (cookie.maxAge !== null && Number.isFinite(cookie.maxAge)) cookie.expires = now + cookie.maxAge * 1000;
  else if (expiresAttr !== null && Number.isFinite(expiresAttr)) cookie.expires = expiresAttr;
  return cookie;
}

export class CookieJar {
  #hosts = new Map(); // hostname -> Map(name -> cookie)

  #host(url) {
    const host = new URL(url).hostname;
    if (!this.#hosts.has(host)) this.#hosts.set(host, new Map());
    return this.#hosts.get(host);
  }

  store(url, setCookieLines, now = Date.now()) {
    const cookies = this.#host(url);
    for (const line of setCookieLines) {
      const cookie = parseSetCookie(line, now);
      if (!cookie.name) continue;
      if (cookie.secure && new URL(url).protocol !== "https:" && !isLoopback(url)) continue;
      if (cookie.expires !== null && cookie.expires <= now) cookies.delete(cookie.name);
      else cookies.set(cookie.name, cookie);
    }
  }

  /** The cookies a request to `url` carries: unexpired, path-matching, SameSite-permitted. */
  cookiesFor(url, { crossSite = false, now = Date.now() } = {}) {
    const { pathname } = new URL(url);
    const out = [];
    for (const [name, cookie] of this.#host(url)) {
      if (cookie.expires !== null && cookie.expires <= now) {
        this.#host(url).delete(name);
        continue;
      }
      if (!pathname.startsWith(cookie.path)) continue;
      if (crossSite && cookie.sameSite !== "none") continue;
      out.push(cookie);
    }
    return out;
  }

  header(url, options) {
    return this.cookiesFor(url, options)
      .map((c) => `${c.name}=${c.value}`)
      .join("; ");
  }

  get(url, name) {
    return this.#host(url).get(name) ?? null;
  }

  all(url) {
    return [...this.#host(url).values()];
  }

  /** `Clear-Site-Data: "cookies"`: drop every cookie of the host. */
  clearHost(url) {
    this.#hosts.delete(new URL(url).hostname);
  }
}

function isLoopback(url) {
  const host = new URL(url).hostname;
  return host === "localhost" || host.startsWith("127.") || host === "[::1]";
}

function isSimpleRequest(method, headers) {
  if (!SIMPLE_METHODS.has(method)) return false;
  for (const [name, value] of headers) {
    if (BROWSER_HEADERS.has(name)) continue;
    if (!SAFELISTED_HEADERS.has(name)) return false;
    if (name === "content-type" && !SIMPLE_CONTENT_TYPES.has(value.split(";")[0].trim().toLowerCase())) return false;
  }
  return true;
}

function corsAllows(response, pageOrigin) {
  return (
    response.headers.get("access-control-allow-origin") === pageOrigin &&
    response.headers.get("access-control-allow-credentials") === "true"
  );
}

/** One browser profile ("device"): its own cookie jar and page origin. */
export class Device {
  constructor(name, { pageOrigin, userAgent = UA_CHROME, jar = new CookieJar(), log = false } = {}) {
    if (!pageOrigin) throw new Error("Device needs the origin of the page that runs the client");
    this.name = name;
    this.pageOrigin = new URL(pageOrigin).origin;
    this.pageURL = `${this.pageOrigin}/app`;
    this.userAgent = userAgent;
    this.jar = jar;
    this.log = log;
    this.exchanges = [];
    this.fetch = this.fetch.bind(this);
  }

  /** The last recorded exchange whose path ends with `suffix` (e.g. "/sign-in/email"). */
  last(suffix) {
    for (let i = this.exchanges.length - 1; i >= 0; i--) {
      if (new URL(this.exchanges[i].url).pathname.endsWith(suffix)) return this.exchanges[i];
    }
    return null;
  }

  #browserHeaders(url, method, headers) {
    const sameOrigin = new URL(url).origin === this.pageOrigin;
    const secFetchSite = fetchSite(this.pageOrigin, url);
    headers.set("user-agent", this.userAgent);
    headers.set("sec-fetch-site", secFetchSite);
    headers.set("sec-fetch-mode", "cors");
    headers.set("sec-fetch-dest", "empty");
    headers.set("referer", sameOrigin ? this.pageURL : `${this.pageOrigin}/`);
    if (!sameOrigin || (method !== "GET" && method !== "HEAD")) headers.set("origin", this.pageOrigin);
    else headers.delete("origin");
    return { sameOrigin, secFetchSite };
  }

  /** `fetch(input, init)` as a page on `pageOrigin` would run it with `credentials: "include"`. */
  async fetch(input, init = {}) {
    const url = String(input instanceof Request ? input.url : input);
    const method = String(init.method ?? "GET").toUpperCase();
    const headers = new Headers(init.headers ?? {});
    for (const name of ["cookie", "origin", "referer", "sec-fetch-site", "sec-fetch-mode", "sec-fetch-dest"]) {
      headers.delete(name); // a page cannot set these
    }
    const credentials = init.credentials ?? "same-origin";
    const { sameOrigin, secFetchSite } = this.#browserHeaders(url, method, headers);
    const sendCookies = credentials === "include" || (credentials === "same-origin" && sameOrigin);

    if (!sameOrigin && !isSimpleRequest(method, headers)) {
      const requested = [...headers.keys()].filter((h) => !BROWSER_HEADERS.has(h) && !SAFELISTED_HEADERS.has(h));
      if (headers.has("content-type") && !isSimpleRequest("POST", new Headers({ "content-type": headers.get("content-type") }))) {
        requested.push("content-type");
      }
      const preflightHeaders = new Headers({
        origin: this.pageOrigin,
        "access-control-request-method": method,
        "user-agent": this.userAgent,
        "sec-fetch-site": secFetchSite,
        "sec-fetch-mode": "cors",
        "sec-fetch-dest": "empty",
      });
      if (requested.length) preflightHeaders.set("access-control-request-headers", requested.sort().join(","));
      const preflight = await globalThis.fetch(url, { method: "OPTIONS", headers: preflightHeaders });
      const allowMethods = (preflight.headers.get("access-control-allow-methods") ?? "")
        .split(",")
        .map((m) => m.trim().toUpperCase());
      const allowHeaders = (preflight.headers.get("access-control-allow-headers") ?? "")
        .split(",")
        .map((h) => h.trim().toLowerCase());
      const record = { url, method: "OPTIONS", status: preflight.status, requestHeaders: Object.fromEntries(preflightHeaders), responseHeaders: Object.fromEntries(preflight.headers), body: await preflight.text(), setCookies: [] };
      this.exchanges.push(record);
      const ok =
        preflight.ok &&
        corsAllows(preflight, this.pageOrigin) &&
        (SIMPLE_METHODS.has(method) || allowMethods.includes(method)) &&
        requested.every((h) => allowHeaders.includes(h));
      if (!ok) {
        throw new TypeError(`Failed to fetch: CORS preflight for ${method} ${url} from ${this.pageOrigin} was refused (status ${preflight.status}, Access-Control-Allow-Origin: ${preflight.headers.get("access-control-allow-origin")}, Access-Control-Allow-Credentials: ${preflight.headers.get("access-control-allow-credentials")})`);
      }
    }

    if (sendCookies) {
      const cookie = this.jar.header(url, { crossSite: secFetchSite === "cross-site" });
      if (cookie) headers.set("cookie", cookie);
    }
    const { credentials: _c, headers: _h, ...rest } = init;
    const response = await globalThis.fetch(url, { ...rest, method, headers, redirect: "manual" });
    const setCookies = response.headers.getSetCookie();
    if (sendCookies) this.jar.store(url, setCookies);
    const clearSiteData = response.headers.get("clear-site-data") ?? "";
    if (/"(cookies|\*)"/.test(clearSiteData)) this.jar.clearHost(url);
    const body = await response.text();
    const record = {
      url,
      method,
      status: response.status,
      requestHeaders: Object.fromEntries(headers),
      requestBody: typeof init.body === "string" ? init.body : init.body == null ? null : String(init.body),
      responseHeaders: Object.fromEntries(response.headers),
      setCookies,
      body,
    };
    this.exchanges.push(record);
    if (this.log) console.log(`[${this.name}] ${method} ${url} -> ${response.status} ${body.slice(0, 300)}`);
    if (!sameOrigin && !corsAllows(response, this.pageOrigin)) {
      throw new TypeError(`Failed to fetch: ${method} ${url} from ${this.pageOrigin}: the response has no Access-Control-Allow-Origin: ${this.pageOrigin} with Access-Control-Allow-Credentials: true (got ${response.headers.get("access-control-allow-origin")}, ${response.headers.get("access-control-allow-credentials")}; status ${response.status})`);
    }
    // Hand the client a fresh Response (the body was read for the record).
    return new Response(response.status === 204 || response.status === 304 ? null : body, {
      status: response.status,
      statusText: response.statusText,
      headers: response.headers,
    });
  }
}
