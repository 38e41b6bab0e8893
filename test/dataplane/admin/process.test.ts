import { existsSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { makeTempDir, runDataplaneToExit, startDataplane, type Dataplane } from "../../helpers/dataplane-process";
import { freePorts } from "../../helpers/ports";
import { CERT, FAKE_KEY, KEY, OTHER_KEY, body } from "../../model/fixtures";
import { expectJson, json } from "./api-helpers";

/** The data plane as a process: start-up refusals, shutdown, restart persistence, secrets in logs. */

const running: Dataplane[] = [];
const dirs: string[] = [];

async function start(options: Parameters<typeof startDataplane>[0] = {}): Promise<Dataplane> {
  const dp = await startDataplane(options);
  running.push(dp);
  return dp;
}

function tempDir(): string {
  const dir = makeTempDir("ballast-proc-");
  dirs.push(dir);
  return dir;
}

afterEach(async () => {
  await Promise.all(running.splice(0).map((dp) => dp.stop()));
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

/** The lines of a PEM text between its BEGIN and END lines (the secret part of a key). */
const pemBody = (pem: string) => pem.split("\n").filter((line) => line !== "" && !line.startsWith("-----"));

/**
 * One object of every kind and variant, some updated so versions differ. The listeners really bind
 * (on free ports) and the https/tls ones really load the test certificate.
 */
async function populate(dp: Dataplane): Promise<void> {
  const [http, https, tcp, tls] = await freePorts(4);
  const post = async (kind: string, value: Record<string, unknown>) => expectJson(await dp.api(`/v1/${kind}`, json("POST", value)), 201);
  await post("server-groups", body("virtualGroup", { servers: [{ address: "10.0.0.1", port: 81, weight: 7, description: "one" }, { address: "api.internal" }] }));
  await post("server-groups", body("availabilityGroup"));
  await post("backend-services", body("httpService", { serverGroup: "pool", sessionPersistence: { type: "insert-cookie", cookieTimeout: 0 }, slowStart: 60 }));
  await post("backend-services", body("tcpService", { serverGroup: "pair", sessionPersistence: { type: "source-ip" } }));
  await post("listeners", body("httpListener", { port: http }));
  await post("listeners", body("httpsListener", { port: https }));
  await post("listeners", body("tcpListener", { port: tcp }));
  await post("listeners", body("tlsListener", { port: tls }));
  await post("health-checks", body("httpCheck", { path: "/healthz", statusCodes: ["2xx"] }));
  await post("health-checks", body("tcpCheck", { port: 9999 }));
  await expectJson(await dp.api("/v1/backend-services/db", json("PUT", body("tcpService", { serverGroup: "pair", proxyProtocol: "v2" }))), 200);
  await expectJson(await dp.api("/v1/backend-services/db", json("PUT", body("tcpService", { serverGroup: "pair", proxyProtocol: "v1" }))), 200);
}

async function everything(dp: Dataplane): Promise<Record<string, unknown>> {
  const out: Record<string, unknown> = {};
  for (const kind of ["listeners", "backend-services", "server-groups", "health-checks"]) {
    out[kind] = (await expectJson<{ items: unknown[] }>(await dp.api(`/v1/${kind}`), 200)).items;
  }
  return out;
}

describe("data plane process", () => {
  describe("refuses to start", () => {
    it("without a token: exit 1 and a message naming BALLAST_ADMIN_TOKEN", async () => {
      const result = await runDataplaneToExit({ env: { BALLAST_ADMIN_TOKEN: undefined } });
      expect(result.code).toBe(1);
      expect(result.output).toMatch(/BALLAST_ADMIN_TOKEN is required/);
      expect(result.output).not.toContain("admin listening");
    });

    it("with a token of 15 characters, without quoting it; 16 characters start", async () => {
      const short = "abcdefghijklmn5";
      const result = await runDataplaneToExit({ token: short });
      expect(result.code).toBe(1);
      expect(result.output).toMatch(/BALLAST_ADMIN_TOKEN is too short \(15 characters\)/);
      expect(result.output).not.toContain(short);
      const dp = await start({ token: "abcdefghijklmn16" });
      expect((await fetch(`${dp.url}/v1/listeners`, { headers: { authorization: "Bearer abcdefghijklmn16" } })).status).toBe(200);
    });

    it("with a bad admin address or log level", async () => {
      const addr = await runDataplaneToExit({ env: { BALLAST_ADMIN_ADDR: "localhost" } });
      expect(addr.code).toBe(1);
      expect(addr.output).toContain("BALLAST_ADMIN_ADDR");
      const level = await runDataplaneToExit({ env: { BALLAST_LOG_LEVEL: "loud" } });
      expect(level.code).toBe(1);
      expect(level.output).toContain("BALLAST_LOG_LEVEL");
    });

    it.each([
      ["bad JSON", '{"format": 1, "generation": 3, "listeners": [', "is not valid JSON"],
      ["a schema failure", JSON.stringify({ format: 1, generation: 3, listeners: [], "backend-services": [{ name: "web", protocol: "http", port: 0, version: 1 }], "server-groups": [], "health-checks": [] }), "backend-services[0].port"],
    ])("with a corrupt state file (%s): the message names the file and the problem; the file is untouched", async (_label, text, problem) => {
      const dir = tempDir();
      const file = join(dir, "state.json");
      writeFileSync(file, text);
      const result = await runDataplaneToExit({ stateDir: dir });
      expect(result.code).toBe(1);
      expect(result.output).toContain(file);
      expect(result.output).toContain(problem);
      expect(readFileSync(file, "utf8")).toBe(text);
    });
  });

  it.each(["SIGTERM", "SIGINT"] as const)("exits 0 on %s", async (signal) => {
    const dp = await start();
    expect(await dp.stop(signal)).toBe(0);
    expect(dp.output()).toContain('"shutting down"');
  });

  it("a restart loses nothing: every kind comes back identical, versions included", async () => {
    const dir = tempDir();
    const first = await start({ stateDir: dir });
    await populate(first);
    const before = await everything(first);
    expect(await first.stop()).toBe(0);

    const second = await start({ stateDir: dir, token: first.token });
    expect(await everything(second)).toEqual(before);
    expect((await expectJson(await second.api("/v1/backend-services/db"), 200)).version).toBe(3);
    // and it keeps working from there
    expect((await expectJson(await second.api("/v1/backend-services/db", json("PUT", body("tcpService", { serverGroup: "pair" }))), 200)).version).toBe(4);
  });

  it("100 concurrent creates all succeed and survive a restart; the state file always parses meanwhile", async () => {
    const dir = tempDir();
    const dp = await start({ stateDir: dir });
    const file = join(dir, "state.json");
    const names = Array.from({ length: 100 }, (_, i) => `group-${i}`);

    let creating = true;
    let reads = 0;
    const reader = (async () => {
      // bounded: stops when the creates finish or after 2000 reads
      while (creating && reads < 2000) {
        if (existsSync(file)) {
          const text = readFileSync(file, "utf8");
          expect(() => JSON.parse(text), `read #${reads} did not parse`).not.toThrow();
          reads++;
        }
        await new Promise((r) => setTimeout(r, 2));
      }
    })();
    const statuses = await Promise.all(
      names.map(async (name) => {
        const res = await dp.api("/v1/server-groups", json("POST", body("virtualGroup", { name, servers: [{ address: "10.1.1.1" }] })));
        await res.text();
        return res.status;
      }),
    );
    creating = false;
    await reader;
    expect(statuses).toEqual(names.map(() => 201));
    expect(reads).toBeGreaterThan(0);

    expect(await dp.stop()).toBe(0);
    const again = await start({ stateDir: dir });
    const items = (await expectJson<{ items: { name: string; version: number }[] }>(await again.api("/v1/server-groups"), 200)).items;
    expect(items.map((i) => i.name).sort()).toEqual([...names].sort());
    expect(items.every((i) => i.version === 1)).toBe(true);
    expect(JSON.parse(readFileSync(file, "utf8")).generation).toBe(100);
  });

  it("never logs the token or a private key", async () => {
    const token = "known-token-" + "z".repeat(20);
    const wrong = "wrong-token-" + "y".repeat(20);
    const dp = await start({ token, env: { BALLAST_LOG_LEVEL: "trace" } });
    await populate(dp);
    await dp.api("/v1/listeners");
    await dp.api(`/v1/listeners?token=${token}`);
    await fetch(`${dp.url}/v1/listeners`, { headers: { authorization: `Bearer ${wrong}` } });
    await fetch(`${dp.url}/v1/listeners`, { headers: { authorization: token } });
    await dp.api("/v1/listeners", json("POST", `{"broken": "${token}"`));
    await dp.api("/v1/listeners/secure", json("PUT", body("httpsListener", { port: 1 })));
    // refused certificates: their keys must not show up in the log either
    const [spare] = await freePorts(1);
    for (const privateKey of [OTHER_KEY, FAKE_KEY]) {
      const refused = await dp.api("/v1/listeners", json("POST", body("tlsListener", { name: "refused", port: spare, certificate: { chain: CERT, privateKey } })));
      expect(refused.status).toBe(400);
      expect(await refused.text()).not.toContain(pemBody(privateKey)[0]);
    }
    expect(await dp.stop()).toBe(0);
    const output = dp.output();
    expect(output).toContain('"admin request"');
    expect(output).not.toContain(token);
    expect(output).not.toContain(wrong);
    for (const line of [...pemBody(KEY), ...pemBody(OTHER_KEY), ...pemBody(FAKE_KEY)]) expect(output).not.toContain(line);
  });
});
