import { resolve } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { Balancer, BackendService } from "../../sdk";
import { installMocks, isSecret, settled, valueOf, type Registered } from "./mocks";

/** The Balancer component with a mocked engine: the docker resources and their args, never a real Docker. */

let registered: Registered[];
beforeAll(() => {
  registered = installMocks();
});

const repoRoot = resolve(__dirname, "../..");

function one(type: string, prefix: string): Registered {
  const found = registered.filter((r) => r.type === type && r.name.startsWith(prefix));
  expect(found, `${type} of ${prefix}`).toHaveLength(1);
  return found[0]!;
}
const none = (type: string, prefix: string) => registered.filter((r) => r.type === type && r.name.startsWith(prefix));

async function done(b: Balancer): Promise<void> {
  await settled(b, b.container, b.volume);
  await valueOf(b.adminToken);
}

describe("Balancer (mocked engine)", () => {
  it("builds the image from the package's Dockerfile with the base image as a build arg", async () => {
    const b = new Balancer("lb1", { ports: [80, 443], build: { baseImage: "ballast-base-node:24.21.0" } });
    await done(b);
    const image = one("docker:index/image:Image", "lb1");
    expect(image.inputs).toMatchObject({
      imageName: "ballast-dataplane:latest",
      skipPush: true,
      build: { context: repoRoot, dockerfile: resolve(repoRoot, "Dockerfile"), args: { BASE_IMAGE: "ballast-base-node:24.21.0" } },
    });
    expect(one("docker:index/container:Container", "lb1").inputs.image).toBe("sha256:0123abcd");
    expect(registered.find((r) => r.name === "lb1")?.type).toBe("ballast:index:Balancer");
  });

  it("runs a container with the listener ports published, the admin port on 127.0.0.1 only, the state volume and a restart policy", async () => {
    const b = new Balancer("lb2", { image: "ballast-dataplane:0.1.0", ports: [80, 5432], adminPort: 19180 });
    await done(b);
    expect(none("docker:index/image:Image", "lb2")).toEqual([]);
    const container = one("docker:index/container:Container", "lb2");
    const volume = one("docker:index/volume:Volume", "lb2");
    expect(container.inputs.image).toBe("ballast-dataplane:0.1.0");
    expect(container.inputs.ports).toEqual([
      { internal: 9180, external: 19180, ip: "127.0.0.1" },
      { internal: 80, external: 80, ip: "0.0.0.0" },
      { internal: 5432, external: 5432, ip: "0.0.0.0" },
    ]);
    expect(container.inputs.volumes).toEqual([{ volumeName: volume.state.name, containerPath: "/var/lib/ballast" }]);
    expect(container.inputs.restart).toBe("unless-stopped");
    expect(container.inputs.envs).toEqual(
      expect.arrayContaining(["BALLAST_ADMIN_ADDR=0.0.0.0:9180", "BALLAST_STATE_DIR=/var/lib/ballast", `BALLAST_ADMIN_TOKEN=${"f".repeat(64)}`]),
    );
    // the new container binds the old one's host ports: it must replace delete-first
    expect(container.deleteBeforeReplace).toBe(true);
    expect(await valueOf(b.adminUrl)).toBe("http://127.0.0.1:19180");
    expect(await isSecret(b.adminUrl)).toBe(false);
  });

  it("generates the admin token once per stack as a secret", async () => {
    const b = new Balancer("lb3", { image: "img" });
    await done(b);
    const token = one("pulumi-nodejs:dynamic/ballast:Token", "lb3");
    expect(token.additionalSecretOutputs).toEqual(["value"]);
    expect(await isSecret(b.adminToken)).toBe(true);
    expect(await valueOf(b.adminToken)).toBe("f".repeat(64));
    // the container's environment carries the token, so it is secret too
    expect(one("docker:index/container:Container", "lb3").secretInputs).toContain("envs");
  });

  it("uses a given admin token, kept secret, instead of generating one", async () => {
    const b = new Balancer("lb4", { image: "img", adminToken: "given-token-0123456789", logLevel: "debug", workers: 0 });
    await done(b);
    expect(none("pulumi-nodejs:dynamic/ballast:Token", "lb4")).toEqual([]);
    expect(await isSecret(b.adminToken)).toBe(true);
    expect(one("docker:index/container:Container", "lb4").inputs.envs).toEqual(
      expect.arrayContaining(["BALLAST_ADMIN_TOKEN=given-token-0123456789", "BALLAST_LOG_LEVEL=debug", "BALLAST_WORKERS=0"]),
    );
  });

  it("is a balancer for resources, which then depend on its container", async () => {
    const b = new Balancer("lb5", { image: "img", adminPort: 29180 });
    const service = new BackendService("svc5", { balancer: b, protocol: "http", port: 80 });
    await done(b);
    await settled(service);
    const reg = one("pulumi-nodejs:dynamic/ballast:BackendService", "svc5");
    expect(reg.inputs).toMatchObject({ adminUrl: "http://127.0.0.1:29180", adminToken: "f".repeat(64) });
    expect(reg.secretInputs).toContain("adminToken");
    expect(reg.dependencies).toContain(await valueOf(b.container.urn));
    expect(await isSecret(service.adminToken)).toBe(true);
  });

  it("runs replicas on etcd: one container each on host networking, admin ports in a row, the store settings, start-before-stop", async () => {
    const b = new Balancer("lb6", {
      image: "img",
      replicas: 3,
      adminPort: 19200,
      listenAddress: "127.0.0.1",
      etcd: { endpoints: ["http://10.0.0.5:2379", "http://10.0.0.6:2379"], prefix: "/ballast/prod", username: "ballast", password: "etcd-secret", ca: "-----BEGIN CERTIFICATE-----\nCA\n" },
    });
    await settled(b, ...b.containers, ...b.volumes);
    const containers = registered.filter((r) => r.type === "docker:index/container:Container" && r.name.startsWith("lb6-"));
    expect(containers.map((c) => c.name).sort()).toEqual(["lb6-dataplane-0", "lb6-dataplane-1", "lb6-dataplane-2"]);
    expect(registered.filter((r) => r.type === "docker:index/volume:Volume" && r.name.startsWith("lb6-")).map((v) => v.name).sort()).toEqual(["lb6-state-0", "lb6-state-1", "lb6-state-2"]);
    for (const [i, c] of containers.sort((x, y) => x.name.localeCompare(y.name)).entries()) {
      expect(c.inputs.networkMode).toBe("host");
      expect(c.inputs.ports).toBeUndefined();
      expect(c.inputs.envs).toEqual(
        expect.arrayContaining([
          `BALLAST_ADMIN_ADDR=127.0.0.1:${19200 + i}`,
          "BALLAST_LISTEN_HOST=127.0.0.1",
          `BALLAST_REPLICA_NAME=lb6-${i}`,
          "BALLAST_STORE=etcd",
          "BALLAST_ETCD_ENDPOINTS=http://10.0.0.5:2379,http://10.0.0.6:2379",
          "BALLAST_ETCD_PREFIX=/ballast/prod",
          "BALLAST_ETCD_USERNAME=ballast",
          "BALLAST_ETCD_PASSWORD=etcd-secret",
          "BALLAST_ETCD_CA=/etc/ballast/etcd/ca.pem",
        ]),
      );
      expect(c.inputs.uploads).toEqual([{ file: "/etc/ballast/etcd/ca.pem", content: "-----BEGIN CERTIFICATE-----\nCA\n" }]);
      expect(c.secretInputs).toContain("envs");
      // Host networking with shared ports: the new container starts before the old one stops.
      expect(c.deleteBeforeReplace).toBe(false);
    }
    expect(await valueOf(b.adminUrls)).toEqual(["http://127.0.0.1:19200", "http://127.0.0.1:19201", "http://127.0.0.1:19202"]);
    expect(await valueOf(b.adminUrl)).toBe("http://127.0.0.1:19200");
  });

  it("gives resources every replica's admin URL", async () => {
    const b = new Balancer("lb7", { image: "img", replicas: 2, adminPort: 19300, etcd: { endpoints: ["http://127.0.0.1:2379"] } });
    const service = new BackendService("svc7", { balancer: b, protocol: "http", port: 80 });
    await settled(b, ...b.containers, service);
    const reg = one("pulumi-nodejs:dynamic/ballast:BackendService", "svc7");
    expect(reg.inputs).toMatchObject({ adminUrl: "http://127.0.0.1:19300", adminUrls: ["http://127.0.0.1:19300", "http://127.0.0.1:19301"] });
  });

  it.each([
    [{ replicas: 2 }, /replicas: 2 needs `etcd`/],
    [{ replicas: 0, etcd: { endpoints: ["http://127.0.0.1:2379"] } }, /replicas must be a whole number from 1 to 32 \(got 0\)/],
    [{ replicas: 1.5, etcd: { endpoints: ["http://127.0.0.1:2379"] } }, /replicas must be a whole number from 1 to 32 \(got 1.5\)/],
    [{ replicas: 33, etcd: { endpoints: ["http://127.0.0.1:2379"] } }, /got 33/],
  ])("refuses %j before creating anything", (args, message) => {
    const before = registered.length;
    expect(() => new Balancer("lb8", { image: "img", ...args })).toThrow(message);
    expect(registered.slice(before).filter((r) => r.name.startsWith("lb8-"))).toEqual([]);
  });
});
