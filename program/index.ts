/**
 * The root Pulumi project's program (Pulumi.yaml; compiled by `npm run build` to
 * dist/program/index.js). It deploys, from the stack's config, a balancer's server groups,
 * backend services, health checks and listeners: one stack per environment (Pulumi.dev.yaml,
 * Pulumi.prod.yaml). The config format is described in ./stack-config.ts and docs/quickstart.md;
 * the balancer is chosen as described in ./connection.ts.
 *
 * The whole config is validated (with the model's schemas, as the provider's `check` does) before
 * any resource is registered, so a mistake fails `pulumi preview` with every error listed and
 * nothing deployed.
 */
import * as pulumi from "@pulumi/pulumi";
import { BackendService, HealthCheck, Listener, ServerGroup, type BalancerConnectionArgs, type Balancer } from "../sdk";
import { balancerFor, listenerHost } from "./connection";
import { CONFIG_KEYS, formatIssues, planStack, type Ref } from "./stack-config";

const config = new pulumi.Config("ballast");
const { plan, issues } = planStack({
  serverGroups: config.getObject(CONFIG_KEYS.serverGroups),
  services: config.getObject(CONFIG_KEYS.services),
  listeners: config.getObject(CONFIG_KEYS.listeners),
});
if (issues.length > 0) throw new pulumi.RunError(formatIssues(issues));

const ports = plan.listeners.map((l) => l.fields.port).filter((p): p is number => typeof p === "number");
const balancer: Balancer | BalancerConnectionArgs = balancerFor(config, ports);
const common = (p: { name?: string; adopt?: boolean }) => ({
  balancer,
  ...(p.name === undefined ? {} : { name: p.name }),
  ...(p.adopt === undefined ? {} : { adopt: p.adopt }),
});

// References by key pass the resource object: the referrer depends on it (created after it,
// deleted before it, and repointed before a replaced object is deleted).
const groupObjects = new Map<string, ServerGroup>();
for (const g of plan.groups) {
  groupObjects.set(g.key, new ServerGroup(g.logicalName, { ...common(g), ...(g.fields as { type: "virtual" }) }));
}

const resolve = <T>(ref: Ref | undefined, objects: Map<string, T>): T | string | undefined =>
  ref === undefined ? undefined : "key" in ref ? objects.get(ref.key) : ref.name;

const serviceObjects = new Map<string, BackendService>();
const checkObjects = new Map<string, HealthCheck>();
for (const s of plan.services) {
  const group = resolve(s.group, groupObjects);
  const service = new BackendService(s.logicalName, {
    ...common(s),
    ...(s.fields as { protocol: "http"; port: number }),
    ...(group === undefined ? {} : { serverGroup: group }),
  });
  serviceObjects.set(s.key, service);
  if (s.healthCheck) {
    const hc = s.healthCheck;
    checkObjects.set(s.key, new HealthCheck(hc.logicalName, { ...common(hc), ...(hc.fields as { protocol: "HTTP" }), backendService: service }));
  }
}

const listenerObjects = new Map<string, Listener>();
for (const l of plan.listeners) {
  const service = resolve(l.service, serviceObjects)!;
  listenerObjects.set(l.key, new Listener(l.logicalName, { ...common(l), ...(l.fields as { protocol: "http"; port: number }), backendService: service }));
}

const names = <T extends { name: pulumi.Output<string> }>(objects: Map<string, T>) =>
  Object.fromEntries([...objects].map(([key, o]) => [key, o.name]));

/** The balancer's admin URL (not secret). */
export const adminUrl = pulumi.output(balancer.adminUrl);
/** Each listener: its name on the balancer, protocol, port and URL from this host. */
export const listeners = Object.fromEntries(
  [...listenerObjects].map(([key, l]) => [
    key,
    pulumi.all([l.name, l.protocol, l.port, listenerHost(balancer.adminUrl)]).apply(([name, protocol, port, host]) => ({
      name,
      protocol,
      port,
      url: protocol === "http" || protocol === "https" ? `${protocol}://${host}:${port}/` : `${host}:${port}`,
    })),
  ]),
);
/** Names on the balancer, by config key: what another stack refers to. */
export const services = names(serviceObjects);
export const serverGroups = names(groupObjects);
export const healthChecks = names(checkObjects);
