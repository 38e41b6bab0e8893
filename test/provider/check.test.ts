import fc from "fast-check";
import { describe, expect, it } from "vitest";
import type { Kind } from "../../model";
import { checkInputs } from "../../provider/check";
import { UNKNOWN } from "../../provider/unknown";
import {
  availabilityGroup,
  connection,
  httpCheck,
  httpListener,
  httpService,
  pem,
  tcpCheck,
  tcpService,
  virtualGroup,
} from "./fixtures";

type Obj = Record<string, unknown>;

function check(kind: Kind, body: Obj, olds: Obj = {}) {
  return checkInputs(kind, olds, { ...body, ...connection });
}

function failures(kind: Kind, body: Obj) {
  return check(kind, body).failures ?? [];
}

const hexName = (prefix: string) => new RegExp(`^${prefix}-[0-9a-f]{7}$`);

/**
 * Every limit of a resource (model/) at both edges: [kind, base object, field path, edge values that pass, values
 * one past the edge that fail, the failing property]. The failing property is the path Pulumi shows.
 */
type Case = [string, Kind, () => Obj, (o: Obj, v: unknown) => void, unknown[], unknown[], string];

/** Sets a field; `undefined` removes it (Pulumi never sends undefined members). */
const setIn = (...path: (string | number)[]) => (o: Obj, v: unknown) => {
  let at: any = o;
  for (const p of path.slice(0, -1)) at = at[p];
  const last = path[path.length - 1]!;
  if (v === undefined) delete at[last];
  else at[last] = v;
};
const set = (key: string) => setIn(key);

