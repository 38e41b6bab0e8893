import { createPrivateKey } from "node:crypto";
import { existsSync, readFileSync, readdirSync, rmSync, statSync } from "node:fs";
import { afterEach, describe, expect, it } from "vitest";
import { MAX_LISTENERS } from "../../../model";
import { AdminError } from "../../../dataplane/errors";
import { silentLogger } from "../../../dataplane/log";
import { Store, ifMatchAccepts } from "../../../dataplane/store";
import { makeTempDir } from "../../helpers/dataplane-process";
import { CERT, FAKE_CERT, FAKE_KEY, KEY, OTHER_KEY, body } from "../../model/fixtures";
import { FakeRuntime } from "./fake-runtime";

const dirs: string[] = [];
afterEach(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

async function openStore(stateDir?: string) {
  const dir = stateDir ?? makeTempDir("ballast-store-");
  if (!stateDir) dirs.push(dir);
  const runtime = new FakeRuntime();
  const store = await Store.open({ stateDir: dir, runtime, log: silentLogger() });
  return { store, runtime, dir, file: store.stateFile };
}

/** A store holding group `pool`, http service `web` (on pool), tcp service `db`. */
async function populated() {
  const env = await openStore();
  await env.store.create("server-groups", body("virtualGroup"));
  await env.store.create("backend-services", body("httpService", { serverGroup: "pool" }));
  await env.store.create("backend-services", body("tcpService"));
  return env;
}

const readState = (file: string) => (existsSync(file) ? readFileSync(file) : undefined);

/** Expects `promise` to reject with an AdminError of `code` and returns it. */
async function refusal(promise: Promise<unknown>, code: string): Promise<AdminError> {
  const err = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(AdminError);
  expect((err as AdminError).code).toBe(code);
  return err as AdminError;
}

describe("Store", () => {
  describe("create and replace", () => {
    it("stores the validated spec with defaults and version 1, and hands the runtime a snapshot", async () => {
      const { store, runtime } = await openStore();
      const stored = await store.create("backend-services", body("httpService"));
      expect(stored).toMatchObject({ name: "web", scheduler: "wrr", connectionDrainTimeout: 300, version: 1 });
      expect(store.get("backend-services", "web")).toEqual(stored);
      expect(runtime.live?.services.web?.port).toBe(8080);
      expect(runtime.live?.generation).toBe(1);
    });

    it("a PUT bumps the version by one; omitted fields take their defaults", async () => {
      const { store } = await openStore();
      await store.create("backend-services", body("httpService", { scheduler: "wlc", connectionDrainTimeout: 10 }));
      const updated = await store.replace("backend-services", "web", { protocol: "http", port: 8080 });
      expect(updated).toMatchObject({ scheduler: "wrr", connectionDrainTimeout: 300, version: 2 });
      const again = await store.replace("backend-services", "web", { name: "web", protocol: "http", port: 8080, scheduler: "wlc" });
      expect(again.version).toBe(3);
    });

    it("a PUT that changes nothing keeps the version, applies nothing and writes nothing", async () => {
      const { store, runtime, file } = await openStore();
      await store.create("backend-services", body("httpService"));
      const before = readState(file);
      const applies = runtime.applied.length;
      const same = await store.replace("backend-services", "web", body("httpService", { scheduler: "wrr" }));
      expect(same.version).toBe(1);
      expect(runtime.applied.length).toBe(applies);
      expect(readState(file)).toEqual(before);
    });

    it("refuses a taken name with already_exists", async () => {
      const { store } = await populated();
      await refusal(store.create("backend-services", body("httpService")), "already_exists");
      await refusal(store.create("server-groups", body("virtualGroup", { servers: [] })), "already_exists");
    });

    it("refuses a body that is not an object, or fails the schema, with every issue", async () => {
      const { store } = await openStore();
      for (const bad of [null, [], "x", 3]) expect((await refusal(store.create("listeners", bad), "invalid")).issues?.[0]?.path).toBe("");
      const err = await refusal(store.create("backend-services", { name: "Bad", protocol: "http", port: 0, extra: 1 }), "invalid");
      expect(err.issues?.map((i) => i.path).sort()).toEqual(["extra", "name", "port"]);
    });

    it("PUT: 404 when missing, a different name in the body is invalid, the same name or none is fine", async () => {
      const { store } = await populated();
      await refusal(store.replace("backend-services", "nope", body("httpService")), "not_found");
      const err = await refusal(store.replace("backend-services", "web", body("httpService", { name: "other" })), "invalid");
      expect(err.issues?.map((i) => i.path)).toEqual(["name"]);
      const { name: _name, ...unnamed } = body("httpService", { scheduler: "wlc", serverGroup: "pool" });
      expect((await store.replace("backend-services", "web", unnamed)).scheduler).toBe("wlc");
    });
  });

  describe("immutable fields", () => {
    it.each([
      ["backend-services", "web", body("httpService", { port: 9090, serverGroup: "pool" }), ["port"]],
      ["backend-services", "web", body("tcpService", { name: "web", port: 9090 }), ["protocol", "port"]],
      ["server-groups", "pool", body("availabilityGroup", { name: "pool" }), ["type"]],
      ["listeners", "front", body("httpListener", { port: 81 }), ["port"]],
      ["listeners", "front", body("httpsListener", { name: "front", port: 80 }), ["protocol"]],
      ["health-checks", "web-check", body("httpCheck", { backendService: "db" }), ["backendService"]],
    ] as const)("%s/%s: a change of %j is refused naming the fields", async (kind, name, next, fields) => {
      const { store, file } = await populated();
      await store.create("listeners", body("httpListener"));
      await store.create("health-checks", body("httpCheck"));
      const before = readState(file);
      const err = await refusal(store.replace(kind, name, next), "immutable");
      expect(err.issues?.map((i) => i.path)).toEqual(fields);
      for (const field of fields) expect(err.message).toContain(field);
      expect(readState(file)).toEqual(before);
    });

    it("mutable fields change: a service's group may be swapped, a listener repointed", async () => {
      const { store } = await populated();
      await store.create("server-groups", body("availabilityGroup"));
      await store.create("backend-services", body("httpService", { name: "web2" }));
      await store.create("listeners", body("httpListener"));
      expect((await store.replace("backend-services", "web", body("httpService", { serverGroup: "pair" }))).serverGroup).toBe("pair");
      expect((await store.replace("listeners", "front", body("httpListener", { backendService: "web2" }))).backendService).toBe("web2");
    });
  });

  describe("If-Match", () => {
    it.each(["1", '"1"', 'W/"1"', "*", '"7", "1"'])("accepts %s for version 1", (header) => {
      expect(ifMatchAccepts(header, 1)).toBe(true);
    });
    it.each(["2", '"2"', "abc", ""])("refuses %s for version 1", (header) => {
      expect(ifMatchAccepts(header, 1)).toBe(false);
    });
    it("a stale If-Match is precondition_failed and changes nothing", async () => {
      const { store, file } = await populated();
      await store.replace("backend-services", "db", body("tcpService", { scheduler: "wlc" }), '"1"');
      const before = readState(file);
      await refusal(store.replace("backend-services", "db", body("tcpService", { scheduler: "wrr" }), '"1"'), "precondition_failed");
      expect(store.get("backend-services", "db")?.scheduler).toBe("wlc");
      expect(readState(file)).toEqual(before);
      expect((await store.replace("backend-services", "db", body("tcpService"), "2")).version).toBe(3);
    });
  });

  describe("integrity", () => {
    it("refuses references to missing objects, with the field's path", async () => {
      const { store } = await openStore();
      const listener = await refusal(store.create("listeners", body("httpListener")), "invalid");
      expect(listener.issues).toEqual([{ path: "backendService", message: "no backend service named 'web'" }]);
      const service = await refusal(store.create("backend-services", body("httpService", { serverGroup: "ghost" })), "invalid");
      expect(service.issues?.map((i) => i.path)).toEqual(["serverGroup"]);
      const check = await refusal(store.create("health-checks", body("httpCheck")), "invalid");
      expect(check.issues?.map((i) => i.path)).toEqual(["backendService"]);
    });

    it("http/https listeners take http services, tcp/tls listeners take tcp services", async () => {
      const { store } = await populated();
      await store.create("listeners", body("httpListener"));
      await store.create("listeners", body("httpsListener"));
      await store.create("listeners", body("tcpListener"));
      await store.create("listeners", body("tlsListener"));
      for (const [fixture, service, port] of [
        ["httpListener", "db", 8001],
        ["httpsListener", "db", 8002],
        ["tcpListener", "web", 8003],
        ["tlsListener", "web", 8004],
      ] as const) {
        const err = await refusal(store.create("listeners", body(fixture, { name: `x${port}`, port, backendService: service })), "invalid");
        expect(err.issues?.[0]?.path).toBe("backendService");
      }
      const repoint = await refusal(store.replace("listeners", "front", body("httpListener", { backendService: "db" })), "invalid");
      expect(repoint.issues?.[0]?.message).toContain("'db' is tcp");
    });

    it("a listener port is unique on the balancer: 409 conflict naming the holder", async () => {
      const { store } = await populated();
      await store.create("listeners", body("httpListener", { port: 8000 }));
      const err = await refusal(store.create("listeners", body("tcpListener", { port: 8000 })), "conflict");
      expect(err.message).toContain("'front'");
      expect(err.issues?.[0]?.path).toBe("port");
    });

    it(`at most ${MAX_LISTENERS} listeners`, async () => {
      const { store } = await populated();
      for (let i = 0; i < MAX_LISTENERS; i++) await store.create("listeners", body("httpListener", { name: `l${i}`, port: 10000 + i }));
      const err = await refusal(store.create("listeners", body("httpListener", { name: "one-more", port: 20000 })), "conflict");
      expect(err.message).toContain(String(MAX_LISTENERS));
      // an existing listener may still be updated
      expect((await store.replace("listeners", "l0", body("httpListener", { name: "l0", port: 10000 }))).version).toBe(1);
    });

    it("one health check per service: the second is a conflict naming the first; any check protocol fits any service", async () => {
      const { store } = await populated();
      await store.create("health-checks", body("httpCheck", { name: "first" }));
      const err = await refusal(store.create("health-checks", body("tcpCheck", { name: "second", backendService: "web" })), "conflict");
      expect(err.message).toContain("'first'");
      await store.create("health-checks", body("httpCheck", { name: "http-on-tcp", backendService: "db" }));
    });
  });

  describe("certificates (loaded as TLS will, before anything is applied)", () => {
    const keyLines = (pem: string) => pem.split("\n").filter((line) => line !== "" && !line.startsWith("-----"));

    /** Expects `body` to be refused as invalid at `paths`, with nothing applied or written; returns the error. */
    async function refusedCertificate(create: boolean, listenerBody: Record<string, unknown>, paths: string[]) {
      const env = await populated();
      if (!create) await env.store.create("listeners", body("tlsListener"));
      const before = readState(env.file);
      const applies = env.runtime.applied.length;
      const live = env.runtime.live;
      const stored = env.store.list("listeners");
      const err = await refusal(create ? env.store.create("listeners", listenerBody) : env.store.replace("listeners", "pgs", listenerBody), "invalid");
      expect(err.issues?.map((i) => i.path)).toEqual(paths);
      expect(err.message).toContain("certificate");
      const certificate = listenerBody.certificate as { privateKey: string };
      for (const line of keyLines(certificate.privateKey)) expect(JSON.stringify(err.toBody())).not.toContain(line);
      expect(env.runtime.applied.length).toBe(applies);
      expect(env.runtime.live).toBe(live);
      expect(env.store.list("listeners")).toEqual(stored);
      expect(readState(env.file)).toEqual(before);
      return err;
    }

    it("the test certificate and its key are accepted for https and tls", async () => {
      const { store } = await populated();
      expect((await store.create("listeners", body("httpsListener"))).certificate).toEqual({ chain: CERT, privateKey: KEY });
      expect((await store.create("listeners", body("tlsListener"))).version).toBe(1);
    });

    it("a chain that is PEM-shaped but not a certificate: invalid at certificate.chain", async () => {
      const err = await refusedCertificate(true, body("httpsListener", { certificate: { chain: FAKE_CERT, privateKey: KEY } }), ["certificate.chain"]);
      expect(err.issues?.[0]?.message).toMatch(/^is not a certificate chain TLS can load/);
    });

    it("a key that is not the certificate's: invalid at certificate.privateKey, on create and on update", async () => {
      const created = await refusedCertificate(true, body("tlsListener", { certificate: { chain: CERT, privateKey: OTHER_KEY } }), ["certificate.privateKey"]);
      expect(created.issues?.[0]?.message).toMatch(/does not match the certificate/);
      await refusedCertificate(false, body("tlsListener", { certificate: { chain: CERT, privateKey: OTHER_KEY } }), ["certificate.privateKey"]);
    });

    it("a key that is not a key, or is encrypted: invalid at certificate.privateKey", async () => {
      const garbage = await refusedCertificate(true, body("httpsListener", { certificate: { chain: CERT, privateKey: FAKE_KEY } }), ["certificate.privateKey"]);
      expect(garbage.issues?.[0]?.message).toMatch(/^is not a private key TLS can load/);
      const encrypted = createPrivateKey(KEY).export({ format: "pem", type: "pkcs8", cipher: "aes-256-cbc", passphrase: "secret" }) as string;
      const err = await refusedCertificate(true, body("httpsListener", { certificate: { chain: CERT, privateKey: encrypted } }), ["certificate.privateKey"]);
      expect(err.issues?.[0]?.message).toContain("encrypted");
    });

    it("every issue at once: both halves bad, and a missing service too", async () => {
      await refusedCertificate(true, body("httpsListener", { backendService: "ghost", certificate: { chain: FAKE_CERT, privateKey: FAKE_KEY } }), [
        "backendService",
        "certificate.chain",
        "certificate.privateKey",
      ]);
    });
  });

  describe("deletion", () => {
    it("a service named by listeners is in_use, naming them", async () => {
      const { store } = await populated();
      await store.create("listeners", body("httpListener"));
      await store.create("listeners", body("httpsListener"));
      const err = await refusal(store.remove("backend-services", "web"), "in_use");
      expect(err.message).toContain("'front'");
      expect(err.message).toContain("'secure'");
      await store.remove("listeners", "front");
      await store.remove("listeners", "secure");
      await store.remove("backend-services", "web");
    });

    it("a group bound to services is in_use, naming them", async () => {
      const { store } = await populated();
      await store.create("backend-services", body("tcpService", { name: "db2", serverGroup: "pool" }));
      const err = await refusal(store.remove("server-groups", "pool"), "in_use");
      expect(err.message).toContain("'web'");
      expect(err.message).toContain("'db2'");
    });

    it("deleting a service deletes its health check and leaves its group", async () => {
      const { store, runtime } = await populated();
      await store.create("health-checks", body("httpCheck"));
      await store.remove("backend-services", "web");
      expect(store.get("health-checks", "web-check")).toBeUndefined();
      expect(store.get("server-groups", "pool")).toBeDefined();
      expect(runtime.live?.services.web).toBeUndefined();
      await store.remove("server-groups", "pool");
    });

    it("deleting a missing object is not_found", async () => {
      const { store } = await openStore();
      await refusal(store.remove("listeners", "nope"), "not_found");
    });
  });

  describe("the change pipeline", () => {
    it("a port the runtime cannot bind is port_unavailable naming listener and port; nothing changes", async () => {
      const { store, runtime, file } = await populated();
      const before = readState(file);
      const live = runtime.live;
      runtime.busyPorts.add(80);
      const err = await refusal(store.create("listeners", body("httpListener")), "port_unavailable");
      expect(err.message).toContain("front");
      expect(err.message).toContain("80");
      expect(store.list("listeners")).toEqual([]);
      expect(runtime.live).toBe(live);
      expect(readState(file)).toEqual(before);
      runtime.busyPorts.clear();
      expect((await store.create("listeners", body("httpListener"))).version).toBe(1);
    });

    it("a failed state write re-applies the previous snapshot and answers state_write_failed; nothing changes", async () => {
      const { store, runtime, dir } = await populated();
      const servicesBefore = Object.keys(runtime.live?.services ?? {}).sort();
      rmSync(dir, { recursive: true, force: true });
      await refusal(store.create("backend-services", body("httpService", { name: "new" })), "state_write_failed");
      expect(store.get("backend-services", "new")).toBeUndefined();
      expect(Object.keys(runtime.live?.services ?? {}).sort()).toEqual(servicesBefore);
      const generations = runtime.applied.map((s) => s.generation);
      expect(generations).toEqual([...generations].sort((a, b) => a - b));
      expect(new Set(generations).size).toBe(generations.length);
    });

    it("a runtime failure other than a port is internal and restores the previous snapshot", async () => {
      const { store, runtime } = await populated();
      runtime.failWith = new Error("boom");
      await refusal(store.create("backend-services", body("httpService", { name: "new" })), "internal");
      runtime.failWith = undefined;
      expect(store.get("backend-services", "new")).toBeUndefined();
    });

    it("100 concurrent creates are serialized: all succeed, each generation once, all in the state file", async () => {
      const { store, runtime, file, dir } = await openStore();
      runtime.delayMs = 1;
      const names = Array.from({ length: 100 }, (_, i) => `g${i}`);
      const results = await Promise.all(names.map((name) => store.create("server-groups", body("virtualGroup", { name }))));
      expect(results.every((r) => r.version === 1)).toBe(true);
      expect(store.list("server-groups").map((g) => g.name).sort()).toEqual([...names].sort());
      expect(runtime.applied.map((s) => s.generation)).toEqual(names.map((_, i) => i + 1));
      const saved = JSON.parse(readFileSync(file, "utf8")) as { generation: number; "server-groups": unknown[] };
      expect(saved.generation).toBe(100);
      expect(saved["server-groups"]).toHaveLength(100);
      expect(readdirSync(dir)).toEqual(["state.json"]);
    });

    it("concurrent conflicting creates: exactly one wins", async () => {
      const { store } = await populated();
      const attempts = await Promise.allSettled(
        Array.from({ length: 10 }, (_, i) => store.create("listeners", body("httpListener", { name: `l${i}`, port: 8080 }))),
      );
      expect(attempts.filter((a) => a.status === "fulfilled")).toHaveLength(1);
      expect(store.list("listeners")).toHaveLength(1);
    });
  });

  describe("persistence", () => {
    it("a reopened store has the same objects, versions and generation", async () => {
      const { store, dir } = await populated();
      await store.create("server-groups", body("availabilityGroup"));
      await store.create("listeners", body("httpListener"));
      await store.create("listeners", body("tlsListener"));
      await store.create("health-checks", body("httpCheck"));
      await store.replace("backend-services", "db", body("tcpService", { proxyProtocol: "v2", serverGroup: "pair" }));
      const before = store.snapshot();
      const again = await openStore(dir);
      for (const kind of ["listeners", "backend-services", "server-groups", "health-checks"] as const) {
        expect(again.store.list(kind)).toEqual(store.list(kind));
      }
      expect(again.store.get("backend-services", "db")?.version).toBe(2);
      expect(again.store.snapshot()).toEqual(before);
    });

    it("writes the state file with owner-only permissions (it holds private keys)", async () => {
      const { store, file } = await populated();
      await store.create("listeners", body("tlsListener"));
      expect(statSync(file).mode & 0o777).toBe(0o600);
    });
  });

  describe("reverse lookup", () => {
    it("lists every group holding an address and every service bound to those groups", async () => {
      const { store } = await populated();
      await store.create("server-groups", body("availabilityGroup"));
      await store.create("server-groups", body("virtualGroup", { name: "other", servers: [{ address: "10.9.9.9" }] }));
      await store.replace("backend-services", "db", body("tcpService", { serverGroup: "pair" }));
      const usage = store.usage("10.0.0.1");
      expect(usage.groups.map((g) => g.name)).toEqual(["pair", "pool"]);
      expect(usage.groups[0]?.servers).toEqual([{ address: "10.0.0.1", role: "primary" }]);
      expect(usage.services).toEqual([
        { name: "db", group: "pair", port: 5432 },
        { name: "web", group: "pool", port: 8080 },
      ]);
      expect(store.usage("10.1.1.1")).toEqual({ address: "10.1.1.1", groups: [], services: [] });
    });
  });
});
