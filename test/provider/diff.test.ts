import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { kinds, type Kind } from "../../model";
import { checkInputs } from "../../provider/check";
import { diffProps } from "../../provider/diff";
import { UNKNOWN } from "../../provider/unknown";
import { availabilityGroup, connection, httpCheck, httpListener, httpService, tcpService, virtualGroup } from "./fixtures";

type Obj = Record<string, unknown>;

/** What `check` returns for a body (explicit name unless `namePrefix` is set). */
function inputs(kind: Kind, body: Obj): Obj {
  const result = checkInputs(kind, {}, { ...connection, ...body });
  expect(result.failures).toBeUndefined();
  return result.inputs!;
}

/** What `create` stores in the state for those inputs: the stored object, its version, the connection. */
function outputs(kind: Kind, body: Obj, version = 1): Obj {
  const { adopt: _a, namePrefix: _p, ...rest } = inputs(kind, body);
  return { ...rest, version };
}

describe("diffProps", () => {
  describe("no change", () => {
    it.each([
      ["backend-services", httpService()],
      ["backend-services", { ...tcpService(), sessionPersistence: { type: "source-ip" } }],
      ["server-groups", virtualGroup()],
      ["server-groups", availabilityGroup()],
      ["health-checks", httpCheck()],
      ["listeners", httpListener()],
    ] as [Kind, Obj][])("%s: the stored object against the same inputs has no changes", (kind, body) => {
      expect(diffProps(kind, outputs(kind, body, 7), inputs(kind, body))).toEqual({ changes: false, changed: [] });
    });

    it("a listener's access log: defaults spelled out are no change; a new sample rate is an update in place", () => {
      const olds = outputs("listeners", { ...httpListener(), accessLog: {} });
      expect(diffProps("listeners", olds, inputs("listeners", { ...httpListener(), accessLog: { enabled: true, sampleRate: 1, includeQuery: false } })).changes).toBe(false);
      const changed = diffProps("listeners", olds, inputs("listeners", { ...httpListener(), accessLog: { sampleRate: 0.1 } }));
      expect(changed).toEqual({ changes: true, changed: ["accessLog"] });
    });

    it("ignores key order, defaults spelled out or not, and the adopt flag", () => {
      const olds = outputs("backend-services", { ...httpService(), scheduler: "wrr" });
      const reordered = Object.fromEntries(Object.entries(inputs("backend-services", { ...httpService(), adopt: true })).reverse());
      expect(diffProps("backend-services", olds, reordered).changes).toBe(false);
      expect(diffProps("backend-services", olds, { ...httpService(), ...connection }).changes).toBe(false);
    });

    it("property: any valid http service compared with its own stored object has no changes", () => {
      const service = fc.record({
        port: fc.integer({ min: 1, max: 65535 }),
        scheduler: fc.constantFrom("wrr", "wlc", "source-ip"),
        connectionDrainTimeout: fc.integer({ min: 0, max: 3600 }),
        forwardedHeaders: fc.subarray(["X-Forwarded-Proto", "X-Forwarded-Port", "X-Forwarded-LBIP", "X-Forwarded-Host"]),
      });
      fc.assert(
        fc.property(service, (fields) => {
          const body = { name: "web", protocol: "http", ...fields };
          return diffProps("backend-services", outputs("backend-services", body), inputs("backend-services", body)).changes === false;
        }),
      );
    });
  });

  describe("replace on change of an immutable field", () => {
    const table: [Kind, Obj, string, unknown][] = [
      ["backend-services", httpService(), "name", "web2"],
      ["backend-services", httpService(), "protocol", "tcp"],
      ["backend-services", httpService(), "port", 8081],
      ["listeners", httpListener(), "name", "front2"],
      ["listeners", httpListener(), "protocol", "tcp"],
      ["listeners", httpListener(), "port", 9000],
      ["health-checks", httpCheck(), "name", "probe2"],
      ["health-checks", httpCheck(), "backendService", "api"],
      ["server-groups", virtualGroup(), "name", "pool2"],
      ["server-groups", { name: "pool", type: "virtual", servers: [] }, "type", "availability"],
    ];

    it("covers every field of every replace-on-change list", () => {
      for (const kind of Object.keys(kinds) as Kind[]) {
        const covered = table.filter(([k]) => k === kind).map(([, , field]) => field);
        expect(covered.sort()).toEqual([...kinds[kind].replaceOnChange].sort());
      }
    });

    it.each(table)("%s: %s", (kind, body, field, value) => {
      const after = { ...body, [field]: value };
      if (field === "type") after.servers = availabilityGroup().servers;
      const result = diffProps(kind, outputs(kind, body), inputs(kind, after));
      expect(result.changes).toBe(true);
      expect(result.replaces).toEqual([field]);
    });

    it("replaces on a change of balancer", () => {
      const result = diffProps("backend-services", outputs("backend-services", httpService()), {
        ...inputs("backend-services", httpService()),
        adminUrl: "http://10.0.0.9:9180",
      });
      expect(result).toMatchObject({ changes: true, replaces: ["adminUrl"] });
    });

    it("replaces when an immutable field is not known yet", () => {
      const result = diffProps("listeners", outputs("listeners", httpListener()), { ...inputs("listeners", httpListener()), port: UNKNOWN });
      expect(result.replaces).toEqual(["port"]);
    });
  });

  describe("update in place", () => {
    it.each([
      ["backend-services", httpService(), { scheduler: "wlc" }],
      ["backend-services", httpService(), { serverGroup: "pool" }],
      ["backend-services", httpService(), { sessionPersistence: { type: "insert-cookie", cookieTimeout: 0 } }],
      ["server-groups", virtualGroup(), { servers: [{ address: "10.0.0.1", weight: 0 }] }],
      ["health-checks", httpCheck(), { interval: 30 }],
      ["listeners", httpListener(), { backendService: "api" }],
    ] as [Kind, Obj, Obj][])("%s: %j changes without replacing", (kind, body, change) => {
      const result = diffProps(kind, outputs(kind, body), inputs(kind, { ...body, ...change }));
      expect(result.changes).toBe(true);
      expect(result.replaces).toBeUndefined();
      expect(result.changed).toEqual(Object.keys(change));
    });

    it("updates (without replacing) when only the admin token changes", () => {
      const result = diffProps("backend-services", outputs("backend-services", httpService()), {
        ...inputs("backend-services", httpService()),
        adminToken: "another-token-0123456789",
      });
      expect(result).toEqual({ changes: true, changed: ["adminToken"] });
    });

    it("counts a field that is not known yet as changed", () => {
      const result = diffProps("listeners", outputs("listeners", httpListener()), { ...inputs("listeners", httpListener()), backendService: UNKNOWN });
      expect(result).toMatchObject({ changes: true, changed: ["backendService"] });
      expect(result.replaces).toBeUndefined();
    });
  });

  describe("deleteBeforeReplace", () => {
    const auto = (body: Obj, prefix: string) => {
      const { name: _n, ...rest } = body;
      return { ...rest, namePrefix: prefix };
    };
    /** Old state and new inputs of an autonamed resource that keeps its generated name. */
    const autonamed = (kind: Kind, body: Obj, change: Obj) => {
      const first = inputs(kind, auto(body, "x"));
      const { namePrefix: _p, ...stored } = first;
      const news = checkInputs(kind, first, { ...auto(body, "x"), ...change, ...connection }).inputs!;
      return diffProps(kind, { ...stored, version: 1 }, news);
    };

    it("is set when an explicit name is kept", () => {
      const result = diffProps("backend-services", outputs("backend-services", httpService()), inputs("backend-services", { ...httpService(), port: 1 }));
      expect(result.deleteBeforeReplace).toBe(true);
    });

    it("is set when an explicit name is kept across a change of balancer", () => {
      const result = diffProps("server-groups", outputs("server-groups", virtualGroup()), {
        ...inputs("server-groups", virtualGroup()),
        adminUrl: "http://127.0.0.2:9180",
      });
      expect(result.deleteBeforeReplace).toBe(true);
    });

    it("is not set when the explicit name changes", () => {
      const result = diffProps("backend-services", outputs("backend-services", httpService()), inputs("backend-services", { ...httpService(), name: "web2", port: 1 }));
      expect(result).toMatchObject({ replaces: ["name", "port"], deleteBeforeReplace: false });
    });

    it("is not set for an autonamed resource: its replacement gets a fresh name", () => {
      const result = autonamed("backend-services", httpService(), { protocol: "tcp" });
      expect(result).toMatchObject({ replaces: ["protocol"], deleteBeforeReplace: false });
    });

    it("is set when a replaced listener keeps its port, autonamed or not", () => {
      expect(autonamed("listeners", httpListener(), { protocol: "tcp" })).toMatchObject({ replaces: ["protocol"], deleteBeforeReplace: true });
    });

    it("is not set when an autonamed listener moves to another port", () => {
      expect(autonamed("listeners", httpListener(), { port: 9999 })).toMatchObject({ replaces: ["port"], deleteBeforeReplace: false });
    });

    it("is set when a replaced health check stays on the same service (one check per service)", () => {
      const result = diffProps("health-checks", outputs("health-checks", httpCheck()), inputs("health-checks", { ...httpCheck(), name: "probe2" }));
      expect(result).toMatchObject({ replaces: ["name"], deleteBeforeReplace: true });
    });

    it("is not set when an autonamed health check moves to another service", () => {
      expect(autonamed("health-checks", httpCheck(), { backendService: "api" })).toMatchObject({
        replaces: ["backendService"],
        deleteBeforeReplace: false,
      });
    });

    it("is absent when nothing is replaced", () => {
      expect(diffProps("backend-services", outputs("backend-services", httpService()), inputs("backend-services", { ...httpService(), scheduler: "wlc" })).deleteBeforeReplace).toBeUndefined();
    });
  });
});
