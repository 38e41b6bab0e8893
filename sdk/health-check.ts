import * as pulumi from "@pulumi/pulumi";
import type { HealthCheckInput, StatusClass } from "../model";
import { shimProvider } from "../provider/shim";
import { showAdoptChanges } from "./adopt-preview";
import { gated, preflight } from "./preflight";
import type { BackendService } from "./backend-service";
import { providerProps, refName, resourceOptions, TYPE_MODULE, typeToken, type CommonArgs } from "./common";

/** Args of a HealthCheck. Without a health check every server with weight > 0 counts as healthy. */
export interface HealthCheckArgs extends CommonArgs {
  /**
   * The BackendService this check belongs to (one check per service). Changing it replaces the check.
   * Takes the BackendService resource itself or its name.
   */
  backendService: BackendService | pulumi.Input<string>;
  /** `HTTP` (a GET of `path`, passing on `statusCodes`) or `TCP` (passing on connect). */
  protocol: pulumi.Input<HealthCheckInput["protocol"]>;
  /** Port to probe, 1-65535; absent = each server's own port. */
  port?: pulumi.Input<number>;
  /** Seconds one probe may take, 2-60. Default 5. */
  timeout?: pulumi.Input<number>;
  /** Seconds between probes of one server, 5-300. Default 10. */
  interval?: pulumi.Input<number>;
  /** Consecutive failures that take a healthy server out, 1-5. Default 3. */
  unhealthyThreshold?: pulumi.Input<number>;
  /** Consecutive successes that bring an unhealthy server back, 1-5. Default 3. */
  healthyThreshold?: pulumi.Input<number>;
  /** HTTP only. Path of the GET probe: starts with /, at most 5 levels, 100 characters. Default /. */
  path?: pulumi.Input<string>;
  /** HTTP only. Status classes that pass, a non-empty subset of 2xx, 3xx, 4xx. Default [2xx, 3xx]. */
  statusCodes?: pulumi.Input<pulumi.Input<StatusClass>[]>;
}

/**
 * A health check: active probing of every server of one backend service. Type token
 * `pulumi-nodejs:dynamic/ballast:HealthCheck`.
 */
export class HealthCheck extends pulumi.dynamic.Resource {
  /** Name on the balancer (the resource's id). */
  declare readonly name: pulumi.Output<string>;
  declare readonly backendService: pulumi.Output<string>;
  declare readonly protocol: pulumi.Output<"HTTP" | "TCP">;
  declare readonly port: pulumi.Output<number | undefined>;
  declare readonly timeout: pulumi.Output<number>;
  declare readonly interval: pulumi.Output<number>;
  declare readonly unhealthyThreshold: pulumi.Output<number>;
  declare readonly healthyThreshold: pulumi.Output<number>;
  declare readonly path: pulumi.Output<string | undefined>;
  declare readonly statusCodes: pulumi.Output<StatusClass[] | undefined>;
  /** The object's version on the balancer: 1 on create, +1 per update. */
  declare readonly version: pulumi.Output<number>;
  /** The balancer's admin URL. */
  declare readonly adminUrl: pulumi.Output<string>;
  /** The balancer's admin token (secret). */
  declare readonly adminToken: pulumi.Output<string>;

  constructor(name: string, args: HealthCheckArgs, opts?: pulumi.CustomResourceOptions) {
    const props = {
      ...providerProps(name, args, "HealthCheck"),
      backendService: refName(args.backendService),
      protocol: args.protocol,
      port: args.port,
      timeout: args.timeout,
      interval: args.interval,
      unhealthyThreshold: args.unhealthyThreshold,
      healthyThreshold: args.healthyThreshold,
      path: args.path,
      statusCodes: args.statusCodes,
    };
    // `get` (an id in the options) reads an existing object: nothing to judge, nothing to hold back.
    const reading = opts?.id !== undefined;
    super(shimProvider("health-checks"), name, reading ? props : gated(props), resourceOptions(args, opts, []), TYPE_MODULE, "HealthCheck");
    if (!reading) preflight(this, { kind: "health-checks", type: typeToken("HealthCheck"), name, opts, props, balancer: args.balancer }, args as unknown as Record<string, unknown>);
    if (!reading && args.adopt === true) showAdoptChanges(this, "health-checks", props);
  }

  /**
   * Reads the existing HealthCheck named `id` on the balancer into a resource of this program that
   * Pulumi does not manage (like every Pulumi resource's `get`): its outputs are the live object's.
   */
  static get(name: string, id: pulumi.Input<pulumi.ID>, state: Pick<CommonArgs, "balancer">, opts?: pulumi.CustomResourceOptions): HealthCheck {
    return new HealthCheck(name, { balancer: state.balancer } as HealthCheckArgs, { ...opts, id });
  }
}
