/**
 * The platform stack: the one place that knows how to reach the balancer. It owns a server group
 * shared by applications and a shared service, and exports the admin URL and token (secret) for
 * the app stacks' StackReference.
 */
import * as pulumi from "@pulumi/pulumi";
import { BackendService, HealthCheck, ServerGroup } from "ballast";

const config = new pulumi.Config();

// An existing balancer. With the docker provider plugin this stack would run it instead:
//   const balancer = new Balancer("lb", { ports: [8082, 8083] });
// and export balancer.adminUrl / balancer.adminToken the same way.
const balancer = {
  adminUrl: process.env.BALLAST_ADMIN_URL ?? config.require("adminUrl"),
  adminToken: process.env.BALLAST_ADMIN_TOKEN ? pulumi.secret(process.env.BALLAST_ADMIN_TOKEN) : config.requireSecret("adminToken"),
};
const originPorts = config.getObject<number[]>("originPorts") ?? [9101, 9102, 9103];

const shared = new ServerGroup("shared", {
  balancer,
  type: "virtual",
  servers: originPorts.map((port) => ({ address: "127.0.0.1", port, weight: 100 })),
});

const api = new BackendService("api", { balancer, protocol: "http", port: originPorts[0]!, scheduler: "wlc", serverGroup: shared });
new HealthCheck("api", { balancer, backendService: api, protocol: "HTTP", path: "/healthz", interval: 5 });

export const adminUrl = pulumi.output(balancer.adminUrl);
export const adminToken = pulumi.secret(balancer.adminToken);
/** Names on the balancer that app stacks refer to. */
export const sharedGroup = shared.name;
export const apiService = api.name;
