import { packageVersion } from "./command";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { countObjects } from "../store/collections";
import { EtcdClient, prefixEnd, type EtcdClientOptions } from "../store/etcd-client";
import { allPuts, decodePrefix, etcdLayout } from "../store/etcd-layout";
import { mkdir, readFile } from "../store/fs-async";
import { STATE_FILE_NAME, readStateFile, writeStateFile } from "../store/state-file";
import { DEFAULT_ETCD_PREFIX, parseEndpoints, prefixProblem } from "../store/store-settings";

/**
 * `ballast store-copy`: moves a balancer's whole configuration between the file store and an etcd
 * prefix (docs/replicas.md, "Moving an instance to etcd"):
 *
 *   store-copy --from-file <state dir> --to-etcd <endpoints> [--prefix <p>]   the move (or a restore)
 *   store-copy --from-etcd <endpoints> [--prefix <p>] --to-file <state dir>   the backup
 *
 * The target must be empty: an etcd prefix with any key under it, or a state dir that already has a
 * state file, is refused and left as it was. Objects keep their versions. Etcd credentials and TLS
 * come from `--username`, `--password`, `--ca`, `--cert`, `--key`, or else the data plane's
 * variables (BALLAST_ETCD_USERNAME, _PASSWORD, _CA, _CERT, _KEY). Exit code 0 when copied, 1 when
 * refused or failed, 2 for a usage error.
 */

export const USAGE = `usage:
  ballast store-copy --from-file <state dir> --to-etcd <endpoints> [--prefix <prefix>]
  ballast store-copy --from-etcd <endpoints> [--prefix <prefix>] --to-file <state dir>
options: --username <user> --password <password> --ca <pem file> --cert <pem file> --key <pem file>
  (default: BALLAST_ETCD_USERNAME, BALLAST_ETCD_PASSWORD, BALLAST_ETCD_CA, BALLAST_ETCD_CERT, BALLAST_ETCD_KEY)
the target must be empty; --prefix defaults to ${DEFAULT_ETCD_PREFIX}`;

/** Operations per etcd transaction: under etcd's default limit (--max-txn-ops 128). */
const OPS_PER_TXN = 100;

const FLAGS = ["--from-file", "--to-etcd", "--from-etcd", "--to-file", "--prefix", "--username", "--password", "--ca", "--cert", "--key"] as const;
type Flag = (typeof FLAGS)[number];

class UsageError extends Error {}

function parseArgs(args: string[]): Partial<Record<Flag, string>> {
  const out: Partial<Record<Flag, string>> = {};
  for (let i = 0; i < args.length; i++) {
    const [name, inline] = args[i]!.split(/=(.*)/s, 2) as [string, string | undefined];
    if (!(FLAGS as readonly string[]).includes(name)) throw new UsageError(`unknown argument '${args[i]}'`);
    const value = inline ?? args[++i];
    if (value === undefined || value === "") throw new UsageError(`${name} needs a value`);
    if (out[name as Flag] !== undefined) throw new UsageError(`${name} is given twice`);
    out[name as Flag] = value;
  }
  return out;
}

function etcdOptions(flags: Partial<Record<Flag, string>>, endpointsText: string, env: NodeJS.ProcessEnv): EtcdClientOptions {
  const problems: string[] = [];
  const endpoints = parseEndpoints(endpointsText, problems, flags["--to-etcd"] ? "--to-etcd" : "--from-etcd");
  const prefix = flags["--prefix"] ?? DEFAULT_ETCD_PREFIX;
  const bad = prefixProblem(prefix, "--prefix");
  if (bad) problems.push(bad);
  if (problems.length > 0) throw new UsageError(problems.join("; "));
  const username = flags["--username"] ?? env.BALLAST_ETCD_USERNAME;
  const password = flags["--password"] ?? env.BALLAST_ETCD_PASSWORD;
  const pem = (flag: Flag, variable: string) => {
    const file = flags[flag] ?? env[variable];
    return file ? readFileSync(file, "utf8") : undefined;
  };
  const tls = { ca: pem("--ca", "BALLAST_ETCD_CA"), cert: pem("--cert", "BALLAST_ETCD_CERT"), key: pem("--key", "BALLAST_ETCD_KEY") };
  const usesTls = tls.ca !== undefined || tls.cert !== undefined;
  return {
    endpoints,
    ...(username ? { username, password: password ?? "" } : {}),
    ...(usesTls ? { tls: Object.fromEntries(Object.entries(tls).filter(([, v]) => v !== undefined)) } : {}),
  };
}