const name63 = "a" + "b".repeat(62);
const cases: Case[] = [
  ["name", "backend-services", httpService, set("name"), ["a", name63, "a-1"], [name63 + "c", "1abc", "Web", "", "a_b"], "name"],
  ["service port", "backend-services", httpService, set("port"), [1, 65535], [0, 65536, 80.5, "80"], "port"],
  ["scheduler", "backend-services", httpService, set("scheduler"), ["wrr", "wlc", "source-ip"], ["rr", "ip-hash"], "scheduler"],
  ["drain timeout", "backend-services", httpService, set("connectionDrainTimeout"), [0, 3600], [-1, 3601], "connectionDrainTimeout"],
  ["server group ref", "backend-services", httpService, set("serverGroup"), ["pool"], ["Pool", "-x"], "serverGroup"],
  [
    "cookie timeout",
    "backend-services",
    () => ({ ...httpService(), sessionPersistence: { type: "insert-cookie", cookieTimeout: 0 } }),
    setIn("sessionPersistence", "cookieTimeout"),
    [0, 86400],
    [-1, 86401],
    "sessionPersistence.cookieTimeout",
  ],
  [
    "http persistence type",
    "backend-services",
    () => ({ ...httpService(), sessionPersistence: { type: "insert-cookie", cookieTimeout: 60 } }),
    setIn("sessionPersistence", "type"),
    ["insert-cookie"],
    ["source-ip"],
    "sessionPersistence.type",
  ],
  ["forwarded header", "backend-services", httpService, set("forwardedHeaders"), [["X-Forwarded-Host", "X-Forwarded-Proto"]], [["X-Real-IP"]], "forwardedHeaders[0]"],
  ["repeated header", "backend-services", httpService, set("forwardedHeaders"), [[]], [["X-Forwarded-Host", "X-Forwarded-Host"]], "forwardedHeaders"],
  ["slow start", "backend-services", httpService, set("slowStart"), [30, 1200], [29, 1201], "slowStart"],
  ["slow start needs wrr", "backend-services", () => ({ ...httpService(), slowStart: 60 }), set("scheduler"), ["wrr"], ["wlc", "source-ip"], "slowStart"],
  ["proxy protocol on http", "backend-services", httpService, set("proxyProtocol"), [undefined], ["v1"], "proxyProtocol"],
  [
    "source-ip timeout",
    "backend-services",
    () => ({ ...tcpService(), sessionPersistence: { type: "source-ip", timeout: 1 } }),
    setIn("sessionPersistence", "timeout"),
    [1, 86400],
    [0, 86401],
    "sessionPersistence.timeout",
  ],
  ["proxy protocol", "backend-services", tcpService, set("proxyProtocol"), ["off", "v1", "v2"], ["v3", true], "proxyProtocol"],
  ["slow start on tcp", "backend-services", tcpService, set("slowStart"), [undefined], [60], "slowStart"],
  ["forwarded headers on tcp", "backend-services", tcpService, set("forwardedHeaders"), [undefined], [[]], "forwardedHeaders"],
  ["service protocol", "backend-services", httpService, set("protocol"), ["http"], ["udp", undefined], "protocol"],
  ["check timeout", "health-checks", httpCheck, set("timeout"), [2, 60], [1, 61], "timeout"],
  ["check interval", "health-checks", httpCheck, set("interval"), [5, 300], [4, 301], "interval"],
  ["unhealthy threshold", "health-checks", httpCheck, set("unhealthyThreshold"), [1, 5], [0, 6], "unhealthyThreshold"],
  ["healthy threshold", "health-checks", httpCheck, set("healthyThreshold"), [1, 5], [0, 6], "healthyThreshold"],
  ["check port", "health-checks", httpCheck, set("port"), [1, 65535], [0, 65536], "port"],
  ["path levels", "health-checks", httpCheck, set("path"), ["/", "/a/b/c/d/e", "/a/b/c/d/e?x=/y/z"], ["/a/b/c/d/e/f"], "path"],
  ["path length", "health-checks", httpCheck, set("path"), ["/" + "a".repeat(99)], ["/" + "a".repeat(100)], "path"],
  ["path form", "health-checks", httpCheck, set("path"), ["/healthz"], ["healthz", "/a b", "/é"], "path"],
  ["status classes", "health-checks", httpCheck, set("statusCodes"), [["4xx"], ["2xx", "3xx", "4xx"]], [[], ["2xx", "2xx"]], "statusCodes"],
  ["status class", "health-checks", httpCheck, set("statusCodes"), [["2xx"]], [["5xx"]], "statusCodes[0]"],
  ["check service ref", "health-checks", httpCheck, set("backendService"), ["web"], ["Web", undefined], "backendService"],
  ["check protocol", "health-checks", httpCheck, set("protocol"), ["HTTP", "TCP"], ["http", "UDP"], "protocol"],
  ["path on TCP check", "health-checks", tcpCheck, set("path"), [undefined], ["/"], "path"],
  ["weight", "server-groups", virtualGroup, setIn("servers", 0, "weight"), [0, 100], [-1, 101, 1.5], "servers[0].weight"],
  ["server port", "server-groups", virtualGroup, setIn("servers", 0, "port"), [1, 65535, undefined], [0, 65536], "servers[0].port"],
  ["address", "server-groups", virtualGroup, setIn("servers", 0, "address"), ["10.1.2.3", "::1", "app.internal"], ["10.1.2", "not an address", "[::1]"], "servers[0].address"],
  ["description", "server-groups", virtualGroup, setIn("servers", 0, "description"), ["x".repeat(255)], ["x".repeat(256)], "servers[0].description"],
  [
    "group size",
    "server-groups",
    virtualGroup,
    set("servers"),
    [[], Array.from({ length: 1000 }, (_, i) => ({ address: "10.0.0.1", port: i + 1 }))],
    [Array.from({ length: 1001 }, (_, i) => ({ address: "10.0.0.1", port: i + 1 }))],
    "servers",
  ],
  [
    "unique servers",
    "server-groups",
    virtualGroup,
    set("servers"),
    [[{ address: "10.0.0.1", port: 80 }, { address: "10.0.0.1", port: 81 }]],
    [[{ address: "10.0.0.1", port: 80 }, { address: "10.0.0.1", port: 80 }]],
    "servers[1]",
  ],
  ["role on virtual", "server-groups", virtualGroup, setIn("servers", 0, "role"), [undefined], ["primary"], "servers[0].role"],
  ["group type", "server-groups", virtualGroup, set("type"), ["virtual"], ["pool", undefined], "type"],
  [
    "availability size",
    "server-groups",
    availabilityGroup,
    set("servers"),
    [availabilityGroup().servers],
    [[{ address: "10.0.0.1", role: "primary" }], [...availabilityGroup().servers, { address: "10.0.0.3", role: "secondary" }]],
    "servers",
  ],
  [
    "availability roles",
    "server-groups",
    availabilityGroup,
    setIn("servers", 1, "role"),
    ["secondary"],
    ["primary"],
    "servers",
  ],
  ["weight in availability", "server-groups", availabilityGroup, setIn("servers", 0, "weight"), [undefined], [100], "servers[0].weight"],
  ["listener port", "listeners", httpListener, set("port"), [1, 65535], [0, 65536], "port"],
  ["listener protocol", "listeners", httpListener, set("protocol"), ["http", "tcp"], ["udp", "HTTP"], "protocol"],
  ["listener service ref", "listeners", httpListener, set("backendService"), ["web"], ["WEB", undefined], "backendService"],
  ["certificate on http", "listeners", httpListener, set("certificate"), [undefined], [pem], "certificate"],
  ["certificate for https", "listeners", () => ({ ...httpListener(), protocol: "https" }), set("certificate"), [pem], [undefined], "certificate"],
  [
    "certificate chain",
    "listeners",
    () => ({ ...httpListener(), protocol: "tls", certificate: { ...pem } }),
    setIn("certificate", "chain"),
    [pem.chain],
    ["not a pem", "x".repeat(70_000)],
    "certificate.chain",
  ],
  [
    "private key",
    "listeners",
    () => ({ ...httpListener(), protocol: "https", certificate: { ...pem } }),
    setIn("certificate", "privateKey"),
    [pem.privateKey],
    [pem.chain],
    "certificate.privateKey",
  ],
  ["underscores in header names", "listeners", httpListener, set("underscoresInHeaders"), [true, false, undefined], ["yes", 1], "underscoresInHeaders"],
  ["underscores in header names on tcp", "listeners", () => ({ ...httpListener(), protocol: "tcp" }), set("underscoresInHeaders"), [undefined], [true, false], "underscoresInHeaders"],
  ["unknown field", "listeners", httpListener, set("weight"), [undefined], [1], "weight"],
];

