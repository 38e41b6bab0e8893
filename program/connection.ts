import * as pulumi from "@pulumi/pulumi";
import { Balancer, type BalancerArgs, type BalancerConnectionArgs } from "../sdk";

/**
 * Which balancer the stack configures. In order:
 * 1. `ballast:deployContainer: true`: this stack runs the data plane itself, a `Balancer` (Docker,
 *    through `@pulumi/docker`), configured by `ballast:balancer`; its URL and token are used.
 * 2. Otherwise an existing balancer, addressed by its admin URL and token: the environment
 *    variables BALLAST_ADMIN_URL / BALLAST_ADMIN_TOKEN when set (they win, so a local run such as
 *    the quickstart needs no edit of the committed stack files), else the stack config
 *    `ballast:adminUrl` and the secret `ballast:adminToken`.
 * The token is always handled as a secret.
 */
export function balancerFor(config: pulumi.Config, listenerPorts: number[]): Balancer | BalancerConnectionArgs {
  if (config.getBoolean("deployContainer")) {
    const settings = config.getObject<Omit<BalancerArgs, "build"> & { baseImage?: string }>("balancer") ?? {};
    const { baseImage, ...args } = settings;
    return new Balancer("balancer", {
      ports: listenerPorts,
      ...args,
      ...(args.image === undefined && baseImage !== undefined ? { build: { baseImage } } : {}),
    });
  }
  const envUrl = process.env.BALLAST_ADMIN_URL;
  const envToken = process.env.BALLAST_ADMIN_TOKEN;
  const adminUrl = envUrl || config.get("adminUrl");
  const adminToken = envToken ? pulumi.secret(envToken) : config.getSecret("adminToken");
  if (!adminUrl || adminToken === undefined) {
    const missing = [!adminUrl && "the admin URL", adminToken === undefined && "the admin token"].filter(Boolean).join(" and ");
    throw new pulumi.RunError(
      `no balancer to configure: ${missing} ${missing.includes(" and ") ? "are" : "is"} missing. Either\n` +
        "  export BALLAST_ADMIN_URL=http://127.0.0.1:9180 BALLAST_ADMIN_TOKEN=...   (wins over the stack config), or\n" +
        "  pulumi config set ballast:adminUrl http://127.0.0.1:9180 && pulumi config set --secret ballast:adminToken ..., or\n" +
        "  pulumi config set ballast:deployContainer true   (runs the data plane with @pulumi/docker; needs the docker provider plugin)",
    );
  }
  return { adminUrl, adminToken };
}

/** The host listeners are reached on: the admin URL's host (`127.0.0.1` for a local balancer). */
export function listenerHost(adminUrl: pulumi.Input<string>): pulumi.Output<string> {
  return pulumi.output(adminUrl).apply((url) => {
    try {
      return new URL(url).hostname;
    } catch {
      return "127.0.0.1";
    }
  });
}