async function fileToEtcd(stateDir: string, client: EtcdClient, prefix: string, say: (line: string) => void): Promise<number> {
  const file = join(stateDir, STATE_FILE_NAME);
  const state = await readStateFile(file);
  if (!state) throw new Error(`there is no state file at ${file}`);
  const layout = etcdLayout(prefix);
  const existing = await client.range(layout.root, prefixEnd(layout.root));
  if (existing.kvs.length > 0) {
    say(`refused: prefix ${layout.prefix} on ${client.endpoints.join(", ")} is not empty (${existing.kvs.length} keys); nothing was copied`);
    return 1;
  }
  const puts = allPuts(layout, state.objects);
  // Each transaction rewrites config-revision and compares it with the previous one's, so a
  // replica's write (or a second copy) meanwhile makes the copy stop instead of interleaving.
  let revisionMod = 0;
  for (let i = 0; i === 0 || i < puts.length; i += OPS_PER_TXN) {
    const stamp = JSON.stringify({ copiedFrom: file, at: new Date().toISOString() });
    const ops = [...puts.slice(i, i + OPS_PER_TXN), { put: { key: layout.revisionKey, value: stamp } }];
    const txn = await client.txn([{ key: layout.revisionKey, modRevision: revisionMod }], ops);
    if (!txn.succeeded) {
      say(`refused: prefix ${layout.prefix} changed while copying (another writer); copied ${i} of ${puts.length} objects`);
      return 1;
    }
    revisionMod = txn.revision;
  }
  say(`copied ${puts.length} objects ${JSON.stringify(countObjects(state.objects))} from ${file} to prefix ${layout.prefix} on ${client.endpoints.join(", ")} at revision ${revisionMod}`);
  return 0;
}

async function etcdToFile(client: EtcdClient, prefix: string, stateDir: string, say: (line: string) => void): Promise<number> {
  const file = join(stateDir, STATE_FILE_NAME);
  const present = await readFile(file).then(
    () => true,
    (err: NodeJS.ErrnoException) => err.code !== "ENOENT",
  );
  if (present) {
    say(`refused: ${file} already exists; nothing was copied`);
    return 1;
  }
  const layout = etcdLayout(prefix);
  const { revision, kvs } = await client.range(layout.root, prefixEnd(layout.root));
  const decoded = decodePrefix(layout, kvs, revision);
  if (!decoded.ok) throw new Error(`the configuration under ${layout.prefix} is invalid: ${decoded.problem}`);
  await mkdir(stateDir, { recursive: true });
  await writeStateFile(file, decoded.state);
  say(`copied ${JSON.stringify(countObjects(decoded.state.objects))} from prefix ${layout.prefix} at revision ${revision} to ${file}`);
  return 0;
}

/** Runs the command; resolves with its exit code. Lines go to `out` (default stdout/stderr). */
export async function storeCopyCommand(
  args: string[],
  io: { out?: (line: string) => void; err?: (line: string) => void; env?: NodeJS.ProcessEnv } = {},
): Promise<number> {
  const out = io.out ?? ((line: string) => void process.stdout.write(`${line}\n`));
  const err = io.err ?? ((line: string) => void process.stderr.write(`${line}\n`));
  let client: EtcdClient | undefined;
  if (args.includes("--help") || args.includes("-h")) {
    out(USAGE);
    return 0;
  }
  if (args.includes("--version") || args.includes("-V")) {
    out(`ballast ${packageVersion()}`);
    return 0;
  }
  try {
    const flags = parseArgs(args);
    const toEtcd = flags["--from-file"] !== undefined && flags["--to-etcd"] !== undefined && !flags["--from-etcd"] && !flags["--to-file"];
    const toFile = flags["--from-etcd"] !== undefined && flags["--to-file"] !== undefined && !flags["--from-file"] && !flags["--to-etcd"];
    if (!toEtcd && !toFile) throw new UsageError("give either --from-file and --to-etcd, or --from-etcd and --to-file");
    const prefix = flags["--prefix"] ?? DEFAULT_ETCD_PREFIX;
    client = new EtcdClient(etcdOptions(flags, (toEtcd ? flags["--to-etcd"] : flags["--from-etcd"]) as string, io.env ?? process.env));
    const refusedOrDone = (line: string) => (line.startsWith("refused") ? err(line) : out(line));
    return toEtcd
      ? await fileToEtcd(flags["--from-file"] as string, client, prefix, refusedOrDone)
      : await etcdToFile(client, prefix, flags["--to-file"] as string, refusedOrDone);
  } catch (e) {
    if (e instanceof UsageError) {
      err(`store-copy: ${e.message}\n${USAGE}`);
      return 2;
    }
    err(`store-copy failed: ${(e as Error).message}`);
    return 1;
  } finally {
    await client?.close();
  }
}

if (require.main === module) {
  void storeCopyCommand(process.argv.slice(2)).then((code) => {
    process.exitCode = code;
  });
}
