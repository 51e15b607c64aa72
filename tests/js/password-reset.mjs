// The real Better Auth client's password reset calls, one step per run, against a
// server's /api/auth; prints what the client returned as one JSON line. The
// token travels by e-mail, which the Python test reads between the two steps
// (tests/test_better_auth_client.py, test_password_reset_with_the_real_client).
//
//   SESSIONAUTH_BASE_URL=http://127.0.0.1:5000 node password-reset.mjs request alice@example.com /reset
//   SESSIONAUTH_BASE_URL=http://127.0.0.1:5000 node password-reset.mjs reset <token> "new password"
import { createAuthClient } from "better-auth/client";
import { Device } from "./lib/browser.mjs";

const BASE = process.env.SESSIONAUTH_BASE_URL?.replace(/\/+$/, "");
if (!BASE) throw new Error("Set SESSIONAUTH_BASE_URL");
const [step, first, second] = process.argv.slice(2);
const device = new Device("reset", { pageOrigin: new URL(BASE).origin });
const client = createAuthClient({ baseURL: `${BASE}/api/auth`, fetchOptions: { customFetchImpl: device.fetch } });

let result;
if (step === "request") {
  result = await client.requestPasswordReset({ email: first, redirectTo: second });
} else if (step === "reset") {
  result = await client.resetPassword({ newPassword: second, token: first });
} else {
  throw new Error(`unknown step ${step}`);
}
const exchange = device.exchanges.at(-1);
console.log(JSON.stringify({ data: result.data, error: result.error, status: exchange?.status, path: new URL(exchange.url).pathname }));
