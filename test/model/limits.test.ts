import { describe, expect, it } from "vitest";
import { validate, type Kind } from "../../model";
import { body, manyServers, type BodyName } from "./fixtures";

/**
 * Every limit of a resource (model/, docs/admin-api.md) at both edges, against the model's `validate`: the last valid value
 * passes, the first invalid one fails with an issue whose path names the field.
 */

const kindOf: Record<BodyName, Kind> = {
  httpService: "backend-services",
  tcpService: "backend-services",
  virtualGroup: "server-groups",
  availabilityGroup: "server-groups",
  httpCheck: "health-checks",
  tcpCheck: "health-checks",
  httpListener: "listeners",
  httpsListener: "listeners",
  tcpListener: "listeners",
  tlsListener: "listeners",
};

function check(fixture: BodyName, patch: Record<string, unknown>) {
  return validate(kindOf[fixture], body(fixture, patch));
}

function expectValid(fixture: BodyName, patch: Record<string, unknown>) {
  const result = check(fixture, patch);
  expect(result.ok ? [] : result.issues).toEqual([]);
  return result.ok ? (result.value as Record<string, unknown>) : {};
}

function expectIssueAt(fixture: BodyName, patch: Record<string, unknown>, path: string) {
  const result = check(fixture, patch);
  expect(result.ok).toBe(false);
  const paths = result.ok ? [] : result.issues.map((i) => i.path);
  expect(paths).toContain(path);
  if (!result.ok) for (const issue of result.issues) expect(issue.message.length).toBeGreaterThan(0);
}

/** [fixture, field path, build the patch from a value, valid edges, invalid edges] */
type Edge = [BodyName, string, (v: unknown) => Record<string, unknown>, unknown[], unknown[]];

const top = (field: string) => (v: unknown) => ({ [field]: v });
const server = (field: string) => (v: unknown) => ({ servers: [{ address: "10.0.0.1", [field]: v }] });
const cookie = (v: unknown) => ({ sessionPersistence: { type: "insert-cookie", cookieTimeout: v } });
const accessLog = (field: string) => (v: unknown) => ({ accessLog: { [field]: v } });
const sourceIp = (v: unknown) => ({ sessionPersistence: { type: "source-ip", timeout: v } });

const edges: Edge[] = [
  // access log sample rate 0-1
  ["httpListener", "accessLog.sampleRate", accessLog("sampleRate"), [0, 0.25, 1], [-0.01, 1.01, "1"]],
  ["tlsListener", "accessLog.sampleRate", accessLog("sampleRate"), [0, 1], [-0.01, 1.01]],
  ["httpsListener", "accessLog.enabled", accessLog("enabled"), [true, false], ["yes", 1]],
  ["httpListener", "accessLog.includeQuery", accessLog("includeQuery"), [true, false], ["no"]],
  ["httpsListener", "underscoresInHeaders", top("underscoresInHeaders"), [true, false], ["yes", 1]],
  // ports 1-65535
  ["httpListener", "port", top("port"), [1, 65535], [0, 65536, 80.5, "80"]],
  ["httpService", "port", top("port"), [1, 65535], [0, 65536]],
  ["tcpService", "port", top("port"), [1, 65535], [0, 65536]],
  ["httpCheck", "port", top("port"), [1, 65535], [0, 65536]],
  ["virtualGroup", "servers[0].port", server("port"), [1, 65535], [0, 65536]],
  // weights 0-100
  ["virtualGroup", "servers[0].weight", server("weight"), [0, 100], [-1, 101, 2.5]],
  // session persistence
  ["httpService", "sessionPersistence.cookieTimeout", cookie, [0, 86400], [-1, 86401]],
  ["tcpService", "sessionPersistence.timeout", sourceIp, [1, 86400], [0, 86401]],
  // connection draining 0-3600 on both protocols
  ["httpService", "connectionDrainTimeout", top("connectionDrainTimeout"), [0, 3600], [-1, 3601]],
  ["tcpService", "connectionDrainTimeout", top("connectionDrainTimeout"), [0, 3600], [-1, 3601]],
  // slow start 30-1200 (http, wrr)
  ["httpService", "slowStart", top("slowStart"), [30, 1200], [29, 1201]],
  // health checks
  ["httpCheck", "timeout", top("timeout"), [2, 60], [1, 61]],
  ["tcpCheck", "timeout", top("timeout"), [2, 60], [1, 61]],
  ["httpCheck", "interval", top("interval"), [5, 300], [4, 301]],
  ["httpCheck", "unhealthyThreshold", top("unhealthyThreshold"), [1, 5], [0, 6]],
  ["httpCheck", "healthyThreshold", top("healthyThreshold"), [1, 5], [0, 6]],
  ["tcpCheck", "unhealthyThreshold", top("unhealthyThreshold"), [1, 5], [0, 6]],
  ["tcpCheck", "healthyThreshold", top("healthyThreshold"), [1, 5], [0, 6]],
  // check path
  [
    "httpCheck",
    "path",
    top("path"),
    ["/", "/a/b/c/d/e", "/a/b/c/d/e?x=1", "/" + "a".repeat(99)],
    ["/a/b/c/d/e/f", "/" + "a".repeat(100), "health", "", "/a b", "/a\tb", "/a\nb"],
  ],
  ["httpCheck", "statusCodes", top("statusCodes"), [["2xx"], ["2xx", "3xx", "4xx"]], [[], ["2xx", "2xx"]]],
];

