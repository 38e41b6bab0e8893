import { readFileSync } from "node:fs";
import { join } from "node:path";
import { connect as tlsConnect } from "node:tls";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { occupyPort, startDataplane, type Dataplane } from "../../helpers/dataplane-process";
import { freePort } from "../../helpers/ports";
import { CERT, FAKE_CERT, KEY, OTHER_KEY, body } from "../../model/fixtures";
import { expectError, expectJson, json, rawExchange, waitFor } from "./api-helpers";

/**
 * Every status code of docs/admin-api.md through real HTTP calls to a started data plane process
 * (`node dist/dataplane/main.js`; build first with `npx tsc -p tsconfig.json`). Its listeners
 * really bind, on 127.0.0.1 and on ports that were free when the test ran.
 */

let dp: Dataplane;
/** The port of listener `front`. */
let frontPort: number;
const stateBytes = () => readFileSync(join(dp.stateDir, "state.json"));
const pemLines = (pem: string) => pem.split("\n").filter((line) => line !== "" && !line.startsWith("-----"));

beforeAll(async () => {
  dp = await startDataplane();
  frontPort = await freePort();
  // a small configuration most tests lean on: group pool ← service web ← listener front
  await expectJson(await dp.api("/v1/server-groups", json("POST", body("virtualGroup"))), 201);
  await expectJson(await dp.api("/v1/backend-services", json("POST", body("httpService", { serverGroup: "pool" }))), 201);
  await expectJson(await dp.api("/v1/listeners", json("POST", body("httpListener", { port: frontPort }))), 201);
});

afterAll(async () => {
  await dp?.stop();
});

