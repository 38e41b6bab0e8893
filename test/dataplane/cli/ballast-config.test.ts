import { spawn } from "node:child_process";
import { readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { parse as parseYaml } from "yaml";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { makeTempDir, startDataplane, type Dataplane } from "../../helpers/dataplane-process";
import { freePorts } from "../../helpers/ports";
import { admin } from "../../helpers/runtime-harness";
import { CERT, KEY } from "../../model/fixtures";
import { BALLAST_JS, ballast } from "./ballast-cli";

/**
 * `ballast validate / export / import / status / serve` against real data plane processes: a bad
 * document lists every issue; export → validate → import into an empty data plane round-trips every
 * kind of object unchanged; status prints the server rows; serve runs the data plane.
 */

const dir = makeTempDir("ballast-cli-");
let source: Dataplane;
let target: Dataplane;
const conn = (dp: Dataplane) => ({ BALLAST_ADMIN_URL: dp.url, BALLAST_ADMIN_TOKEN: dp.token });
const file = (name: string, text: string) => {
  const path = join(dir, name);
  writeFileSync(path, text);
  return path;
};

beforeAll(async () => {
  [source, target] = await Promise.all([startDataplane({ env: { BALLAST_WORKERS: "0" } }),
    // The same listener ports as the source, on another loopback address.
    startDataplane({ env: { BALLAST_WORKERS: "0", BALLAST_LISTEN_HOST: "127.0.0.2" } }),
  ]);
  const [p1, p2, p3, p4] = await freePorts(4);
  const api = admin(source);
  await api.create("server-groups", { name: "web-pool", type: "virtual", servers: [{ address: "127.0.0.1", port: 9, weight: 30, description: "first" }, { address: "127.0.0.2" }] });
  await api.create("server-groups", { name: "db-pair", type: "availability", servers: [{ address: "127.0.0.3", role: "primary" }, { address: "127.0.0.4", role: "secondary" }] });
  await api.create("server-groups", { name: "spare", type: "virtual", servers: [] });
  await api.create("backend-services", {
    name: "web",
    protocol: "http",
    port: 9,
    serverGroup: "web-pool",
    sessionPersistence: { type: "insert-cookie", cookieTimeout: 600 },
    forwardedHeaders: ["X-Forwarded-Proto", "X-Forwarded-Host"],
    slowStart: 60,
    connectionDrainTimeout: 30,
  });
  await api.create("backend-services", { name: "db", protocol: "tcp", port: 9, scheduler: "source-ip", serverGroup: "db-pair", proxyProtocol: "v2", sessionPersistence: { type: "source-ip", timeout: 100 } });
  await api.create("health-checks", { name: "web-check", backendService: "web", protocol: "HTTP", path: "/healthz", statusCodes: ["2xx"], interval: 30, timeout: 5 });
  await api.create("health-checks", { name: "db-check", backendService: "db", protocol: "TCP", port: 9, interval: 60 });
  await api.create("listeners", { name: "front", protocol: "http", port: p1, backendService: "web" });
  await api.create("listeners", { name: "secure", protocol: "https", port: p2, backendService: "web", certificate: { chain: CERT, privateKey: KEY } });
  await api.create("listeners", { name: "pg", protocol: "tcp", port: p3, backendService: "db" });
  await api.create("listeners", { name: "pgs", protocol: "tls", port: p4, backendService: "db", certificate: { chain: CERT, privateKey: KEY } });
}, 120_000);

afterAll(async () => {
  await Promise.all([source?.stop(), target?.stop()]);
  rmSync(dir, { recursive: true, force: true });
});

describe("ballast validate", () => {
  it("lists every issue of a bad document with its path, and exits 1", async () => {
    const bad = {
      format: "ballast/v1",
      "server-groups": [{ name: "pool", type: "virtual", servers: [{ address: "10.0.0.1", weight: 101 }] }],
      "backend-services": [
        { name: "web", protocol: "http", port: 70000, serverGroup: "pool" },
        { name: "api", protocol: "http", port: 80, serverGroup: "missing" },
        { name: "api", protocol: "http", port: 81 },
      ],
      "health-checks": [
        { name: "c1", backendService: "api", protocol: "HTTP" },
        { name: "c2", backendService: "api", protocol: "TCP", interval: 1 },
      ],
      listeners: [
        { name: "a", protocol: "http", port: 80, backendService: "ghost" },
        { name: "b", protocol: "tcp", port: 81, backendService: "api" },
        { name: "c", protocol: "https", port: 443, backendService: "api", certificate: { chain: CERT, privateKey: "-----BEGIN PRIVATE KEY-----\nMIIEfake\n-----END PRIVATE KEY-----\n" } },
      ],
      widgets: [],
    };
    for (const [name, text] of [["bad.json", JSON.stringify(bad)], ["bad.yaml", (await import("yaml")).stringify(bad)]] as const) {
      const r = await ballast(["validate", file(name, text)]);
      expect(r.code, r.stderr).toBe(1);
      const paths = r.stderr.split("\n").filter((l) => l.startsWith("  ")).map((l) => l.trim().split(": ")[0]);
      expect(paths).toEqual([
        "widgets",
        "server-groups[0].servers[0].weight",
        "backend-services[0].port",
        "backend-services[2].name",
        "health-checks[1].interval",
        "backend-services[1].serverGroup",
        // listener b (tcp) names the http service api: seen from both sides.
        "backend-services[1].protocol",
        "listeners[0].backendService",
        "listeners[1].backendService",
        "listeners[2].certificate.privateKey",
      ]);
      expect(r.stderr).toContain(`${name}: 10 issues`);
      expect(r.stderr).toContain("no server group named 'missing'");
      expect(r.stderr).toContain("a tcp listener takes only tcp backend services");
    }
  });

  it("names a second health check of one service and a listener port used twice", async () => {
    const doc = {
      format: "ballast/v1",
      "backend-services": [{ name: "api", protocol: "http", port: 80 }],
      "health-checks": [
        { name: "c1", backendService: "api", protocol: "HTTP" },
        { name: "c2", backendService: "api", protocol: "TCP" },
      ],
      listeners: [
        { name: "a", protocol: "http", port: 80, backendService: "api" },
        { name: "b", protocol: "http", port: 80, backendService: "api" },
      ],
    };
    const r = await ballast(["validate", file("clash.json", JSON.stringify(doc))]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain("health-checks[0].backendService: already has health check 'c2'");
    expect(r.stderr).toContain("listeners[0].port: is already used by listener 'b'");
  });

  it("says what is wrong with a file that is not JSON or YAML, or missing; exit 1", async () => {
    const r = await ballast(["validate", file("broken.json", "{ nope")]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain("is not valid JSON");
    expect((await ballast(["validate", join(dir, "absent.json")])).code).toBe(1);
  });
});

describe("ballast export → validate → import", () => {
  it("round-trips every kind of object into an empty data plane unchanged, and a second import changes nothing", async () => {
    const exported = await ballast(["export"], { env: conn(source) });
    expect(exported.code, exported.stderr).toBe(0);
    const doc = JSON.parse(exported.stdout) as Record<string, Record<string, unknown>[]>;
    expect(doc["server-groups"]!.map((o) => o.name)).toEqual(["db-pair", "spare", "web-pool"]);
    expect(doc.listeners!.map((o) => o.name)).toEqual(["front", "pg", "pgs", "secure"]);
    expect(JSON.stringify(doc)).not.toContain('"version"');
    const path = file("export.json", exported.stdout);

    const valid = await ballast(["validate", path]);
    expect(valid.code, valid.stderr).toBe(0);
    expect(valid.stdout).toContain("valid (3 server-groups, 2 backend-services, 2 health-checks, 4 listeners)");

    const imported = await ballast(["import", path], { env: conn(target) });
    expect(imported.code, imported.stderr).toBe(0);
    expect(imported.stdout).toContain("11 created, 0 updated, 0 unchanged");
    // Dependency order: groups, services, checks, listeners.
    const order = imported.stdout.split("\n").filter((l) => l.startsWith("created: ")).map((l) => l.split(" ")[1]);
    expect(order).toEqual(["ServerGroup", "ServerGroup", "ServerGroup", "BackendService", "BackendService", "HealthCheck", "HealthCheck", "Listener", "Listener", "Listener", "Listener"]);

    const again = await ballast(["export"], { env: conn(target) });
    expect(again.stdout).toBe(exported.stdout);

    const second = await ballast(["import", path], { env: conn(target) });
    expect(second.code).toBe(0);
    expect(second.stdout.trim()).toBe("0 created, 0 updated, 11 unchanged");
  });

  it("writes the same document as YAML with --format yaml, which validates", async () => {
    const json = await ballast(["export"], { env: conn(source) });
    const yaml = await ballast(["export", "--format", "yaml"], { env: conn(source) });
    expect(yaml.code).toBe(0);
    expect(parseYaml(yaml.stdout)).toEqual(JSON.parse(json.stdout));
    const r = await ballast(["validate", file("export.yaml", yaml.stdout)]);
    expect(r.code, r.stderr).toBe(0);
  });

  it("writes a Pulumi module adopting every object with --format pulumi (the private keys read from secret config)", async () => {
    const r = await ballast(["export", "--format", "pulumi"], { env: conn(source) });
    expect(r.code, r.stderr).toBe(0);
    const doc = JSON.parse((await ballast(["export"], { env: conn(source) })).stdout) as Record<string, Record<string, unknown>[]>;
    const classes = { "server-groups": "ServerGroup", "backend-services": "BackendService", "health-checks": "HealthCheck", listeners: "Listener" };
    for (const [kind, cls] of Object.entries(classes)) {
      for (const o of doc[kind]!) expect(r.stdout).toContain(`new ballast.${cls}(${JSON.stringify(o.name)}, {`);
    }
    expect(r.stdout.match(/adopt: true,/g)).toHaveLength(Object.values(doc).filter(Array.isArray).flat().length);
    expect(r.stdout).not.toContain(KEY.split("\n")[1]!);
    expect(r.stdout).toContain('privateKey: config.requireSecret("secure-private-key")');
    expect(r.stdout).toContain('privateKey: config.requireSecret("pgs-private-key")');
    const bad = await ballast(["export", "--format", "xml"], { env: conn(source) });
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain("--format 'xml' is not json, yaml or pulumi");
  });

  it("updates what differs, guarded, and refuses up front (nothing applied) an invalid document or an immutable change", async () => {
    const doc = JSON.parse((await ballast(["export"], { env: conn(source) })).stdout) as Record<string, Record<string, unknown>[]>;
    doc["server-groups"]!.find((g) => g.name === "spare")!.servers = [{ address: "127.0.0.9" }];
    const changed = await ballast(["import", file("changed.json", JSON.stringify(doc))], { env: conn(target) });
    expect(changed.code, changed.stderr).toBe(0);
    expect(changed.stdout).toContain("updated: ServerGroup 'spare'");
    expect(changed.stdout).toContain("0 created, 1 updated, 10 unchanged");
    const before = (await ballast(["export"], { env: conn(target) })).stdout;

    const immutable = structuredClone(doc);
    immutable["backend-services"]!.find((s) => s.name === "web")!.port = 10;
    immutable["server-groups"]!.push({ name: "new-one", type: "virtual", servers: [] });
    const refused = await ballast(["import", file("immutable.json", JSON.stringify(immutable))], { env: conn(target) });
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain("nothing was applied");
    expect(refused.stderr).toContain("backend-services[1].port: cannot change on the existing BackendService 'web'");

    const invalid = structuredClone(doc);
    invalid["server-groups"]!.push({ name: "new-one", type: "virtual", servers: [] });
    invalid.listeners![0]!.port = 0;
    const bad = await ballast(["import", file("invalid.json", JSON.stringify(invalid))], { env: conn(target) });
    expect(bad.code).toBe(1);
    expect(bad.stderr).toContain("does not validate; nothing was applied");
    expect(bad.stderr).toContain("listeners[0].port");
    expect((await ballast(["export"], { env: conn(target) })).stdout).toBe(before);
  });

  it("exits 3 when the token is refused", async () => {
    const r = await ballast(["export"], { env: { BALLAST_ADMIN_URL: target.url, BALLAST_ADMIN_TOKEN: "wrong-token-0123456789" } });
    expect(r.code).toBe(3);
    expect(r.stderr).toContain("refused the token");
  });
});

describe("ballast status", () => {
  it("prints a row per server with its state in words, and the replica and generation", async () => {
    const r = await ballast(["status", "--admin-url", source.url, "--token", source.token]);
    expect(r.code, r.stderr).toBe(0);
    const lines = r.stdout.split("\n");
    expect(lines[0]).toMatch(/^replica \S+ · configuration generation 11 · /);
    expect(lines).toContainEqual(expect.stringMatching(/^LISTENER\s+SERVICE\s+SERVER\s+STATE\s+WEIGHT/));
    const row = (server: string) => lines.find((l) => l.includes(` ${server} `)) ?? "";
    expect(row("127.0.0.1:9")).toMatch(/^front:\d+,secure:\d+\s+web\s+127\.0\.0\.1:9\s+(up|down)\s+30\s/);
    expect(row("127.0.0.2:9")).toMatch(/\bweb\s+127\.0\.0\.2:9\s/);
    expect(row("127.0.0.3:9")).toMatch(/^pg:\d+,pgs:\d+\s+db\s+127\.0\.0\.3:9\s/);
    const json = await ballast(["status", "--json"], { env: conn(source) });
    expect((JSON.parse(json.stdout) as { services: unknown[] }).services).toHaveLength(2);
  });
});

describe("ballast serve", () => {
  it("runs the data plane in place (same PID, with its V8 flags) and stops cleanly on SIGTERM", async () => {
    const stateDir = join(dir, "serve-state");
    const child = spawn(process.execPath, [BALLAST_JS, "serve"], {
      env: { ...process.env, BALLAST_ADMIN_ADDR: "127.0.0.1:0", BALLAST_ADMIN_TOKEN: "serve-token-0123456789", BALLAST_STATE_DIR: stateDir, BALLAST_WORKERS: "0" },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let output = "";
    child.stdout.setEncoding("utf8").on("data", (d: string) => (output += d));
    child.stderr.setEncoding("utf8").on("data", (d: string) => (output += d));
    const exited = new Promise<number | null>((done) => child.on("close", (code) => done(code)));
    try {
      const url = await new Promise<string>((done, fail) => {
        const timer = setTimeout(() => fail(new Error(`no "admin listening" in 30 s:\n${output}`)), 30_000);
        child.stdout.on("data", () => {
          const m = /"admin listening".*"url":"([^"]+)"|"url":"([^"]+)".*"admin listening"/.exec(output);
          if (m) {
            clearTimeout(timer);
            done((m[1] ?? m[2])!);
          }
        });
      });
      expect((await fetch(`${url}/healthz`)).status).toBe(200);
      const cmdline = readFileSync(`/proc/${child.pid}/cmdline`, "utf8").split("\0");
      expect(cmdline).toContain("--max-semi-space-size=4");
      expect(cmdline.some((a) => a.endsWith("dist/dataplane/main.js"))).toBe(true);
    } finally {
      child.kill("SIGTERM");
    }
    expect(await exited).toBe(0);
  });
});
