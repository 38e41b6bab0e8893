import { spawn } from "node:child_process";
import path from "node:path";
import { APPLIED, NODE_ENV_DEFAULTS, missingFlags } from "../node-internals";
import { runCommand } from "./command";

/**
 * `ballast serve`: runs the data plane, exactly as `node dist/dataplane/main.js` does. The process
 * replaces itself (`process.execve`, same PID) with `node <flags> main.js`, giving it the V8 flags
 * and environment of node-flags.ts (through node-internals.ts) at once, so main.js does not need a second re-execution. Where
 * Node has no `execve`, main.js runs as a child with the same stdio, and signals are passed on.
 */
export function serveCommand(args: string[]): Promise<number> {
  return runCommand(
    {
      name: "serve",
      usage: "",
      help: `Runs the data plane: the admin API, the store and the traffic workers (the container's
entrypoint does the same). Configured only by the environment: BALLAST_ADMIN_ADDR,
BALLAST_ADMIN_TOKEN (required), BALLAST_STATE_DIR, BALLAST_LOG_LEVEL, BALLAST_SHUTDOWN_GRACE_MS,
BALLAST_WORKERS, BALLAST_LISTEN_HOST, BALLAST_REPLICA_NAME (README.md). Exits 0 after a clean
shutdown (SIGTERM, SIGINT), 1 when it cannot start.`,
      options: {},
      positionals: 0,
    },
    args,
    () => serve(),
  );
}

function serve(): Promise<number> {
  const mainJs = path.join(__dirname, "..", "main.js");
  const flags = missingFlags(process.execArgv, process.env.NODE_OPTIONS ?? "");
  const argv = [...flags, ...process.execArgv, mainJs];
  const env = { ...NODE_ENV_DEFAULTS, ...process.env, [APPLIED]: "1" };
  if (typeof process.execve === "function") {
    process.execve(process.execPath, [process.execPath, ...argv], env);
  }
  return new Promise((resolve) => {
    const child = spawn(process.execPath, argv, { env, stdio: "inherit" });
    const pass = (signal: NodeJS.Signals) => child.kill(signal);
    process.on("SIGTERM", pass);
    process.on("SIGINT", pass);
    child.on("close", (code, signal) => resolve(code ?? (signal ? 1 : 0)));
  });
}
