/**
 * The quickstart balancer (scripts/quickstart.sh), configured by a program instead of stack config:
 * a server group of the three quickstart origins, a backend service with an HTTP health check, and
 * a listener on port 8081 (the root project's dev stack has 8080 on the same balancer).
 *
 *   . ../../.ballast/env.sh          # BALLAST_ADMIN_URL / BALLAST_ADMIN_TOKEN of the quickstart balancer
 *   npm install                      # links ballast (file:../..): node_modules/ballast -> the repository
 *   pulumi stack init example && pulumi up
 */
import * as pulumi from "@pulumi/pulumi";
import { BackendService, HealthCheck, Listener, ServerGroup } from "ballast";

const config = new pulumi.Config();

// An existing balancer: its admin URL and token, from the environment or the stack config. Where
// the docker provider plugin can be installed, the program could run the data plane itself:
//   const balancer = new Balancer("lb", { ports: [8081] });   // and pass `balancer` below
const balancer = {
  adminUrl: process.env.BALLAST_ADMIN_URL ?? config.require("adminUrl"),
  adminToken: process.env.BALLAST_ADMIN_TOKEN ? pulumi.secret(process.env.BALLAST_ADMIN_TOKEN) : config.requireSecret("adminToken"),
};
const originPorts = config.getObject<number[]>("originPorts") ?? [9101, 9102, 9103];
const listenerPort = config.getNumber("listenerPort") ?? 8081;

const pool = new ServerGroup("pool", {
  balancer,
  type: "virtual",
  // Weights 3:2:1 of the first, second and third origin.
  servers: originPorts.map((port, i) => ({ address: "127.0.0.1", port, weight: [3, 2, 1][i] ?? 1 })),
});

const web = new BackendService("web", {
  balancer,
  protocol: "http",
  port: originPorts[0]!,
  scheduler: "wrr",
  serverGroup: pool, // by object: created after the group, deleted before it
});

new HealthCheck("web", { balancer, backendService: web, protocol: "HTTP", path: "/healthz", interval: 5 });

const front = new Listener("front", { balancer, protocol: "http", port: listenerPort, backendService: web });

export const url = pulumi.interpolate`http://127.0.0.1:${front.port}/`;
export const names = { listener: front.name, service: web.name, group: pool.name };
