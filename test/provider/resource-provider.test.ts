import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Kind } from "../../model";
import { isProviderError, type ProviderError } from "../../provider/errors";
import { BallastResourceProvider } from "../../provider/resource-provider";
import { startDataplane, type Dataplane } from "../helpers/dataplane-process";
import { freePort } from "../helpers/ports";

/**
 * Every provider method against a real data plane (`node dist/dataplane/main.js` on 127.0.0.1; run
 * `npx tsc -p tsconfig.json` first), the way the Pulumi engine calls them: check, then
 * create/read/update/delete with the checked inputs and the stored outputs.
 */

type Obj = Record<string, unknown>;

let dp: Dataplane;
let conn: { adminUrl: string; adminToken: string };

beforeAll(async () => {
  dp = await startDataplane({ env: { BALLAST_WORKERS: "0" } });
  conn = { adminUrl: dp.url, adminToken: dp.token };
});
afterAll(async () => {
  await dp?.stop();
});

const settings = { backoff: { initialDelayMs: 20, maxDelayMs: 200, budgetMs: 2_000 } };
const providers = {} as Record<Kind, BallastResourceProvider>;
for (const kind of ["listeners", "backend-services", "server-groups", "health-checks"] as Kind[]) {
  providers[kind] = new BallastResourceProvider(kind, settings);
}

/** `check` as the engine calls it on create (no olds); fails the test on any failure. */
async function checked(kind: Kind, body: Obj, extra: Obj = {}): Promise<Obj> {
  const result = await providers[kind].check({}, { ...body, ...conn, ...extra });
  expect(result.failures).toBeUndefined();
  return result.inputs as Obj;
}

async function create(kind: Kind, body: Obj, extra: Obj = {}) {
  const inputs = await checked(kind, body, extra);
  const result = await providers[kind].create(inputs);
  return { inputs, id: result.id, outs: result.outs as Obj };
}

async function failure(promise: Promise<unknown>): Promise<ProviderError> {
  try {
    await promise;
  } catch (err) {
    if (isProviderError(err)) return err;
    throw err;
  }
  throw new Error("expected the call to fail");
}

let counter = 0;
const unique = (base: string) => `${base}-${++counter}`;

