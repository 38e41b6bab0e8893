// Bundles the data plane into build/image/ for the container: two self-contained files (the
// primary and the worker entry, side by side because the primary forks `worker-main.js` from its
// own directory) plus a tiny health probe. No node_modules and no dev dependencies in the image.
import { build } from "esbuild";
import { execFileSync } from "node:child_process";
import { mkdir, readFile, rm, writeFile } from "node:fs/promises";

const out = new URL("../build/image/", import.meta.url).pathname;
const state = new URL("../build/state/", import.meta.url).pathname;
await rm(out, { recursive: true, force: true });
await mkdir(out, { recursive: true });
await mkdir(state, { recursive: true });
await writeFile(`${state}.keep`, "");
// ballast_build_info{version,commit}: the package's version and the commit bundled ("unknown"
// outside a git checkout).
const { version } = JSON.parse(await readFile(new URL("../package.json", import.meta.url), "utf8"));
let commit = "unknown";
try {
  commit = execFileSync("git", ["rev-parse", "--short=12", "HEAD"], { encoding: "utf8", stdio: ["ignore", "pipe", "ignore"] }).trim();
} catch {
  // not a git checkout
}
await build({
  entryPoints: { main: "dataplane/main.ts", "worker-main": "dataplane/runtime/worker-main.ts" },
  outdir: out,
  bundle: true,
  platform: "node",
  target: "node22",
  format: "cjs",
  // Whitespace and syntax only: names stay readable in stack traces. With zod imported as a
  // namespace (model/), this and tree shaking take main.js from 1.1 MB to about 0.37 MB; V8 keeps
  // every script's source in the heap, and a smaller program is a smaller idle process
  // (docs/benchmarks.md, Memory).
  minifyWhitespace: true,
  minifySyntax: true,
  sourcemap: false,
  legalComments: "none",
  define: { BALLAST_BUILD: JSON.stringify({ version, commit }) },
  logLevel: "warning",
});
// The container's HEALTHCHECK: GET /healthz on the admin port, exit 0 on 200.
await writeFile(
  `${out}healthcheck.js`,
  `const [h, p] = (process.env.BALLAST_ADMIN_ADDR || "127.0.0.1:9180").replace("0.0.0.0", "127.0.0.1").split(":");
require("node:http").get({ host: h, port: Number(p), path: "/healthz", timeout: 3000 }, (r) => process.exit(r.statusCode === 200 ? 0 : 1)).on("error", () => process.exit(1));
`,
);
