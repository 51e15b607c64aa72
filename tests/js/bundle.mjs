// Bundle the unmodified Better Auth client for a browser page:
//   node bundle.mjs OUT_DIR      -> OUT_DIR/better-auth-client.mjs and OUT_DIR/page.mjs
// better-auth-client.mjs is `createAuthClient` from `better-auth/client` as an
// ES module (esbuild, nothing rewritten); page.mjs is the test page's helper
// (browser-page.mjs), which imports it.
import { copyFile, mkdir } from "node:fs/promises";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { build } from "esbuild";

const here = dirname(fileURLToPath(import.meta.url));
const out = process.argv[2];
if (!out) {
  console.error("usage: node bundle.mjs OUT_DIR");
  process.exit(2);
}
await mkdir(out, { recursive: true });
await build({
  stdin: { contents: 'export { createAuthClient } from "better-auth/client";', resolveDir: here, loader: "js" },
  bundle: true,
  format: "esm",
  platform: "browser",
  target: "es2022",
  outfile: join(out, "better-auth-client.mjs"),
  logLevel: "warning",
  legalComments: "none",
});
await copyFile(join(here, "browser-page.mjs"), join(out, "page.mjs"));
console.log(join(out, "better-auth-client.mjs"));
