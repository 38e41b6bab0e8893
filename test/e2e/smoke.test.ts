// End-to-end smoke test of the toolchain the project relies on:
//  (a) the Pulumi CLI + nodejs language host + dynamic-provider plugin, with a local file
//      backend: stack init, preview (1 create), up, preview --expect-no-changes, destroy;
//  (b) the Docker engine + the local base image: a container on the host network serving
//      HTTP on 127.0.0.1, read with fetch.
// Prerequisites come from scripts/ensure-pulumi.sh and scripts/ensure-docker.sh. Under CI a
// missing prerequisite fails this file; elsewhere the suite is skipped with the reason.
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  BASE_IMAGE,
  assertTool,
  describeRun,
  repoNodeModules,
  requireTool,
  runDocker,
  runPulumi,
} from "../helpers/toolchain.js";
import { freePort } from "../helpers/ports";

const pulumiTool = requireTool("pulumi");
const dockerTool = requireTool("docker");
for (const tool of [pulumiTool, dockerTool]) {
  if (tool.skip) console.warn(`[smoke] skipping the ${tool.name} smoke test outside CI: ${tool.reason}`);
}

const PROGRAM = `"use strict";
const pulumi = require("@pulumi/pulumi");

const provider = {
  async create(inputs) {
    return { id: "smoke-" + inputs.name, outs: { name: inputs.name, greeting: "hello " + inputs.name } };
  },
};

class Greeting extends pulumi.dynamic.Resource {
  constructor(name, args, opts) {
    super(provider, name, { greeting: undefined, ...args }, opts);
  }
}

const greeting = new Greeting("smoke", { name: "ballast" });
exports.greeting = greeting.greeting;
exports.resourceId = greeting.id;
`;

interface PreviewStep {
  op: string;
  urn: string;
}

describe.skipIf(pulumiTool.skip)(`pulumi smoke${pulumiTool.skip ? ` (skipped: ${pulumiTool.reason})` : ""}`, () => {
  let work = "";
  let projectDir = "";
  let stateDir = "";
  const pulumi = (args: string[], timeoutMs = 180_000) =>
    runPulumi([...args, "--non-interactive"], { cwd: projectDir, stateDir, timeoutMs });

  beforeAll(() => {
    assertTool(pulumiTool);
    work = mkdtempSync(join(tmpdir(), "ballast-smoke-"));
    projectDir = join(work, "project");
    stateDir = join(work, "state");
    // <work>/project holds the program, <work>/state the file backend (and PULUMI_HOME).
    mkdirSync(projectDir);
    mkdirSync(stateDir);
    writeFileSync(
      join(projectDir, "Pulumi.yaml"),
      [
        "name: ballast-smoke",
        "description: throwaway program of the toolchain smoke test",
        "runtime:",
        "  name: nodejs",
        "  options:",
        "    typescript: false",
        "",
      ].join("\n"),
    );
    writeFileSync(
      join(projectDir, "package.json"),
      JSON.stringify({ name: "ballast-smoke", private: true, main: "index.js" }, null, 2),
    );
    writeFileSync(join(projectDir, "index.js"), PROGRAM);
    symlinkSync(repoNodeModules, join(projectDir, "node_modules"), "dir");
  });

  afterAll(async () => {
    if (!work) return;
    // Best effort: never leave resources or a stack behind, even after a failed step.
    await pulumi(["destroy", "--yes", "--stack", "smoke"], 120_000).catch(() => undefined);
    rmSync(work, { recursive: true, force: true });
  });

  it("runs stack init, preview, up, preview --expect-no-changes and destroy", async () => {
    const init = await pulumi(["stack", "init", "smoke"], 60_000);
    expect(init.code, describeRun("pulumi stack init", init)).toBe(0);

    const preview = await pulumi(["preview", "--json"]);
    expect(preview.code, describeRun("pulumi preview", preview)).toBe(0);
    const plan = JSON.parse(preview.stdout) as { steps?: PreviewStep[]; changeSummary?: Record<string, number> };
    const creates = (plan.steps ?? []).filter(
      (s) => s.op === "create" && s.urn.includes("pulumi-nodejs:dynamic:Resource"),
    );
    expect(creates, describeRun("pulumi preview", preview)).toHaveLength(1);
    expect(creates[0]?.urn).toMatch(/::smoke$/);

    const up = await pulumi(["up", "--yes", "--skip-preview"]);
    expect(up.code, describeRun("pulumi up", up)).toBe(0);
    const outputs = await pulumi(["stack", "output", "--json"], 60_000);
    expect(outputs.code, describeRun("pulumi stack output", outputs)).toBe(0);
    expect(JSON.parse(outputs.stdout)).toEqual({ greeting: "hello ballast", resourceId: "smoke-ballast" });

    const again = await pulumi(["preview", "--expect-no-changes"]);
    expect(again.code, describeRun("pulumi preview --expect-no-changes", again)).toBe(0);

    const destroy = await pulumi(["destroy", "--yes", "--skip-preview"]);
    expect(destroy.code, describeRun("pulumi destroy", destroy)).toBe(0);
    const after = await pulumi(["stack", "export"], 60_000);
    expect(after.code, describeRun("pulumi stack export", after)).toBe(0);
    const deployment = JSON.parse(after.stdout) as { deployment?: { resources?: unknown[] } };
    expect(deployment.deployment?.resources ?? []).toHaveLength(0);
  }, 600_000);
});

describe.skipIf(dockerTool.skip)(`docker smoke${dockerTool.skip ? ` (skipped: ${dockerTool.reason})` : ""}`, () => {
  let containerId = "";

  beforeAll(() => {
    assertTool(dockerTool);
  });

  afterAll(async () => {
    if (!containerId) return;
    await runDocker(["stop", "--time", "2", containerId], 30_000).catch(() => undefined);
    await runDocker(["rm", "--force", containerId], 30_000).catch(() => undefined);
  });

  it(`serves HTTP on 127.0.0.1 from a ${BASE_IMAGE} container on the host network`, async () => {
    const port = await freePort();
    const body = `ballast-smoke-ok:${port}`;
    const server =
      `require("node:http").createServer((req, res) => { res.setHeader("content-type", "text/plain"); ` +
      `res.end(${JSON.stringify(body)}); }).listen(${port}, "127.0.0.1", () => console.log("listening"));`;
    const run = await runDocker(["run", "--detach", "--network", "host", BASE_IMAGE, "node", "-e", server]);
    expect(run.code, describeRun("docker run", run)).toBe(0);
    containerId = run.stdout.trim();
    expect(containerId).toMatch(/^[0-9a-f]{12,64}$/);

    // Bounded wait for the server: at most 100 tries, 100 ms apart, each fetch capped at 1 s.
    let text: string | undefined;
    let lastError: unknown;
    for (let i = 0; i < 100 && text === undefined; i++) {
      try {
        const res = await fetch(`http://127.0.0.1:${port}/`, { signal: AbortSignal.timeout(1_000) });
        expect(res.status).toBe(200);
        text = await res.text();
      } catch (err) {
        lastError = err;
        await new Promise((r) => setTimeout(r, 100));
      }
    }
    if (text === undefined) {
      const logs = await runDocker(["logs", containerId], 10_000).catch(() => undefined);
      throw new Error(`no answer on 127.0.0.1:${port}: ${String(lastError)}\n${logs ? describeRun("docker logs", logs) : ""}`);
    }
    expect(text).toBe(body);
  }, 120_000);
});