describe("admin API over HTTP", () => {
  describe("open routes", () => {
    it("GET /healthz is 200 without a token", async () => {
      const res = await fetch(`${dp.url}/healthz`);
      expect(await expectJson(res, 200)).toEqual({ status: "ok" });
    });

    it("GET /metrics is Prometheus text without a token, with admin request counters and no token", async () => {
      const res = await fetch(`${dp.url}/metrics`);
      expect(res.status).toBe(200);
      expect(res.headers.get("content-type")).toMatch(/^text\/plain; version=0\.0\.4/);
      await res.text();
      // counters are recorded when a response is done, which may trail the client by a moment
      const text = await waitFor("the POST counter", async () => {
        const t = await (await fetch(`${dp.url}/metrics`)).text();
        return t.includes('route="/v1/listeners",status="201"') ? t : undefined;
      });
      expect(text).toMatch(/^# HELP ballast_admin_requests_total /m);
      expect(text).toMatch(/ballast_admin_requests_total\{method="POST",route="\/v1\/listeners",status="201"\} 1/);
      expect(text).toMatch(/ballast_admin_request_duration_seconds_bucket\{method="POST",route="\/v1\/listeners",le="\+Inf"\} 1/);
      expect(text).toMatch(/ballast_objects\{kind="listeners"\} 1/);
      expect(text).not.toContain(dp.token);
    });
  });

  describe("401 unauthorized", () => {
    it.each([
      ["no Authorization header", undefined],
      ["a wrong token", "Bearer wrong-token-wrong-token"],
      ["the token with one character changed", "CHANGE"],
      ["another scheme", "BASIC"],
      ["an empty bearer", "Bearer "],
    ])("with %s", async (_label, header) => {
      const value = header === "CHANGE" ? `Bearer ${dp.token.slice(0, -1)}x` : header === "BASIC" ? `Basic ${dp.token}` : header;
      const res = await fetch(`${dp.url}/v1/listeners`, value === undefined ? {} : { headers: { authorization: value } });
      await expectError(res, 401, "unauthorized");
      expect(res.headers.get("www-authenticate")).toMatch(/^Bearer/);
    });

    it("also on unknown /v1 routes and on writes, which change nothing", async () => {
      await expectError(await fetch(`${dp.url}/v1/nothing-here`), 401, "unauthorized");
      const before = stateBytes();
      await expectError(await fetch(`${dp.url}/v1/backend-services`, json("POST", body("tcpService"))), 401, "unauthorized");
      await expectError(await fetch(`${dp.url}/v1/listeners/front`, { method: "DELETE" }), 401, "unauthorized");
      expect(stateBytes()).toEqual(before);
    });

    it("the scheme is case-insensitive", async () => {
      await expectJson(await fetch(`${dp.url}/v1/listeners`, { headers: { authorization: `bearer ${dp.token}` } }), 200);
    });
  });

  describe("2xx", () => {
    it("201 on create with the stored object (defaults, version), Location and ETag", async () => {
      const res = await dp.api("/v1/backend-services", json("POST", body("tcpService", { name: "created" })));
      const created = await expectJson(res, 201);
      expect(created).toEqual({ name: "created", protocol: "tcp", port: 5432, scheduler: "wrr", connectionDrainTimeout: 300, proxyProtocol: "off", version: 1 });
      expect(res.headers.get("location")).toBe("/v1/backend-services/created");
      expect(res.headers.get("etag")).toBe('"1"');
    });

    it("200 on get one and on list (`items`, sorted by name)", async () => {
      const one = await expectJson(await dp.api("/v1/backend-services/web"), 200);
      expect(one).toMatchObject({ name: "web", serverGroup: "pool", version: 1 });
      const list = await expectJson<{ items: { name: string }[] }>(await dp.api("/v1/backend-services"), 200);
      const names = list.items.map((i) => i.name);
      expect(names).toContain("web");
      expect(names).toEqual([...names].sort());
    });

    it("200 on PUT with the new version; the body may omit or repeat the name", async () => {
      await expectJson(await dp.api("/v1/backend-services", json("POST", body("tcpService", { name: "put-me" }))), 201);
      const { name: _n, ...unnamed } = body("tcpService", { scheduler: "wlc" });
      const first = await expectJson(await dp.api("/v1/backend-services/put-me", json("PUT", unnamed)), 200);
      expect(first).toMatchObject({ name: "put-me", scheduler: "wlc", version: 2 });
      const second = await expectJson(await dp.api("/v1/backend-services/put-me", json("PUT", body("tcpService", { name: "put-me" }))), 200);
      expect(second).toMatchObject({ scheduler: "wrr", version: 3 });
    });

    it("204 on delete, with no body; then 404", async () => {
      await expectJson(await dp.api("/v1/server-groups", json("POST", body("virtualGroup", { name: "doomed" }))), 201);
      const res = await dp.api("/v1/server-groups/doomed", { method: "DELETE" });
      expect(res.status).toBe(204);
      expect(await res.text()).toBe("");
      await expectError(await dp.api("/v1/server-groups/doomed"), 404, "not_found");
    });
  });

  describe("400", () => {
    it("invalid lists every failing field at once, and changes nothing", async () => {
      const before = stateBytes();
      const res = await dp.api("/v1/backend-services", json("POST", { name: "Bad_Name", protocol: "http", port: 70000, connectionDrainTimeout: -1, colour: "red" }));
      const error = await expectError(res, 400, "invalid");
      expect(error.issues?.map((i) => i.path).sort()).toEqual(["colour", "connectionDrainTimeout", "name", "port"]);
      for (const issue of error.issues ?? []) expect(issue.message.length).toBeGreaterThan(0);
      expect(stateBytes()).toEqual(before);
    });

    it("a listener's underscoresInHeaders: stored as given, and refused on tcp naming the field", async () => {
      const port = await freePort();
      const stored = await expectJson(await dp.api("/v1/listeners", json("POST", body("httpListener", { name: "underscored", port, underscoresInHeaders: true }))), 201);
      expect(stored).toMatchObject({ underscoresInHeaders: true, version: 1 });
      await dp.api("/v1/listeners/underscored", { method: "DELETE" });
      const before = stateBytes();
      const error = await expectError(await dp.api("/v1/listeners", json("POST", body("tcpListener", { name: "tcp-underscored", underscoresInHeaders: true }))), 400, "invalid");
      expect(error.issues?.map((i) => i.path)).toContain("underscoresInHeaders");
      expect(stateBytes()).toEqual(before);
    });

    it("invalid for a missing reference, with the field's path", async () => {
      const error = await expectError(await dp.api("/v1/listeners", json("POST", body("httpListener", { name: "dangling", port: 81, backendService: "ghost" }))), 400, "invalid");
      expect(error.issues).toEqual([{ path: "backendService", message: "no backend service named 'ghost'" }]);
    });

    it("invalid for JSON that is not an object", async () => {
      for (const value of ["[]", "null", '"text"', "42"]) {
        await expectError(await dp.api("/v1/listeners", json("POST", value)), 400, "invalid");
      }
    });

    describe("certificates are loaded before anything is applied", () => {
      const secure = (patch: Record<string, unknown> = {}) => body("httpsListener", { port: securePort, ...patch });
      let securePort: number;

      beforeAll(async () => {
        securePort = await freePort();
        await expectJson(await dp.api("/v1/listeners", json("POST", secure())), 201);
      });

      afterAll(async () => {
        await dp.api("/v1/listeners/secure", { method: "DELETE" });
      });

      it("a good certificate is served by the listener", async () => {
        const authorized = await new Promise<boolean>((resolve, reject) => {
          const socket = tlsConnect({ host: "127.0.0.1", port: securePort, servername: "localhost", ca: CERT }, () => {
            resolve(socket.authorized);
            socket.destroy();
          });
          socket.once("error", reject);
        });
        expect(authorized).toBe(true);
      });

      it.each([
        ["a chain that is not a certificate", { chain: FAKE_CERT, privateKey: KEY }, "certificate.chain"],
        ["a key that is not the certificate's", { chain: CERT, privateKey: OTHER_KEY }, "certificate.privateKey"],
      ])("POST with %s is invalid at its path, never echoes the key, and changes nothing", async (_label, certificate, path) => {
        const before = stateBytes();
        const port = await freePort();
        const res = await dp.api("/v1/listeners", json("POST", secure({ name: "refused", port, certificate })));
        const text = await res.clone().text();
        const error = await expectError(res, 400, "invalid");
        expect(error.issues?.map((i) => i.path)).toEqual([path]);
        expect(error.message).toContain("certificate");
        for (const line of pemLines(certificate.privateKey)) expect(text).not.toContain(line);
        expect(stateBytes()).toEqual(before);
        await expectError(await dp.api("/v1/listeners/refused"), 404, "not_found");
      });

      it("PUT with a mismatched key is invalid at certificate.privateKey and keeps the stored certificate", async () => {
        const stored = await expectJson(await dp.api("/v1/listeners/secure"), 200);
        const before = stateBytes();
        const error = await expectError(await dp.api("/v1/listeners/secure", json("PUT", secure({ certificate: { chain: CERT, privateKey: OTHER_KEY } }))), 400, "invalid");
        expect(error.issues?.map((i) => i.path)).toEqual(["certificate.privateKey"]);
        expect(error.issues?.[0]?.message).toMatch(/does not match the certificate/);
        expect(stateBytes()).toEqual(before);
        expect(await expectJson(await dp.api("/v1/listeners/secure"), 200)).toEqual(stored);
      });
    });

    it("invalid when the body's name differs from the URL's", async () => {
      const error = await expectError(await dp.api("/v1/backend-services/web", json("PUT", body("httpService", { name: "other" }))), 400, "invalid");
      expect(error.issues?.[0]?.path).toBe("name");
    });

    it("invalid_json for malformed or empty bodies, and changes nothing", async () => {
      const before = stateBytes();
      for (const text of ["{", '{"name": "x",}', "", "   "]) {
        await expectError(await dp.api("/v1/listeners", json("POST", text)), 400, "invalid_json");
      }
      await expectError(await dp.api("/v1/listeners/front", json("PUT", "{nope")), 400, "invalid_json");
      expect(stateBytes()).toEqual(before);
    });
  });

  describe("404 and 405", () => {
    it("404 not_found for unknown routes, objects, and PUT/DELETE of missing objects", async () => {
      await expectError(await fetch(`${dp.url}/nowhere`), 404, "not_found");
      await expectError(await dp.api("/v1/widgets"), 404, "not_found");
      await expectError(await dp.api("/v1/listeners/a/b/c"), 404, "not_found");
      await expectError(await dp.api("/v1/listeners/missing"), 404, "not_found");
      await expectError(await dp.api("/v1/listeners/missing", json("PUT", body("httpListener"))), 404, "not_found");
      await expectError(await dp.api("/v1/listeners/missing", { method: "DELETE" }), 404, "not_found");
      await expectError(await dp.api("/v1/backend-services/missing/status"), 404, "not_found");
    });

    it("405 method_not_allowed with an Allow header", async () => {
      const cases: [string, string, string][] = [
        ["/v1/listeners", "DELETE", "GET, POST"],
        ["/v1/listeners/front", "POST", "GET, PUT, DELETE"],
        ["/v1/listeners/front", "PATCH", "GET, PUT, DELETE"],
        ["/v1/backend-services/web/status", "PUT", "GET"],
        ["/healthz", "POST", "GET"],
      ];
      for (const [path, method, allow] of cases) {
        const res = await dp.api(path, { method });
        await expectError(res, 405, "method_not_allowed");
        expect(res.headers.get("allow")).toBe(allow);
      }
    });
  });

  describe("409", () => {
    it("already_exists when the name is taken", async () => {
      await expectError(await dp.api("/v1/server-groups", json("POST", body("virtualGroup"))), 409, "already_exists");
    });

    it("immutable naming the fields, and changes nothing", async () => {
      const before = stateBytes();
      const error = await expectError(await dp.api("/v1/listeners/front", json("PUT", body("httpListener", { port: frontPort === 8081 ? 8082 : 8081 }))), 409, "immutable");
      expect(error.issues?.map((i) => i.path)).toEqual(["port"]);
      expect(error.message).toContain("port");
      const both = await expectError(await dp.api("/v1/backend-services/web", json("PUT", body("tcpService", { name: "web", port: 1 }))), 409, "immutable");
      expect(both.issues?.map((i) => i.path)).toEqual(["protocol", "port"]);
      expect(stateBytes()).toEqual(before);
    });

    it("in_use naming the referrers, and changes nothing", async () => {
      const before = stateBytes();
      const service = await expectError(await dp.api("/v1/backend-services/web", { method: "DELETE" }), 409, "in_use");
      expect(service.message).toContain("'front'");
      const group = await expectError(await dp.api("/v1/server-groups/pool", { method: "DELETE" }), 409, "in_use");
      expect(group.message).toContain("'web'");
      expect(stateBytes()).toEqual(before);
    });

    it("conflict naming the listener that holds the port, and changes nothing", async () => {
      const before = stateBytes();
      const error = await expectError(await dp.api("/v1/listeners", json("POST", body("httpListener", { name: "second", port: frontPort }))), 409, "conflict");
      expect(error.message).toContain("'front'");
      expect(error.issues?.[0]?.path).toBe("port");
      expect(stateBytes()).toEqual(before);
    });

    it("port_unavailable when another process holds the port, naming listener and port; nothing changes", async () => {
      const holder = await occupyPort();
      try {
        const before = stateBytes();
        const res = await dp.api("/v1/listeners", json("POST", body("httpListener", { name: "blocked", port: holder.port })));
        const error = await expectError(res, 409, "port_unavailable");
        expect(error.message).toContain("blocked");
        expect(error.message).toContain(String(holder.port));
        expect(error.issues).toEqual([{ path: "port", message: `listener 'blocked' cannot listen on port ${holder.port}` }]);
        expect(stateBytes()).toEqual(before);
        await expectError(await dp.api("/v1/listeners/blocked"), 404, "not_found");
        expect((await expectJson<{ items: { name: string }[] }>(await dp.api("/v1/listeners"), 200)).items.map((l) => l.name)).toEqual(["front"]);
      } finally {
        await holder.close();
      }
    });

    it("conflict for a second health check of a service", async () => {
      await expectJson(await dp.api("/v1/health-checks", json("POST", body("httpCheck", { name: "hc-one" }))), 201);
      const error = await expectError(await dp.api("/v1/health-checks", json("POST", body("tcpCheck", { name: "hc-two", backendService: "web" }))), 409, "conflict");
      expect(error.message).toContain("'hc-one'");
      await dp.api("/v1/health-checks/hc-one", { method: "DELETE" });
    });
  });

  describe("412", () => {
    it("a stale If-Match is precondition_failed and changes nothing; a current one passes quoted or bare", async () => {
      await expectJson(await dp.api("/v1/backend-services", json("POST", body("tcpService", { name: "guarded" }))), 201);
      const v2 = await expectJson(await dp.api("/v1/backend-services/guarded", json("PUT", body("tcpService", { name: "guarded", scheduler: "wlc" }), { "if-match": '"1"' })), 200);
      expect(v2.version).toBe(2);
      const before = stateBytes();
      await expectError(await dp.api("/v1/backend-services/guarded", json("PUT", body("tcpService", { name: "guarded" }), { "if-match": '"1"' })), 412, "precondition_failed");
      await expectError(await dp.api("/v1/backend-services/guarded", json("PUT", body("tcpService", { name: "guarded" }), { "if-match": "1" })), 412, "precondition_failed");
      expect(stateBytes()).toEqual(before);
      const v3 = await expectJson(await dp.api("/v1/backend-services/guarded", json("PUT", body("tcpService", { name: "guarded" }), { "if-match": "2" })), 200);
      expect(v3.version).toBe(3);
    });
  });

  describe("HTTP transport (node:http with the admin's own limits)", () => {
    it("keeps a connection alive across requests and answers pipelined requests in order", async () => {
      const answer = await rawExchange(dp.url, [
        `GET /healthz HTTP/1.1\r\nHost: x\r\n\r\nGET /v1/listeners HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${dp.token}\r\n\r\nGET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`,
      ]);
      const statuses = [...answer.matchAll(/HTTP\/1\.1 (\d{3}) /g)].map((m) => m[1]);
      expect(statuses).toEqual(["200", "200", "200"]);
      expect(answer).toContain('"items":[');
      expect(answer).toMatch(/\r\ndate: /i);
    });

    it.each([
      ["a malformed request line", "GARBAGE\r\n\r\n", 400],
      ["Content-Length with Transfer-Encoding", "POST /v1/server-groups HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 400],
      ["a head over 16 KiB", `GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: ${"a".repeat(17 * 1024)}\r\n\r\n`, 431],
      ["an upgrade", "GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: upgrade\r\nUpgrade: websocket\r\n\r\n", 400],
      ["more than 100 header lines", `GET /healthz HTTP/1.1\r\nHost: x\r\n${Array.from({ length: 100 }, (_, i) => `X-H${i}: a\r\n`).join("")}\r\n`, 431],
      ["HTTP/2.0 in the request line", "GET /healthz HTTP/2.0\r\nHost: x\r\n\r\n", 505],
      ["CONNECT", "CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n", 405],
      ["a POST with a bad Content-Length", `POST /v1/server-groups HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer TOKEN\r\nContent-Length: 1x\r\n\r\n{}`, 400],
    ])("%s is refused and the connection closed", async (_what, request, status) => {
      const before = stateBytes();
      const answer = await rawExchange(dp.url, [request.replace("TOKEN", dp.token)], 5_000);
      expect(answer).toMatch(new RegExp(`^HTTP/1\\.1 ${status} `));
      expect(answer).toMatch(/connection: close/i);
      expect(stateBytes()).toEqual(before);
      // The server keeps serving.
      await expectJson(await dp.api("/healthz"), 200);
    });
  });

  describe("413", () => {
    it("a declared Content-Length over 1 MiB is refused before the body arrives", async () => {
      const before = stateBytes();
      const answer = await rawExchange(dp.url, [
        `POST /v1/server-groups HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${dp.token}\r\nContent-Type: application/json\r\nContent-Length: ${2 * 1024 * 1024}\r\n\r\n{"name":`,
      ]);
      expect(answer).toMatch(/^HTTP\/1\.1 413 /);
      expect(answer).toMatch(/connection: close/i);
      expect(answer).toContain('"code":"payload_too_large"');
      // The message names the limit, so the client knows what to send instead.
      expect(answer).toContain("1048576 bytes");
      expect(stateBytes()).toEqual(before);
    });

    it("a chunked body is refused once it passes 1 MiB", async () => {
      // 4 x 256 KiB + 16 bytes: just over the limit, so the server has read all we sent when it refuses
      const piece = (size: number) => Buffer.concat([Buffer.from(`${size.toString(16)}\r\n`), Buffer.alloc(size, 0x20), Buffer.from("\r\n")]);
      const answer = await rawExchange(dp.url, [
        `POST /v1/server-groups HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${dp.token}\r\nTransfer-Encoding: chunked\r\n\r\n`,
        ...Array.from({ length: 4 }, () => piece(256 * 1024)),
        piece(16),
      ]);
      expect(answer).toMatch(/^HTTP\/1\.1 413 /);
      expect(answer).toContain('"code":"payload_too_large"');
    });

    it("a body just under the limit is read (and judged on its content)", async () => {
      const padded = JSON.stringify({ ...body("virtualGroup", { name: "padded" }), pad: "x".repeat(1024 * 1024 - 200) });
      const error = await expectError(await dp.api("/v1/server-groups", json("POST", padded)), 400, "invalid");
      expect(error.issues?.map((i) => i.path)).toEqual(["pad"]);
    });
  });

  describe("status and reverse lookup", () => {
    it("GET /v1/backend-services/<name>/status lists each server of the service", async () => {
      const status = await expectJson<{ service: string; servers: Record<string, unknown>[] }>(await dp.api("/v1/backend-services/web/status"), 200);
      expect(status).toEqual({
        service: "web",
        servers: [
          { address: "10.0.0.1", port: 8080, weight: 100, effectiveWeight: 100, health: "unchecked", lastCheck: null, activeConnections: 0, activeRequests: 0, since: expect.any(String) },
        ],
      });
    });

    it("GET /v1/servers/<address> finds groups and services; an unused address gives empty lists", async () => {
      const usage = await expectJson(await dp.api("/v1/servers/10.0.0.1"), 200);
      expect(usage).toMatchObject({
        address: "10.0.0.1",
        groups: [{ name: "pool", type: "virtual", servers: [{ address: "10.0.0.1", weight: 100 }] }],
        services: [{ name: "web", group: "pool", port: 8080 }],
      });
      expect(await expectJson(await dp.api("/v1/servers/192.0.2.1"), 200)).toEqual({ address: "192.0.2.1", groups: [], services: [] });
      expect(await expectJson(await dp.api(`/v1/servers/${encodeURIComponent("2001:db8::1")}`), 200)).toMatchObject({ address: "2001:db8::1" });
    });

    it("deleting a service deletes its health check and detaches its group, which survives", async () => {
      await expectJson(await dp.api("/v1/server-groups", json("POST", body("virtualGroup", { name: "kept", servers: [{ address: "10.7.7.7" }] }))), 201);
      await expectJson(await dp.api("/v1/backend-services", json("POST", body("httpService", { name: "going", serverGroup: "kept" }))), 201);
      await expectJson(await dp.api("/v1/health-checks", json("POST", body("httpCheck", { name: "going-check", backendService: "going" }))), 201);
      expect((await expectJson(await dp.api("/v1/servers/10.7.7.7"), 200)).services).toEqual([{ name: "going", group: "kept", port: 8080 }]);

      expect((await dp.api("/v1/backend-services/going", { method: "DELETE" })).status).toBe(204);
      await expectError(await dp.api("/v1/health-checks/going-check"), 404, "not_found");
      expect((await expectJson(await dp.api("/v1/server-groups/kept"), 200)).name).toBe("kept");
      expect(await expectJson(await dp.api("/v1/servers/10.7.7.7"), 200)).toMatchObject({ groups: [{ name: "kept" }], services: [] });
      expect((await dp.api("/v1/server-groups/kept", { method: "DELETE" })).status).toBe(204);
    });
  });

  it("logs one line per request with method, path, status and ms", async () => {
    await dp.api("/v1/listeners/front?probe=1");
    const line = await waitFor("the request's log line", () =>
      dp
        .output()
        .split("\n")
        .filter((l) => l.includes('"admin request"'))
        .map((l) => JSON.parse(l) as Record<string, unknown>)
        .find((l) => l.path === "/v1/listeners/front" && l.method === "GET"),
    );
    expect(line).toMatchObject({ level: 30, method: "GET", path: "/v1/listeners/front", status: 200 });
    expect(typeof line?.ms).toBe("number");
  });
});
