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
});