describe("BallastResourceProvider against a real data plane", () => {
  it("creates, reads, updates and deletes all four kinds, and refresh after up shows no drift", async () => {
    const group = unique("pool");
    const service = unique("web");
    const check = unique("probe");
    const listener = unique("front");
    const port = await freePort();
    const specs: [Kind, Obj, Obj][] = [
      ["server-groups", { name: group, type: "virtual", servers: [{ address: "127.0.0.1", port: 9 }] }, { servers: [{ address: "127.0.0.1", port: 9, weight: 0 }] }],
      ["backend-services", { name: service, protocol: "http", port: 9, serverGroup: group }, { scheduler: "wlc" }],
      ["health-checks", { name: check, backendService: service, protocol: "HTTP" }, { interval: 30, path: "/healthz" }],
      ["listeners", { name: listener, protocol: "http", port, backendService: service }, {}],
    ];

    for (const [kind, body, change] of specs) {
      const created = await create(kind, body);
      expect(created.id).toBe(body.name);
      expect(created.outs).toMatchObject({ ...body, version: 1, ...conn });

      // read returns exactly what create returned: nothing lost or reshaped
      const read = await providers[kind].read(created.id, created.outs);
      expect(read).toEqual({ id: created.id, props: created.outs });
      // and the next preview after up (or after refresh) is empty
      expect(await providers[kind].diff(created.id, read.props!, created.inputs)).toEqual({ changes: false });

      if (Object.keys(change).length > 0) {
        const news = await checked(kind, { ...body, ...change });
        expect(await providers[kind].diff(created.id, created.outs, news)).toEqual({ changes: true });
        const updated = (await providers[kind].update(created.id, created.outs, news)).outs as Obj;
        expect(updated).toMatchObject({ ...change, version: 2, ...conn });
        const reread = await providers[kind].read(created.id, updated);
        expect(reread).toEqual({ id: created.id, props: updated });
        expect(await providers[kind].diff(created.id, updated, news)).toEqual({ changes: false });
      }
    }

    // delete in dependency order; every object is then gone
    for (const [kind, body] of [...specs].reverse()) {
      await providers[kind].delete(body.name as string, { ...conn });
      expect((await dp.api(`/v1/${kind}/${body.name}`)).status).toBe(404);
    }
  });

  it("autonames through check and creates under that name", async () => {
    const created = await create("server-groups", { type: "virtual" }, { namePrefix: "auto" });
    expect(created.id).toMatch(/^auto-[0-9a-f]{7}$/);
    expect((await dp.api(`/v1/server-groups/${created.id}`)).status).toBe(200);
  });

  it("gives a replacement the next seeded name while the old object holds the first, the same on every check (issue 18)", async () => {
    const news = { protocol: "http", port: 80, namePrefix: "seeded", nameSeed: unique("seed"), ...conn };
    const first = await providers["backend-services"].check({}, news);
    expect(first.inputs?.name).toMatch(/^seeded-[0-9a-f]{7}$/);
    expect((await providers["backend-services"].check({}, news)).inputs?.name).toBe(first.inputs?.name);
    await providers["backend-services"].create(first.inputs!);
    const replacement = await providers["backend-services"].check({}, news);
    expect(replacement.inputs?.name).toMatch(/^seeded-[0-9a-f]{7}$/);
    expect(replacement.inputs?.name).not.toBe(first.inputs?.name);
    expect((await providers["backend-services"].check({}, news)).inputs?.name).toBe(replacement.inputs?.name);
  });

  it("treats a delete of an object that is already gone as success", async () => {
    await expect(providers["backend-services"].delete("never-was", { ...conn })).resolves.toBeUndefined();
  });

  it("returns no id from read after an out-of-band delete, so refresh drops it", async () => {
    const created = await create("server-groups", { name: unique("gone"), type: "virtual" });
    expect((await dp.api(`/v1/server-groups/${created.id}`, { method: "DELETE" })).status).toBe(204);
    expect(await providers["server-groups"].read(created.id, created.outs)).toEqual({});
  });

  describe("deletion guards", () => {
    it("refuses to delete a backend service a listener still uses, naming the listener", async () => {
      const service = unique("guarded");
      const listener = unique("user");
      await create("backend-services", { name: service, protocol: "tcp", port: 7 });
      await create("listeners", { name: listener, protocol: "tcp", port: await freePort(), backendService: service });
      const err = await failure(providers["backend-services"].delete(service, { ...conn }));
      expect(err.code).toBe("BALLAST_PROVIDER_IN_USE");
      expect(err.message).toContain(`cannot delete BackendService "${service}" on balancer ${dp.url}`);
      expect(err.message).toContain(listener);
      expect(err.message).toContain("409 in_use");
      await providers.listeners.delete(listener, { ...conn });
      await providers["backend-services"].delete(service, { ...conn });
    });

    it("refuses to delete a server group a service is bound to, naming the service", async () => {
      const group = unique("bound");
      const service = unique("binder");
      await create("server-groups", { name: group, type: "virtual" });
      await create("backend-services", { name: service, protocol: "http", port: 80, serverGroup: group });
      const err = await failure(providers["server-groups"].delete(group, { ...conn }));
      expect(err.code).toBe("BALLAST_PROVIDER_IN_USE");
      expect(err.message).toContain(service);
    });
  });

  it("fails an update with a stale version, telling to run pulumi refresh", async () => {
    const name = unique("stale");
    const created = await create("backend-services", { name, protocol: "http", port: 80 });
    const res = await dp.api(`/v1/backend-services/${name}`, {
      method: "PUT",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ protocol: "http", port: 80, scheduler: "source-ip" }),
    });
    expect(res.status).toBe(200);
    const news = await checked("backend-services", { name, protocol: "http", port: 80, connectionDrainTimeout: 10 });
    const err = await failure(providers["backend-services"].update(name, created.outs, news));
    expect(err.code).toBe("BALLAST_PROVIDER_STALE");
    expect(err.message).toContain("changed behind Pulumi's back (Pulumi knows version 1, the balancer has version 2)");
    expect(err.message).toContain("pulumi refresh");
    // nothing was changed by the refused update
    expect(await (await dp.api(`/v1/backend-services/${name}`)).json()).toMatchObject({ scheduler: "source-ip", connectionDrainTimeout: 300, version: 2 });
  });

  it("fails an update of an object deleted out of band, telling to refresh", async () => {
    const created = await create("server-groups", { name: unique("vanished"), type: "virtual" });
    await dp.api(`/v1/server-groups/${created.id}`, { method: "DELETE" });
    const news = await checked("server-groups", { name: created.id, type: "virtual", servers: [{ address: "10.0.0.1" }] });
    const err = await failure(providers["server-groups"].update(created.id, created.outs, news));
    expect(err.code).toBe("BALLAST_PROVIDER_NOT_FOUND");
    expect(err.message).toContain("pulumi refresh");
  });

  describe("adopt", () => {
    async function outOfBand(kind: Kind, body: Obj) {
      const res = await dp.api(`/v1/${kind}`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body) });
      expect(res.status).toBe(201);
    }

    it("refuses a name clash without adopt, saying how to adopt", async () => {
      const name = unique("taken");
      await outOfBand("server-groups", { name, type: "virtual" });
      const err = await failure(create("server-groups", { name, type: "virtual" }));
      expect(err.code).toBe("BALLAST_PROVIDER_ALREADY_EXISTS");
      expect(err.message).toContain(`ServerGroup "${name}" on balancer ${dp.url}`);
      expect(err.message).toContain("adopt: true");
    });

    it("takes over the existing object and brings it to the declared state", async () => {
      const name = unique("adopted");
      await outOfBand("server-groups", { name, type: "virtual", servers: [{ address: "10.9.9.9" }] });
      const declared = { name, type: "virtual", servers: [{ address: "10.0.0.1", weight: 5 }] };
      const created = await create("server-groups", declared, { adopt: true });
      expect(created.outs).toMatchObject({ ...declared, version: 2 });
      expect(await providers["server-groups"].read(name, created.outs)).toEqual({ id: name, props: created.outs });
    });

    it("adopts an object already in the declared state without changing its version", async () => {
      const name = unique("same");
      await outOfBand("backend-services", { name, protocol: "tcp", port: 22 });
      const created = await create("backend-services", { name, protocol: "tcp", port: 22 }, { adopt: true });
      expect(created.outs.version).toBe(1);
    });

    it("refuses to adopt an object whose immutable fields differ, naming them", async () => {
      const name = unique("clash");
      await outOfBand("backend-services", { name, protocol: "tcp", port: 22 });
      const err = await failure(create("backend-services", { name, protocol: "http", port: 22 }, { adopt: true }));
      expect(err.code).toBe("BALLAST_PROVIDER_IMMUTABLE");
      expect(err.message).toContain('protocol is "tcp" on the balancer, "http" declared');
    });
  });

  it("reports what the data plane refuses, with every issue path", async () => {
    const err = await failure(create("backend-services", { name: unique("dangling"), protocol: "http", port: 80, serverGroup: "no-such-group" }));
    expect(err.message).toContain("serverGroup");
    expect(err.message).toContain(`on balancer ${dp.url}`);
  });

  it("reports a wrong token as unauthorized", async () => {
    const err = await failure(providers["server-groups"].read("anything", { adminUrl: dp.url, adminToken: "wrong-token-0123456789" }));
    expect(err.code).toBe("BALLAST_PROVIDER_UNAUTHORIZED");
    expect(err.message).not.toContain("wrong-token-0123456789");
  });

  it("fails clearly when the state has no balancer (as in pulumi import)", async () => {
    const err = await failure(providers.listeners.read("front", {}));
    expect(err.code).toBe("BALLAST_PROVIDER_NO_BALANCER");
    expect(err.message).toContain("adopt: true");
  });
});
