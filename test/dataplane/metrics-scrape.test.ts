import { spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import net from "node:net";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { startDataplane, type Dataplane } from "../helpers/dataplane-process";
import { startOrigin, type Origin } from "../helpers/origin";
import { freePorts } from "../helpers/ports";
import { repoRoot } from "../helpers/toolchain";
import { body } from "../model/fixtures";
import { expectJson, json } from "./admin/api-helpers";

/**
 * /metrics of a real data plane process (one worker) with real traffic: `promtool check metrics`
 * passes on it, the metrics operators alert on are there with the right values, and every metric
 * the shipped Grafana dashboard and alert rules query exists in it. promtool comes from Debian's
 * `prometheus` package (scripts/ensure-promtool.sh, run by scripts/test.sh): missing, this fails.
 */

function promtool(args: string[], input?: string): { status: number | null; out: string } {
  const r = spawnSync("promtool", args, { input, encoding: "utf8", timeout: 30_000, cwd: repoRoot });
  if (r.error) throw new Error(`promtool cannot run (${r.error.message}): install it with scripts/ensure-promtool.sh`);
  return { status: r.status, out: `${r.stdout}${r.stderr}` };
}

/** Names of Ballast's, process and Node.js metrics in a PromQL text. */
function metricNames(promql: string): string[] {
  return [...new Set(promql.match(/\b(?:ballast|process|nodejs)_[a-z0-9_]+\b/g) ?? [])];
}

/** Series names present in a scrape (a histogram's `_bucket`, `_sum`, `_count` included). */
function seriesNames(scrape: string): Set<string> {
  return new Set(scrape.split("\n").filter((l) => l && !l.startsWith("#")).map((l) => /^[a-zA-Z_:][a-zA-Z0-9_:]*/.exec(l)![0]));
}

/** Value of the one series of `name` whose labels include all of `labels`. */
function value(scrape: string, name: string, labels: Record<string, string> = {}): number | undefined {
  for (const line of scrape.split("\n")) {
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!m || m[1] !== name) continue;
    const got = Object.fromEntries([...(m[2] ?? "").matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)].map((x) => [x[1], x[2]]));
    if (Object.entries(labels).every(([k, v]) => got[k] === v)) return Number(m[3]);
  }
  return undefined;
}

