import * as pulumi from "@pulumi/pulumi";
import type * as z from "zod";
import type { ForwardedHeader, HttpBackendService, Scheduler, TcpBackendService } from "../model";
import { shimProvider } from "../provider/shim";
import { showAdoptChanges } from "./adopt-preview";
import { gated, preflight } from "./preflight";
import { optionalRefName, providerProps, resourceOptions, TYPE_MODULE, typeToken, type CommonArgs } from "./common";
import type { ServerGroup } from "./server-group";

type HttpIn = z.input<typeof HttpBackendService>;
type TcpIn = z.input<typeof TcpBackendService>;

/** Cookie insertion for an http service (`sessionPersistence` of an http service). */
export interface CookiePersistenceArgs {
  /** Always `insert-cookie`: the balancer sets a cookie naming (opaquely) the server it chose. */
  type: pulumi.Input<"insert-cookie">;
  /** Cookie Max-Age in seconds, 0-86400; 0 = a browser-session cookie. */
  cookieTimeout: pulumi.Input<number>;
}

/** Source-IP stickiness for a tcp service (`sessionPersistence` of a tcp service). */
export interface SourceIpPersistenceArgs {
  /** Always `source-ip`: a client keeps its server while it keeps connecting. */
  type: pulumi.Input<"source-ip">;
  /** Seconds a client stays on its server after its last connection, 1-86400. Default 1440. */
  timeout?: pulumi.Input<number>;
}

/**
 * Args of a BackendService. Fields that do not apply to the protocol (e.g. `slowStart` on a tcp
 * service) are reported by `pulumi preview` as errors, not ignored.
 */
export interface BackendServiceArgs extends CommonArgs {
  /** `http` or `tcp`. Backend protocol. Changing it replaces the service. */
  protocol: pulumi.Input<HttpIn["protocol"] | TcpIn["protocol"]>;
  /**
   * Default port of the group's servers and of the health check, 1-65535. Services may share a port.
   * Changing it replaces the service.
   */
  port: pulumi.Input<number>;
  /**
   * wrr = smooth weighted round robin; wlc = weighted least connections; source-ip = weighted
   * consistent hash of the client IP. Default wrr.
   */
  scheduler?: pulumi.Input<Scheduler>;
  /**
   * Name of the ServerGroup behind this service; absent = none. May be swapped at any time.
   * Takes the ServerGroup resource itself or its name.
   */
  serverGroup?: ServerGroup | pulumi.Input<string>;
  /**
   * Seconds that connections to a removed or weight-0 server may still run, 0-3600. Default 300;
   * 0 closes them at once.
   */
  connectionDrainTimeout?: pulumi.Input<number>;
  /**
   * http: Cookie insertion; absent = off. `{ type: "insert-cookie", cookieTimeout }`.
   * tcp: Source-IP stickiness; absent = off. `{ type: "source-ip", timeout }`.
   */
  sessionPersistence?: pulumi.Input<CookiePersistenceArgs | SourceIpPersistenceArgs>;
  /** http only. Extra X-Forwarded-* headers to add. X-Forwarded-For is always added. Default none. */
  forwardedHeaders?: pulumi.Input<pulumi.Input<ForwardedHeader>[]>;
  /** http only. Slow-start window in seconds, 30-1200, only with scheduler wrr; absent = off. */
  slowStart?: pulumi.Input<number>;
  /**
   * tcp only. Send a PROXY protocol header (v1 text or v2 binary) to servers before any payload.
   * Default off.
   */
  proxyProtocol?: pulumi.Input<NonNullable<TcpIn["proxyProtocol"]>>;
}

/**
 * A backend service: how traffic from a listener is spread over a server group. Type token
 * `pulumi-nodejs:dynamic/ballast:BackendService`.
 */
export class BackendService extends pulumi.dynamic.Resource {
  /** Name on the balancer (the resource's id). */
  declare readonly name: pulumi.Output<string>;
  declare readonly protocol: pulumi.Output<"http" | "tcp">;
  declare readonly port: pulumi.Output<number>;
  declare readonly scheduler: pulumi.Output<Scheduler>;
  declare readonly serverGroup: pulumi.Output<string | undefined>;
  declare readonly connectionDrainTimeout: pulumi.Output<number>;
  declare readonly sessionPersistence: pulumi.Output<
    { type: "insert-cookie"; cookieTimeout: number } | { type: "source-ip"; timeout: number } | undefined
  >;
  declare readonly forwardedHeaders: pulumi.Output<ForwardedHeader[] | undefined>;
  declare readonly slowStart: pulumi.Output<number | undefined>;
  declare readonly proxyProtocol: pulumi.Output<"off" | "v1" | "v2" | undefined>;
  /** The object's version on the balancer: 1 on create, +1 per update. */
  declare readonly version: pulumi.Output<number>;
  /** The balancer's admin URL. */
  declare readonly adminUrl: pulumi.Output<string>;
  /** The balancer's admin token (secret). */
  declare readonly adminToken: pulumi.Output<string>;

  constructor(name: string, args: BackendServiceArgs, opts?: pulumi.CustomResourceOptions) {
    const props = {
      ...providerProps(name, args, "BackendService"),
      protocol: args.protocol,
      port: args.port,
      scheduler: args.scheduler,
      serverGroup: optionalRefName(args.serverGroup),
      connectionDrainTimeout: args.connectionDrainTimeout,
      sessionPersistence: args.sessionPersistence,
      forwardedHeaders: args.forwardedHeaders,
      slowStart: args.slowStart,
      proxyProtocol: args.proxyProtocol,
    };
    // `get` (an id in the options) reads an existing object: nothing to judge, nothing to hold back.
    const reading = opts?.id !== undefined;
    super(shimProvider("backend-services"), name, reading ? props : gated(props), resourceOptions(args, opts, []), TYPE_MODULE, "BackendService");
    if (!reading) preflight(this, { kind: "backend-services", type: typeToken("BackendService"), name, opts, props, balancer: args.balancer }, args as unknown as Record<string, unknown>);
    if (!reading && args.adopt === true) showAdoptChanges(this, "backend-services", props);
  }

  /**
   * Reads the existing BackendService named `id` on the balancer into a resource of this program that
   * Pulumi does not manage (like every Pulumi resource's `get`): its outputs are the live object's.
   */
  static get(name: string, id: pulumi.Input<pulumi.ID>, state: Pick<CommonArgs, "balancer">, opts?: pulumi.CustomResourceOptions): BackendService {
    return new BackendService(name, { balancer: state.balancer } as BackendServiceArgs, { ...opts, id });
  }
}