describe("checkInputs", () => {
  describe.each(cases)("limit: %s", (_label, kind, base, apply, good, bad, property) => {
    it.each(good.map((v) => [v]))("accepts %j", (value) => {
      const body = structuredClone(base());
      apply(body, value);
      expect(failures(kind, body)).toEqual([]);
    });
    it.each(bad.map((v) => [v]))(`refuses %j at ${property}`, (value) => {
      const body = structuredClone(base());
      apply(body, value);
      const found = failures(kind, body);
      expect(found.map((f) => f.property)).toContain(property);
      for (const f of found) expect(f.reason).not.toBe("");
    });
  });

  it("names the range that a number breaks", () => {
    const [failure] = failures("health-checks", { ...httpCheck(), interval: 301 });
    expect(failure).toEqual({ property: "interval", reason: "must be a whole number from 5 to 300 seconds" });
  });

  it("reports every failing field at once", () => {
    const found = failures("health-checks", { ...httpCheck(), timeout: 1, interval: 1000, path: "x", statusCodes: [], extra: 1 });
    expect(found.map((f) => f.property).sort()).toEqual(["extra", "interval", "path", "statusCodes", "timeout"]);
  });

  it("reports every bad server of a group", () => {
    const servers = [{ address: "10.0.0.1", weight: 101 }, { address: "x y" }, { address: "10.0.0.3", port: 0 }];
    const found = failures("server-groups", { ...virtualGroup(), servers });
    expect(found.map((f) => f.property).sort()).toEqual(["servers[0].weight", "servers[1].address", "servers[2].port"]);
  });

  it("fills the schema's defaults so later diffs compare like with like", () => {
    expect(check("backend-services", httpService()).inputs).toEqual({
      ...httpService(),
      scheduler: "wrr",
      connectionDrainTimeout: 300,
      forwardedHeaders: [],
      ...connection,
    });
    expect(check("backend-services", { ...tcpService(), sessionPersistence: { type: "source-ip" } }).inputs).toMatchObject({
      proxyProtocol: "off",
      sessionPersistence: { type: "source-ip", timeout: 1440 },
    });
    expect(check("health-checks", httpCheck()).inputs).toMatchObject({
      timeout: 5,
      interval: 10,
      unhealthyThreshold: 3,
      healthyThreshold: 3,
      path: "/",
      statusCodes: ["2xx", "3xx"],
    });
    expect(check("server-groups", virtualGroup()).inputs).toMatchObject({ servers: [{ address: "10.0.0.1", weight: 100 }] });
    expect(check("server-groups", { name: "empty", type: "virtual" }).inputs).toMatchObject({ servers: [] });
  });

  it("keeps the provider-only inputs out of validation and in the checked inputs", () => {
    const result = checkInputs("backend-services", {}, { ...httpService(), ...connection, adopt: true, __provider: "x" });
    expect(result.failures).toBeUndefined();
    expect(result.inputs).toMatchObject({ adopt: true, ...connection });
    expect(result.inputs).not.toHaveProperty("__provider");
  });

  describe("the balancer connection", () => {
    it("is required", () => {
      const result = checkInputs("backend-services", {}, httpService());
      expect(result.failures?.map((f) => f.property)).toEqual(["adminUrl", "adminToken"]);
      expect(result.failures?.[0]?.reason).toContain("balancer");
    });
    it("needs an http(s) URL and a token of at least 16 characters", () => {
      const result = checkInputs("backend-services", {}, { ...httpService(), adminUrl: "ftp://x", adminToken: "short" });
      expect(result.failures?.map((f) => f.property)).toEqual(["adminUrl", "adminToken"]);
    });
    it("refuses an adopt that is not a boolean", () => {
      expect(failures("backend-services", { ...httpService(), adopt: "yes" }).map((f) => f.property)).toEqual(["adopt"]);
    });
  });

  describe("autonaming", () => {
    const autonamed = { protocol: "http", port: 80, namePrefix: "web" };

    it("names an object <prefix>-<7 hex digits> when no name is given", () => {
      const result = check("backend-services", autonamed);
      expect(result.failures).toBeUndefined();
      expect(result.inputs?.name).toMatch(hexName("web"));
      expect(result.inputs?.namePrefix).toBe("web");
    });

    it("keeps the name it gave before while the prefix is the same", () => {
      const first = check("backend-services", autonamed).inputs!;
      const again = check("backend-services", autonamed, first).inputs!;
      expect(again.name).toBe(first.name);
    });

    it("gives a fresh name when Pulumi checks again without olds for a replacement", () => {
      const random = (n: number) => Buffer.alloc(n, 0xab);
      const first = checkInputs("backend-services", {}, { ...autonamed, ...connection }, random).inputs!;
      expect(first.name).toBe("web-abababa");
      const other = (n: number) => Buffer.alloc(n, 0x12);
      expect(checkInputs("backend-services", {}, { ...autonamed, ...connection }, other).inputs!.name).toBe("web-1212121");
    });

    it("keeps its name when the prefix changes: a rename with aliases keeps the object (issue 18)", () => {
      const first = check("backend-services", autonamed).inputs!;
      const renamed = check("backend-services", { ...autonamed, namePrefix: "api" }, first).inputs!;
      expect(renamed.name).toBe(first.name);
      expect(renamed.namePrefix).toBe("api");
    });

    it("with a seed, names the same on every run (preview shows what up creates), and differently per attempt", () => {
      const seeded = { ...autonamed, nameSeed: "0123456789abcdef" };
      const a = checkInputs("backend-services", {}, { ...seeded, ...connection }, undefined, 0).inputs!.name;
      const b = checkInputs("backend-services", {}, { ...seeded, ...connection }, undefined, 0).inputs!.name;
      const next = checkInputs("backend-services", {}, { ...seeded, ...connection }, undefined, 1).inputs!.name;
      expect(a).toMatch(hexName("web"));
      expect(b).toBe(a);
      expect(next).toMatch(hexName("web"));
      expect(next).not.toBe(a);
    });

    it("fills a pulumi:autonaming pattern's random parts and keeps the pattern for later checks", () => {
      const patterned = { protocol: "http", port: 80, namePattern: "web-${hex(4)}-${num(2)}", nameSeed: "s" };
      const result = check("backend-services", patterned);
      expect(result.failures).toBeUndefined();
      expect(result.inputs?.name).toMatch(/^web-[0-9a-f]{4}-[0-9]{2}$/);
      expect(result.inputs?.namePattern).toBe(patterned.namePattern);
      expect(check("backend-services", patterned, result.inputs!).inputs?.name).toBe(result.inputs?.name);
    });

    it("uses an explicit name as given and drops the prefix", () => {
      const result = check("backend-services", { ...autonamed, name: "exact" });
      expect(result.inputs?.name).toBe("exact");
      expect(result.inputs).not.toHaveProperty("namePrefix");
    });

    it("reports a missing name when there is neither a name nor a prefix", () => {
      expect(failures("backend-services", { protocol: "http", port: 80 }).map((f) => f.property)).toEqual(["name"]);
    });
  });

  describe("values not known yet (preview)", () => {
    it("does not judge an unknown reference", () => {
      const result = check("listeners", { ...httpListener(), backendService: UNKNOWN });
      expect(result.failures).toBeUndefined();
      expect(result.inputs?.backendService).toBe(UNKNOWN);
    });
    it("does not judge anything when the discriminator is unknown", () => {
      expect(check("backend-services", { ...httpService(), protocol: UNKNOWN, slowStart: 60 }).failures).toBeUndefined();
    });
    it("does not judge a list rule over an unknown member, but still judges known fields", () => {
      const servers = [{ address: UNKNOWN, port: 80 }, { address: "10.0.0.1", port: 80, weight: 500 }];
      const found = failures("server-groups", { ...virtualGroup(), servers });
      expect(found.map((f) => f.property)).toEqual(["servers[1].weight"]);
    });
    it("accepts an unknown balancer", () => {
      const result = checkInputs("backend-services", {}, { ...httpService(), adminUrl: UNKNOWN, adminToken: UNKNOWN });
      expect(result.failures).toBeUndefined();
    });
  });

  it("property: a port passes exactly when it is a whole number from 1 to 65535", () => {
    fc.assert(
      fc.property(fc.integer({ min: -100_000, max: 200_000 }), (port) => {
        const bad = failures("backend-services", { ...httpService(), port }).some((f) => f.property === "port");
        return bad === (port < 1 || port > 65535);
      }),
    );
  });
});
