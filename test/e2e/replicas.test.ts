// One `pulumi up` through replica A of three data plane replicas on a real etcd, traffic checked
// through B and C, then `pulumi refresh --expect-no-changes` with A stopped (so B answers). The
// replicas are local data plane processes (no Docker needed); under CI a missing pulumi fails.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Dataplane } from "../helpers/dataplane-process";
import { makeProject, type PulumiProject } from "../helpers/e2e";
import { startEtcdCluster, type EtcdCluster } from "../helpers/etcd-cluster";
import { startOrigin, type Origin } from "../helpers/origin";
import { freePort } from "../helpers/ports";
import { newPrefix, newToken, startReplica, through } from "../helpers/replicas";
import { assertTool, requireTool } from "../helpers/toolchain";

const pulumiTool = requireTool("pulumi");
const skip = pulumiTool.skip;
if (skip) console.warn(`[e2e replicas] skipped outside CI: ${pulumiTool.reason}`);

const STEP_MS = 180_000;
const PROGRAM = `
const pulumi = require("@pulumi/pulumi");
const { BackendService, Listener, ServerGroup } = require("ballast");
const urls = process.env.E2E_ADMIN_URLS.split(",");
const balancer = { adminUrl: urls[0], adminUrls: urls, adminToken: pulumi.secret(process.env.E2E_ADMIN_TOKEN) };
const pool = new ServerGroup("pool", { balancer, type: "virtual", servers: [{ address: "127.0.0.1", port: Number(process.env.E2E_ORIGIN_PORT) }] });
const web = new BackendService("web", { balancer, protocol: "http", port: 80, serverGroup: pool });
new Listener("front", { balancer, protocol: "http", port: Number(process.env.E2E_LISTENER_PORT), backendService: web });
`;

describe.skipIf(skip)(`pulumi against replicas on etcd${skip ? ` (skipped: ${pulumiTool.reason})` : ""}`, () => {
  let etcd: EtcdCluster;
  let replicas: Dataplane[] = [];
  let origin: Origin;
  let project: PulumiProject;
  let env: Record<string, string>;

  beforeAll(async () => {
    assertTool(pulumiTool);
    etcd = await startEtcdCluster(3);
    const token = newToken();
    const prefix = newPrefix();
    replicas = await Promise.all(["a", "b", "c"].map((name, i) => startReplica(etcd, { name, prefix, token, listenHost: `127.0.0.${i + 2}` })));
    origin = await startOrigin("origin");
    const listenerPort = await freePort();
    env = {
      E2E_ADMIN_URLS: replicas.map((r) => r.url).join(","),
      E2E_ADMIN_TOKEN: token,
      E2E_ORIGIN_PORT: String(origin.port),
      E2E_LISTENER_PORT: String(listenerPort),
    };
    project = makeProject({
      prefix: "ballast-e2e-replicas-",
      files: {
        "Pulumi.yaml": "name: ballast-e2e-replicas\nruntime: nodejs\nmain: index.js\n",
        "package.json": JSON.stringify({ name: "ballast-e2e-replicas", private: true, main: "index.js" }),
        "index.js": PROGRAM,
      },
    });
    await project.ok(["stack", "init", "test"], { env });
  }, 300_000);

  afterAll(async () => {
    await Promise.all(replicas.map((r) => r.stop()));
    await origin?.close();
    await etcd?.stop();
    project?.cleanup();
  });

  it("up through replica A serves traffic through B and C; refresh through B finds no change", async () => {
    await project.ok(["up", "--yes", "--skip-preview", "--stack", "test"], { env, timeoutMs: STEP_MS });
    const port = Number(env.E2E_LISTENER_PORT);
    for (const host of ["127.0.0.3", "127.0.0.4"]) {
      let answer = "";
      for (let i = 0; i < 100 && answer !== "origin"; i++) {
        answer = await through(host, port);
        if (answer !== "origin") await new Promise((r) => setTimeout(r, 50));
      }
      expect(answer, `traffic through ${host}`).toBe("origin");
    }
    await replicas[0]!.stop();
    await project.ok(["refresh", "--yes", "--expect-no-changes", "--stack", "test"], { env, timeoutMs: STEP_MS });
    await project.ok(["preview", "--expect-no-changes", "--stack", "test"], { env, timeoutMs: STEP_MS });
  }, 600_000);
});
