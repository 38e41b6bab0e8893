import * as pulumi from "@pulumi/pulumi";
import { beforeAll, describe, expect, it } from "vitest";
import { BackendService, HealthCheck, Listener, ServerGroup } from "../../sdk";
import { installMocks, isSecret, settled, valueOf, type Registered } from "./mocks";

let registered: Registered[];
beforeAll(() => {
  registered = installMocks();
});

const TOKEN = "0123456789abcdef0123456789abcdef";
const balancer = { adminUrl: "http://127.0.0.1:9180", adminToken: TOKEN };
const pem = {
  chain: "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n",
  privateKey: "-----BEGIN PRIVATE KEY-----\nMIIE\n-----END PRIVATE KEY-----\n",
};

function registration(name: string): Registered {
  const found = registered.find((r) => r.name === name);
  if (!found) throw new Error(`${name} was not registered`);
  return found;
}

describe("sdk resources (mocked engine)", () => {
  it("register as pulumi-nodejs:dynamic/ballast:<Kind>", async () => {
    const group = new ServerGroup("t-group", { balancer, type: "virtual" });
    const service = new BackendService("t-service", { balancer, protocol: "http", port: 80 });
    const check = new HealthCheck("t-check", { balancer, backendService: "x", protocol: "TCP" });
    const listener = new Listener("t-listener", { balancer, protocol: "http", port: 80, backendService: "x" });
    await settled(group, service, check, listener);
    expect(registration("t-group").type).toBe("pulumi-nodejs:dynamic/ballast:ServerGroup");
    expect(registration("t-service").type).toBe("pulumi-nodejs:dynamic/ballast:BackendService");
    expect(registration("t-check").type).toBe("pulumi-nodejs:dynamic/ballast:HealthCheck");
    expect(registration("t-listener").type).toBe("pulumi-nodejs:dynamic/ballast:Listener");
  });

  it("autonames <logical>-<7 hex> when no name is given, and uses an explicit name as is", async () => {
    const auto = new ServerGroup("My_Pool", { balancer, type: "virtual" });
    const named = new ServerGroup("named", { balancer, type: "virtual", name: "exact-name" });
    await settled(auto, named);
    expect(registration("My_Pool").inputs).toMatchObject({ namePrefix: "my-pool" });
    expect(registration("My_Pool").inputs).not.toHaveProperty("name");
    expect(await valueOf(auto.name)).toMatch(/^my-pool-[0-9a-f]{7}$/);
    expect(await valueOf(named.name)).toBe("exact-name");
    expect(registration("named").inputs).not.toHaveProperty("namePrefix");
  });

  it("resolves references given as resource objects or as names", async () => {
    const group = new ServerGroup("ref-group", { balancer, type: "virtual", name: "pool-a" });
    const byObject = new BackendService("ref-svc", { balancer, protocol: "http", port: 80, serverGroup: group });
    const byName = new BackendService("ref-svc2", { balancer, protocol: "http", port: 80, serverGroup: "pool-b" });
    const listener = new Listener("ref-listener", { balancer, protocol: "http", port: 81, backendService: byObject });
    const check = new HealthCheck("ref-check", { balancer, protocol: "HTTP", backendService: byName });
    const output = new Listener("ref-out", { balancer, protocol: "http", port: 82, backendService: pulumi.output("from-output") });
    await settled(listener, check, output);
    expect(registration("ref-svc").inputs.serverGroup).toBe("pool-a");
    expect(registration("ref-svc2").inputs.serverGroup).toBe("pool-b");
    expect(registration("ref-listener").inputs.backendService).toBe(await valueOf(byObject.name));
    expect(registration("ref-check").inputs.backendService).toBe(await valueOf(byName.name));
    expect(registration("ref-out").inputs.backendService).toBe("from-output");
  });

  it("exposes typed outputs with the provider's defaults and the version", async () => {
    const service = new BackendService("out-svc", { balancer, protocol: "tcp", port: 5432, sessionPersistence: { type: "source-ip" } });
    expect(await valueOf(service.scheduler)).toBe("wrr");
    expect(await valueOf(service.proxyProtocol)).toBe("off");
    expect(await valueOf(service.sessionPersistence)).toEqual({ type: "source-ip", timeout: 1440 });
    expect(await valueOf(service.version)).toBe(1);
    expect(await valueOf(service.adminUrl)).toBe(balancer.adminUrl);
  });

  it("keeps the admin token and TLS private keys secret", async () => {
    const listener = new Listener("secret-listener", {
      balancer,
      protocol: "https",
      port: 443,
      backendService: "web",
      certificate: pem,
    });
    const fromOutput = new Listener("secret-listener2", {
      balancer: { adminUrl: pulumi.output(balancer.adminUrl), adminToken: pulumi.output(TOKEN) },
      protocol: "tls",
      port: 444,
      backendService: "db",
      certificate: pulumi.output(pem),
    });
    await settled(listener, fromOutput);
    for (const name of ["secret-listener", "secret-listener2"]) {
      expect(registration(name).additionalSecretOutputs).toEqual(["adminToken", "certificate"]);
      expect(registration(name).secretInputs.sort()).toEqual(["adminToken", "certificate"]);
    }
    expect(await isSecret(listener.adminToken)).toBe(true);
    expect(await isSecret(listener.certificate)).toBe(true);
    expect(await isSecret(fromOutput.adminToken)).toBe(true);
    expect(await isSecret(fromOutput.certificate)).toBe(true);
    expect(await isSecret(listener.port)).toBe(false);
    expect(await isSecret(listener.adminUrl)).toBe(false);
    expect(await valueOf(listener.certificate)).toEqual(pem);
  });

  it("serializes the thin shim as the provider, the same for every resource of a kind", async () => {
    const a = new ServerGroup("shim-a", { balancer, type: "virtual" });
    const b = new ServerGroup("shim-b", { balancer, type: "virtual", servers: [{ address: "10.0.0.1" }] });
    await settled(a, b);
    const text = (r: pulumi.Resource) => valueOf((r as unknown as { __provider: pulumi.Output<string> }).__provider);
    const textA = await text(a);
    expect(textA).toBe(await text(b));
    expect(textA).toContain('"server-groups"');
    expect(textA).toContain("ballast/dist/provider/impl");
    expect(textA.length).toBeLessThan(4_000);
  });

  it("requires a balancer", () => {
    expect(() => new ServerGroup("no-balancer", { type: "virtual" } as never)).toThrow(/needs `balancer`/);
  });
});
