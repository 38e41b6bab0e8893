import { spawnSync } from "node:child_process";
import { mkdirSync, rmSync, writeFileSync } from "node:fs";
import path from "node:path";
import * as pulumi from "@pulumi/pulumi";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { FORMAT, type ConfigDocument } from "../../dataplane/cli/config-document";
import { pulumiProgram } from "../../dataplane/cli/pulumi-program";
import { CERT, KEY } from "../model/fixtures";
import { installMocks, type Registered } from "./mocks";

/**
 * `ballast export --format pulumi` writes a module of sdk resources with `adopt: true`: it must
 * compile against the sdk, register one resource per object with the object's fields (references as
 * dependencies), and keep TLS private keys out of the source.
 */

const REPO = path.resolve(__dirname, "../..");
const dir = path.join(REPO, ".ballast", `export-pulumi-${process.pid}`);
const TOKEN = "0123456789abcdef0123456789abcdef";

const doc: ConfigDocument = {
  format: FORMAT,
  "server-groups": [
    { name: "web-pool", type: "virtual", servers: [{ address: "127.0.0.1", port: 8080, weight: 30, description: "first" }, { address: "127.0.0.2" }] },
    { name: "db-pair", type: "availability", servers: [{ address: "127.0.0.3", role: "primary" }, { address: "127.0.0.4", role: "secondary" }] },
  ],
  "backend-services": [
    { name: "web", protocol: "http", port: 80, serverGroup: "web-pool", sessionPersistence: { type: "insert-cookie", cookieTimeout: 600 }, slowStart: 60 },
    { name: "db", protocol: "tcp", port: 5432, scheduler: "source-ip", serverGroup: "db-pair", proxyProtocol: "v2" },
    // Names a group this export does not hold: the reference stays a name.
    { name: "other", protocol: "http", port: 80, serverGroup: "elsewhere" },
  ],
  "health-checks": [{ name: "web-check", backendService: "web", protocol: "HTTP", path: "/healthz", statusCodes: ["2xx"], interval: 30, timeout: 5 }],
  listeners: [
    { name: "front", protocol: "http", port: 8081, backendService: "web" },
    { name: "secure", protocol: "https", port: 8443, backendService: "web", certificate: { chain: CERT, privateKey: KEY } },
  ],
};

let registered: Registered[];
let program: ReturnType<typeof pulumiProgram>;
let file: string;

beforeAll(() => {
  registered = installMocks();
  mkdirSync(dir, { recursive: true });
  file = path.join(dir, "adopted.ts");
  program = pulumiProgram(doc, "http://127.0.0.1:9180", path.join(REPO, "sdk", "index"));
  writeFileSync(file, program.source);
});

afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe("ballast export --format pulumi", () => {
  it("compiles against the sdk (strict TypeScript)", () => {
    const tsc = path.join(REPO, "node_modules", "typescript", "bin", "tsc");
    const r = spawnSync(process.execPath, [tsc, "--ignoreConfig", "--noEmit", "--strict", "--skipLibCheck", "--target", "es2022", "--module", "nodenext", "--moduleResolution", "nodenext", "--esModuleInterop", file], { encoding: "utf8", timeout: 120_000 });
    expect(r.stdout + r.stderr).toBe("");
    expect(r.status).toBe(0);
  }, 130_000);

  it("keeps the private key out of the source and names the secret to set", () => {
    expect(program.source).not.toContain(KEY.split("\n")[1]!);
    expect(program.secretConfig).toEqual(["secure-private-key"]);
    expect(program.source).toContain("pulumi config set --secret secure-private-key");
  });

  it("registers every object with its fields and adopt: true, references as dependencies", async () => {
    pulumi.runtime.setConfig(`${pulumi.getProject()}:secure-private-key`, KEY);
    const mod = (await import(file)) as { adoptExisting: (b: unknown) => Record<string, Record<string, pulumi.CustomResource>> };
    const made = mod.adoptExisting({ adminUrl: "http://127.0.0.1:9180", adminToken: TOKEN });
    expect(Object.keys(made.serverGroups!)).toEqual(["web-pool", "db-pair"]);
    expect(Object.keys(made.listeners!)).toEqual(["front", "secure"]);
    const all = Object.values(made).flatMap((byName) => Object.values(byName));
    await Promise.all(all.map((r) => new Promise((resolve) => r.urn.apply(resolve))));
    const type = { "server-groups": "ServerGroup", "backend-services": "BackendService", "health-checks": "HealthCheck", listeners: "Listener" } as const;
    for (const kind of ["server-groups", "backend-services", "health-checks", "listeners"] as const) {
      for (const object of doc[kind]) {
        const r = registered.find((x) => x.name === object.name && x.type.endsWith(`:${type[kind]}`));
        expect(r, `${kind} ${object.name}`).toBeDefined();
        for (const [field, value] of Object.entries(object)) expect(r!.inputs[field], `${kind} ${object.name}.${field}`).toEqual(value);
        expect(r!.inputs.adopt, `${object.name}.adopt`).toBe(true);
      }
    }
    const urnOf = (kind: keyof typeof type, name: string) => registered.find((x) => x.name === name && x.type.endsWith(`:${type[kind]}`))!;
    const web = urnOf("backend-services", "web");
    expect(web.dependencies.some((u) => u.endsWith("::web-pool"))).toBe(true);
    expect(urnOf("listeners", "front").dependencies.some((u) => u.endsWith("::web"))).toBe(true);
    expect(urnOf("backend-services", "other").dependencies).toEqual([]);
  }, 60_000);
});