describe("/metrics of a real data plane", () => {
  let dp: Dataplane;
  let origin: Origin;
  let spare: Origin;
  let echo: net.Server;
  let scrape = "";
  let httpPort = 0;
  let tcpPort = 0;
  let deadPort = 0;
  const held: net.Socket[] = [];

  beforeAll(async () => {
    origin = await startOrigin("a");
    spare = await startOrigin("b");
    echo = net.createServer((s) => s.pipe(s));
    await new Promise<void>((r) => echo.listen(0, "127.0.0.1", () => r()));
    const echoPort = (echo.address() as net.AddressInfo).port;
    [httpPort, tcpPort, deadPort] = await freePorts(3);
    dp = await startDataplane();
    const post = async (kind: string, value: Record<string, unknown>) => expectJson(await dp.api(`/v1/${kind}`, json("POST", value)), 201);
    const pool = (servers: Record<string, unknown>[]) => ({ name: "pool", type: "virtual", servers });
    const live = { address: "127.0.0.1", port: origin.port };
    await post("server-groups", pool([live]));
    await post("server-groups", { name: "echoes", type: "virtual", servers: [{ address: "127.0.0.1", port: echoPort }] });
    await post("backend-services", body("httpService", { serverGroup: "pool" }));
    await post("health-checks", body("httpCheck", { path: "/health", interval: 5 }));
    await post("backend-services", body("tcpService", { serverGroup: "echoes" }));
    // Servers added once the check exists are out until their first probe passes: the refused one stays down.
    const more = [{ address: "127.0.0.1", port: deadPort }, { address: "127.0.0.1", port: spare.port, weight: 0 }];
    await expectJson(await dp.api("/v1/server-groups/pool", json("PUT", pool([live, ...more]))), 200);
    await post("listeners", body("httpListener", { port: httpPort }));
    await post("listeners", body("tcpListener", { port: tcpPort }));
    // The live server is up once its first probe passed; then traffic goes through.
    const deadline = Date.now() + 30_000;
    let status = 0;
    while (Date.now() < deadline && status !== 200) {
      status = (await fetch(`http://127.0.0.1:${httpPort}/x`).catch(() => undefined))?.status ?? 0;
      if (status !== 200) await new Promise((r) => setTimeout(r, 100));
    }
    expect(status).toBe(200);
    // An open client connection on each listener, held during the scrape.
    const keep = net.connect(httpPort, "127.0.0.1");
    const tcp = net.connect(tcpPort, "127.0.0.1");
    held.push(keep, tcp);
    await Promise.all(held.map((s) => new Promise((r) => s.once("connect", r))));
    tcp.write("ping");
    await new Promise((r) => tcp.once("data", r));
    // A TCP connection that has closed: its bytes are counted at its close.
    const once = net.connect(tcpPort, "127.0.0.1");
    once.end("bye");
    once.resume();
    await new Promise((r) => once.once("close", r));
    // The refused server's first probe has failed.
    const until = Date.now() + 30_000;
    while (Date.now() < until && !(await (await fetch(`${dp.url}/metrics`)).text()).includes(`ballast_server_up{server="127.0.0.1:${deadPort}",service="web"} 0`)) {
      await new Promise((r) => setTimeout(r, 100));
    }
    scrape = await (await fetch(`${dp.url}/metrics`)).text();
  }, 90_000);

  afterAll(async () => {
    for (const s of held) s.destroy();
    await dp?.stop();
    await origin?.close();
    await spare?.close();
    await new Promise((r) => echo?.close(r));
  });

  test("promtool check metrics passes on the scrape", () => {
    const r = promtool(["check", "metrics"], scrape);
    expect(r.out).toBe("");
    expect(r.status).toBe(0);
  });

  test("server up and state: the live server up, the refused one down, the weight-0 one draining", () => {
    const live = `127.0.0.1:${origin.port}`;
    const dead = `127.0.0.1:${deadPort}`;
    const draining = `127.0.0.1:${spare.port}`;
    // Each server's state is exactly one of the four.
    for (const server of [live, dead, draining]) {
      const states = ["up", "down", "draining", "slow_start"].map((state) => value(scrape, "ballast_server_state", { service: "web", server, state }));
      expect(states.reduce((a, b) => a! + b!, 0)).toBe(1);
    }
    expect(value(scrape, "ballast_server_up", { service: "web", server: live })).toBe(1);
    expect(value(scrape, "ballast_server_up", { service: "web", server: dead })).toBe(0);
    expect(value(scrape, "ballast_server_state", { service: "web", server: live, state: "up" })).toBe(1);
    expect(value(scrape, "ballast_server_state", { service: "web", server: live, state: "down" })).toBe(0);
    expect(value(scrape, "ballast_server_state", { service: "web", server: dead, state: "down" })).toBe(1);
    expect(value(scrape, "ballast_server_state", { service: "web", server: draining, state: "draining" })).toBe(1);
  });

  test("connection gauges count the open client and server connections", () => {
    expect(value(scrape, "ballast_listener_active_connections", { listener: "front" })).toBeGreaterThanOrEqual(1);
    expect(value(scrape, "ballast_listener_active_connections", { listener: "pg" })).toBe(1);
    expect(value(scrape, "ballast_server_active_connections", { service: "db" })).toBe(1);
    expect(value(scrape, "ballast_server_active_connections", { service: "web", server: `127.0.0.1:${origin.port}` })).toBeGreaterThanOrEqual(1);
  });

  test("process, event loop, build and access-log metrics of the primary and the worker", () => {
    const pkg = JSON.parse(readFileSync(join(repoRoot, "package.json"), "utf8")) as { version: string };
    expect(value(scrape, "ballast_build_info", { version: pkg.version, node: process.version })).toBe(1);
    const parser = process.env.BALLAST_HTTP_ENGINE === "wasm" ? "llhttp-wasm" : "llhttp-native";
    expect(value(scrape, "ballast_http_parser_info", { parser })).toBe(1);
    expect(value(scrape, "ballast_access_log_dropped_total")).toBe(0);
    for (const proc of ["primary", undefined]) {
      const labels: Record<string, string> = proc ? { process: proc } : {};
      expect(value(scrape, "process_resident_memory_bytes", labels)).toBeGreaterThan(10e6);
      expect(value(scrape, "process_cpu_seconds_total", labels)).toBeGreaterThan(0);
      expect(value(scrape, "process_open_fds", labels)).toBeGreaterThan(3);
      expect(value(scrape, "nodejs_eventloop_lag_seconds", labels)).toBeGreaterThanOrEqual(0);
    }
    const starts = scrape.split("\n").filter((l) => l.startsWith("process_start_time_seconds{"));
    expect(starts.map((l) => /process="([^"]+)"/.exec(l)![1]).sort()).toEqual(["primary", expect.stringMatching(/^worker-\d+$/)]);
    for (const l of starts) expect(Math.abs(Number(l.split(" ")[1]) - Date.now() / 1000)).toBeLessThan(600);
  });

  test("every metric the Grafana dashboard and the alert rules query is in the scrape", () => {
    const have = seriesNames(scrape);
    const dashboard = JSON.parse(readFileSync(join(repoRoot, "docs/grafana-dashboard.json"), "utf8")) as { panels: { targets: { expr: string }[] }[] };
    const exprs = dashboard.panels.flatMap((p) => p.targets.map((t) => t.expr));
    const rules = readFileSync(join(repoRoot, "docs/prometheus-alerts.yml"), "utf8");
    const queried = metricNames([...exprs, rules].join("\n"));
    expect(queried.length).toBeGreaterThan(10);
    expect(queried.filter((n) => !have.has(n))).toEqual([]);
  });

  test("the worker writes the access lines of its traffic to stdout; health probes write none", async () => {
    const accessLines = () =>
      dp
        .output()
        .split("\n")
        .filter((l) => l.startsWith("{"))
        .map((l) => JSON.parse(l) as Record<string, unknown>)
        .filter((l) => l.msg === "access");
    // Lines reach stdout in batches, from another process: wait (bounded) until the TCP line is there.
    for (let i = 0; i < 200 && !accessLines().some((l) => l.listener === "pg"); i++) await new Promise((r) => setTimeout(r, 100));
    const access = accessLines();
    const http = access.filter((l) => l.listener === "front");
    expect(http.length).toBeGreaterThan(0);
    expect(http.every((l) => l.path === "/x")).toBe(true);
    expect(http.some((l) => l.status === 200 && l.termination === "normal")).toBe(true);
    // The origin was probed on /health all along, and no line says so.
    expect(origin.requests.some((r) => r.url === "/health")).toBe(true);
    expect(access.filter((l) => String(l.path).startsWith("/health"))).toEqual([]);
    const workerPid = Number(/process="worker-(\d+)"/.exec(scrape)![1]);
    expect(http.every((l) => l.pid === workerPid)).toBe(true);
    expect(access.some((l) => l.listener === "pg" && l.termination === "client_closed" && l.bytesIn === 3)).toBe(true);
  });

  test("promtool check rules passes on docs/prometheus-alerts.yml", () => {
    const r = promtool(["check", "rules", "docs/prometheus-alerts.yml"]);
    expect(r.out).toMatch(/SUCCESS: \d+ rules found/);
    expect(r.status).toBe(0);
  });
});