describe("model limits", () => {
  describe.each(edges)("%s %s", (fixture, path, patch, valid, invalid) => {
    it.each(valid.map((v) => [JSON.stringify(v), v]))("accepts %s", (_label, v) => {
      expectValid(fixture, patch(v));
    });
    it.each(invalid.map((v) => [JSON.stringify(v), v]))("refuses %s with an issue at the field", (_label, v) => {
      expectIssueAt(fixture, patch(v), path);
    });
  });

  describe("names", () => {
    const fixtures: BodyName[] = ["httpService", "tcpService", "virtualGroup", "availabilityGroup", "httpCheck", "httpListener"];
    it.each(fixtures)("%s: 1 and 63 characters pass", (fixture) => {
      expectValid(fixture, { name: "a" });
      expectValid(fixture, { name: "a" + "b".repeat(61) + "9" });
      expectValid(fixture, { name: "a-0-z" });
    });
    it.each(fixtures)("%s: 0 and 64 characters, a leading digit or dash, uppercase and other characters fail", (fixture) => {
      for (const bad of ["", "a".repeat(64), "1abc", "-abc", "Abc", "abC", "a_b", "a.b", "a b", 7]) {
        expectIssueAt(fixture, { name: bad }, "name");
      }
    });
    it("references are names too", () => {
      expectIssueAt("httpListener", { backendService: "Web" }, "backendService");
      expectIssueAt("httpCheck", { backendService: "9web" }, "backendService");
      expectIssueAt("httpService", { serverGroup: "a".repeat(64) }, "serverGroup");
    });
  });

  describe("server groups", () => {
    it("a virtual group holds 0 to 1000 servers", () => {
      expectValid("virtualGroup", { servers: [] });
      expectValid("virtualGroup", { servers: manyServers(1000) });
      expectIssueAt("virtualGroup", { servers: manyServers(1001) }, "servers");
    });

    it("(address, port) is unique in a group", () => {
      expectValid("virtualGroup", { servers: [{ address: "10.0.0.1", port: 80 }, { address: "10.0.0.1", port: 81 }] });
      expectIssueAt("virtualGroup", { servers: [{ address: "10.0.0.1", port: 80 }, { address: "10.0.0.1", port: 80 }] }, "servers[1]");
      expectIssueAt("virtualGroup", { servers: [{ address: "10.0.0.1" }, { address: "10.0.0.1" }] }, "servers[1]");
      expectIssueAt(
        "availabilityGroup",
        { servers: [{ address: "10.0.0.1", role: "primary" }, { address: "10.0.0.1", role: "secondary" }] },
        "servers[1]",
      );
    });

    it("an availability group holds exactly one primary and one secondary", () => {
      expectValid("availabilityGroup", {});
      const p = { address: "10.0.0.1", role: "primary" };
      const s = { address: "10.0.0.2", role: "secondary" };
      expectIssueAt("availabilityGroup", { servers: [p] }, "servers");
      expectIssueAt("availabilityGroup", { servers: [p, s, { address: "10.0.0.3", role: "secondary" }] }, "servers");
      expectIssueAt("availabilityGroup", { servers: [p, { ...s, role: "primary" }] }, "servers");
      expectIssueAt("availabilityGroup", { servers: [{ ...p, role: "secondary" }, s] }, "servers");
      expectIssueAt("availabilityGroup", { servers: [p, { ...s, role: "backup" }] }, "servers[1].role");
      expectIssueAt("availabilityGroup", { servers: [p, { ...s, weight: 50 }] }, "servers[1].weight");
    });

    it("server addresses are IPv4, IPv6 or DNS names", () => {
      expectValid("virtualGroup", { servers: [{ address: "192.168.1.1" }, { address: "::1" }, { address: "api.internal" }] });
      expectIssueAt("virtualGroup", { servers: [{ address: "10.0.0.256" }] }, "servers[0].address");
      expectIssueAt("virtualGroup", { servers: [{ address: "bad host" }] }, "servers[0].address");
    });

    it("the group type is one of virtual and availability", () => {
      expectIssueAt("virtualGroup", { type: "static" }, "type");
    });
  });

  describe("fields of the other protocol are refused, not ignored", () => {
    it("cookie persistence on a tcp service", () => {
      const result = check("tcpService", { sessionPersistence: { type: "insert-cookie", cookieTimeout: 60 } });
      expect(result.ok).toBe(false);
      if (!result.ok) expect(result.issues.every((i) => i.path.startsWith("sessionPersistence"))).toBe(true);
    });
    it("source-ip persistence on an http service", () => {
      expectIssueAt("httpService", { sessionPersistence: { type: "source-ip", timeout: 60 } }, "sessionPersistence.type");
    });
    it("proxyProtocol on an http service", () => expectIssueAt("httpService", { proxyProtocol: "v1" }, "proxyProtocol"));
    it("forwardedHeaders on a tcp service", () => expectIssueAt("tcpService", { forwardedHeaders: ["X-Forwarded-Proto"] }, "forwardedHeaders"));
    it("slowStart on a tcp service", () => expectIssueAt("tcpService", { slowStart: 60 }, "slowStart"));
    it("slowStart with a scheduler other than wrr", () => {
      expectIssueAt("httpService", { slowStart: 60, scheduler: "wlc" }, "slowStart");
      expectIssueAt("httpService", { slowStart: 60, scheduler: "source-ip" }, "slowStart");
      expectValid("httpService", { slowStart: 60, scheduler: "wrr" });
    });
    it("path and statusCodes on a TCP check", () => {
      expectIssueAt("tcpCheck", { path: "/" }, "path");
      expectIssueAt("tcpCheck", { statusCodes: ["2xx"] }, "statusCodes");
    });
    it("includeQuery and unknown fields in a tcp access log", () => {
      expectIssueAt("tcpListener", { accessLog: { includeQuery: true } }, "accessLog.includeQuery");
      expectIssueAt("httpListener", { accessLog: { format: "clf" } }, "accessLog.format");
    });
    it("underscoresInHeaders on tcp and tls listeners", () => {
      expectIssueAt("tcpListener", { underscoresInHeaders: true }, "underscoresInHeaders");
      expectIssueAt("tlsListener", { underscoresInHeaders: false }, "underscoresInHeaders");
    });
    it("a certificate on http and tcp listeners", () => {
      const certificate = body("httpsListener").certificate;
      expectIssueAt("httpListener", { certificate }, "certificate");
      expectIssueAt("tcpListener", { certificate }, "certificate");
    });
    it("no certificate on https and tls listeners", () => {
      expectIssueAt("httpsListener", { certificate: undefined }, "certificate");
      expectIssueAt("tlsListener", { certificate: undefined }, "certificate");
      expectIssueAt("httpsListener", { certificate: { chain: "not pem", privateKey: "not pem" } }, "certificate.chain");
    });
    it("unknown fields anywhere", () => {
      expectIssueAt("httpService", { colour: "blue" }, "colour");
      expectIssueAt("virtualGroup", { servers: [{ address: "10.0.0.1", colour: "blue" }] }, "servers[0].colour");
    });
    it("protocols and schedulers outside their sets", () => {
      expectIssueAt("httpService", { protocol: "udp" }, "protocol");
      expectIssueAt("httpListener", { protocol: "udp" }, "protocol");
      expectIssueAt("httpCheck", { protocol: "http" }, "protocol");
      expectIssueAt("httpService", { scheduler: "random" }, "scheduler");
      expectIssueAt("tcpService", { proxyProtocol: "v3" }, "proxyProtocol");
      expectIssueAt("httpCheck", { statusCodes: ["2xx", "5xx"] }, "statusCodes[1]");
    });
  });

  describe("defaults are filled", () => {
    it("backend services", () => {
      expect(expectValid("httpService", {})).toEqual({
        name: "web",
        protocol: "http",
        port: 8080,
        scheduler: "wrr",
        connectionDrainTimeout: 300,
        forwardedHeaders: [],
      });
      expect(expectValid("tcpService", {})).toEqual({
        name: "db",
        protocol: "tcp",
        port: 5432,
        scheduler: "wrr",
        connectionDrainTimeout: 300,
        proxyProtocol: "off",
      });
      expect(expectValid("tcpService", { sessionPersistence: { type: "source-ip" } }).sessionPersistence).toEqual({
        type: "source-ip",
        timeout: 1440,
      });
    });
    it("health checks", () => {
      expect(expectValid("httpCheck", {})).toEqual({
        name: "web-check",
        backendService: "web",
        protocol: "HTTP",
        timeout: 5,
        interval: 10,
        unhealthyThreshold: 3,
        healthyThreshold: 3,
        path: "/",
        statusCodes: ["2xx", "3xx"],
      });
      expect(expectValid("tcpCheck", {})).not.toHaveProperty("port");
    });
    it("listeners: no access log setting stays absent; a partial one is completed", () => {
      expect(expectValid("httpListener", {})).not.toHaveProperty("accessLog");
      expect(expectValid("httpListener", {})).not.toHaveProperty("underscoresInHeaders");
      expect(expectValid("httpListener", { accessLog: {} }).accessLog).toEqual({ enabled: true, sampleRate: 1, includeQuery: false });
      expect(expectValid("tcpListener", { accessLog: { sampleRate: 0.5 } }).accessLog).toEqual({ enabled: true, sampleRate: 0.5 });
    });
    it("server groups", () => {
      expect(expectValid("virtualGroup", {}).servers).toEqual([{ address: "10.0.0.1", weight: 100 }]);
      expect(expectValid("virtualGroup", { servers: undefined }).servers).toEqual([]);
    });
  });

  describe("every failing field at once", () => {
    it("reports all three bad fields of one payload", () => {
      const result = validate("backend-services", { name: "Bad", protocol: "http", port: 0, connectionDrainTimeout: 4000 });
      expect(result.ok).toBe(false);
      if (!result.ok) expect(result.issues.map((i) => i.path).sort()).toEqual(["connectionDrainTimeout", "name", "port"]);
    });
    it("reports bad fields across nested servers", () => {
      const result = validate("server-groups", {
        name: "g",
        type: "virtual",
        servers: [{ address: "10.0.0.1", weight: 101 }, { address: "nope nope" }, { address: "10.0.0.3", port: 0 }],
      });
      expect(result.ok).toBe(false);
      if (!result.ok) {
        expect(result.issues.map((i) => i.path).sort()).toEqual(["servers[0].weight", "servers[1].address", "servers[2].port"]);
      }
    });
    it("a missing required field is named", () => {
      const result = validate("listeners", { name: "l", protocol: "http" });
      expect(result.ok).toBe(false);
      if (!result.ok) expect(result.issues.map((i) => i.path).sort()).toEqual(["backendService", "port"]);
    });
  });
});
