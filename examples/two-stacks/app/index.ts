/**
 * An app stack: its own service and listeners, on the balancer the platform stack exports. The
 * platform's objects are referenced by name (no dependency across stacks): the balancer refuses to
 * delete the platform's service while this stack's listener uses it, naming the listener.
 */
import * as pulumi from "@pulumi/pulumi";
import { BackendService, Listener } from "ballast";

const config = new pulumi.Config();
// `organization/<project>/<stack>` with the local file backend, `<org>/<project>/<stack>` on Pulumi Cloud.
const platform = new pulumi.StackReference(config.get("platformStack") ?? "organization/ballast-platform/dev");
const balancer = {
  adminUrl: platform.requireOutput("adminUrl") as pulumi.Output<string>,
  adminToken: platform.requireOutput("adminToken") as pulumi.Output<string>, // stays secret
};
const webPort = config.getNumber("webPort") ?? 8082;
const apiPort = config.getNumber("apiPort") ?? 8083;

// The app's own service, on the platform's shared group.
const web = new BackendService("web", {
  balancer,
  protocol: "http",
  port: 9101,
  sessionPersistence: { type: "insert-cookie", cookieTimeout: 600 },
  serverGroup: platform.requireOutput("sharedGroup") as pulumi.Output<string>,
});

const webListener = new Listener("web", { balancer, protocol: "http", port: webPort, backendService: web });
// A listener of this stack in front of the platform's service.
const apiListener = new Listener("api", {
  balancer,
  protocol: "http",
  port: apiPort,
  backendService: platform.requireOutput("apiService") as pulumi.Output<string>,
});

export const webUrl = pulumi.interpolate`http://127.0.0.1:${webListener.port}/`;
export const apiUrl = pulumi.interpolate`http://127.0.0.1:${apiListener.port}/`;
