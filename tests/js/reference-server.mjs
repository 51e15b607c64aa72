// The real Better Auth server (the version pinned in package-lock.json), for
// checking the test suite itself: `better-auth.test.mjs` run against this
// server with SESSIONAUTH_TARGET=better-auth must pass, so a failure against
// the Flask app is a difference of the Flask app, not of the harness.
//
//   node reference-server.mjs            # prints {"baseURL": "http://127.0.0.1:PORT"} on stdout
//
// Environment: SESSIONAUTH_FRESH_AGE (seconds, default 3), SESSIONAUTH_PASSWORD,
// SESSIONAUTH_TRUSTED_ORIGINS (comma separated), PORT (default: a free port).
// Memory database, rate limiting off (as Better Auth's own tests do), users
// seeded through its own sign-up endpoint. Listens on 127.0.0.1 only.
import http from "node:http";
import { betterAuth } from "better-auth";
import { memoryAdapter } from "better-auth/adapters/memory";
import { toNodeHandler } from "better-auth/node";
import { PASSWORD, USERS } from "./lib/users.mjs";

const freshAge = Number(process.env.SESSIONAUTH_FRESH_AGE ?? 3);
const trusted = (process.env.SESSIONAUTH_TRUSTED_ORIGINS ?? "").split(",").filter(Boolean);

const db = { user: [], session: [], account: [], verification: [] };
const server = http.createServer();
await new Promise((resolve) => server.listen(Number(process.env.PORT ?? 0), "127.0.0.1", resolve));
const baseURL = `http://127.0.0.1:${server.address().port}`;

const auth = betterAuth({
  baseURL,
  secret: "reference-server-secret-0123456789abcdef0123456789",
  database: memoryAdapter(db),
  emailAndPassword: { enabled: true },
  session: { freshAge },
  trustedOrigins: trusted,
  rateLimit: { enabled: false },
  telemetry: { enabled: false },
  logger: { disabled: true },
});

for (const user of Object.values(USERS)) {
  await auth.api.signUpEmail({ body: { email: user.email, password: PASSWORD, name: user.name } });
}
db.session.length = 0; // sign-up signs in; start, like the Flask app, with no sessions

const handler = toNodeHandler(auth);
server.on("request", (req, res) => {
  // Better Auth leaves CORS to the framework (its docs show `cors({origin,
  // credentials: true})`); this is that layer, for the listed origins only.
  const origin = req.headers.origin;
  if (origin && trusted.includes(origin)) {
    res.setHeader("Access-Control-Allow-Origin", origin);
    res.setHeader("Access-Control-Allow-Credentials", "true");
    res.setHeader("Vary", "Origin");
    if (req.method === "OPTIONS") {
      res.setHeader("Access-Control-Allow-Methods", "GET, POST, OPTIONS");
      res.setHeader("Access-Control-Allow-Headers", req.headers["access-control-request-headers"] ?? "content-type");
      res.setHeader("Access-Control-Max-Age", "600");
      res.statusCode = 204;
      res.end();
      return;
    }
  }
  handler(req, res);
});

process.stdout.write(`${JSON.stringify({ baseURL })}\n`);
for (const signal of ["SIGINT", "SIGTERM"]) process.on(signal, () => server.close(() => process.exit(0)));
