import * as pulumi from "@pulumi/pulumi";
import { describe, expect, it } from "vitest";
import { crossIssues, knownValue, ownIssues, type PreflightSubject } from "../../sdk/preflight";
import { UNKNOWN } from "../../provider/unknown";

const TOKEN = "0123456789abcdef0123456789abcdef";
const subject = (kind: PreflightSubject["kind"], name: string, balancer: unknown): PreflightSubject => ({
  kind,
  type: `pulumi-nodejs:dynamic/ballast:${kind}`,
  name,
  opts: undefined,
  props: {},
  balancer,
});

describe("sdk preflight", () => {
  it("treats Outputs and promises as unknown and judges only known values", () => {
    expect(knownValue({ a: 1, b: pulumi.output(2), c: [Promise.resolve(3), 4] })).toEqual({ a: 1, b: UNKNOWN, c: [UNKNOWN, 4] });
    const props = { adminUrl: "http://127.0.0.1:9180", adminToken: pulumi.secret(TOKEN), namePrefix: "web", protocol: "http", port: pulumi.output(70000) };
    expect(ownIssues("backend-services", props)).toEqual([]);
    expect(ownIssues("backend-services", { ...props, port: 70000 })).toEqual([
      { path: "port", text: "port: must be a whole number from 1 to 65535 (got 70000)" },
    ]);
  });

  it("refuses a tcp listener on an http service object, and accepts the matching family", () => {
    const balancer = { adminUrl: "http://preflight-a:9180", adminToken: TOKEN };
    const web = {};
    crossIssues(subject("backend-services", "web", balancer), web, { protocol: "http" });
    expect(crossIssues(subject("listeners", "front", balancer), {}, { protocol: "tcp", port: 1, backendService: web })).toEqual([
      { path: "backendService", text: 'backendService: a tcp listener needs a tcp service; BackendService "web" is http' },
    ]);
    expect(crossIssues(subject("listeners", "front2", balancer), {}, { protocol: "https", port: 2, backendService: web })).toEqual([]);
  });

  it("allows one health check per service and one listener per port on a balancer", () => {
    const balancer = { adminUrl: "http://preflight-b:9180", adminToken: TOKEN };
    const other = { adminUrl: "http://preflight-c:9180", adminToken: TOKEN };
    const web = {};
    crossIssues(subject("backend-services", "web", balancer), web, { protocol: "http" });
    expect(crossIssues(subject("health-checks", "c1", balancer), {}, { backendService: web })).toEqual([]);
    expect(crossIssues(subject("health-checks", "c2", balancer), {}, { backendService: web })[0]?.text).toBe(
      'backendService: BackendService "web" already has HealthCheck "c1" (one health check per service)',
    );
    expect(crossIssues(subject("listeners", "l1", balancer), {}, { protocol: "http", port: 80, backendService: "x" })).toEqual([]);
    expect(crossIssues(subject("listeners", "l2", balancer), {}, { protocol: "http", port: 80, backendService: "x" })[0]?.path).toBe("port");
    expect(crossIssues(subject("listeners", "l3", other), {}, { protocol: "http", port: 80, backendService: "x" })).toEqual([]);
  });
});
