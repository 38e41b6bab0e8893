import * as pulumi from "@pulumi/pulumi";
import type { AvailabilityServer, ServerGroupInput, VirtualServer } from "../model";
import { shimProvider } from "../provider/shim";
import { showAdoptChanges } from "./adopt-preview";
import { gated, preflight } from "./preflight";
import { providerProps, resourceOptions, TYPE_MODULE, typeToken, type CommonArgs } from "./common";

/** One server of a group. `weight` is for virtual groups, `role` for availability groups. */
export interface ServerArgs {
  /** IPv4 or IPv6 address, or DNS name, of the server. */
  address: pulumi.Input<string>;
  /** Port of the server, 1-65535; absent = the backend service's port. */
  port?: pulumi.Input<number>;
  /**
   * Virtual groups only. Relative share of new requests, 0-100. Default 100; 0 = no new requests
   * (existing ones drain).
   */
  weight?: pulumi.Input<number>;
  /** Availability groups only: `primary` (takes all traffic while healthy) or `secondary`. */
  role?: pulumi.Input<AvailabilityServer["role"]>;
  /** Free text for people. At most 255 characters. */
  description?: pulumi.Input<string>;
}

/** Args of a ServerGroup. */
export interface ServerGroupArgs extends CommonArgs {
  /**
   * `virtual` (0-1000 weighted servers) or `availability` (a primary and a secondary).
   * Group type. Changing it replaces the group.
   */
  type: pulumi.Input<ServerGroupInput["type"]>;
  /**
   * virtual: 0-1000 servers, (address, port) unique. Default none.
   * availability: Exactly 2 servers: role primary and role secondary.
   */
  servers?: pulumi.Input<pulumi.Input<ServerArgs>[]>;
}

/**
 * A server group: the servers behind one or more backend services. Type token
 * `pulumi-nodejs:dynamic/ballast:ServerGroup`.
 */
export class ServerGroup extends pulumi.dynamic.Resource {
  /** Name on the balancer (the resource's id). */
  declare readonly name: pulumi.Output<string>;
  declare readonly type: pulumi.Output<"virtual" | "availability">;
  declare readonly servers: pulumi.Output<(VirtualServer | AvailabilityServer)[]>;
  /** The object's version on the balancer: 1 on create, +1 per update. */
  declare readonly version: pulumi.Output<number>;
  /** The balancer's admin URL. */
  declare readonly adminUrl: pulumi.Output<string>;
  /** The balancer's admin token (secret). */
  declare readonly adminToken: pulumi.Output<string>;

  constructor(name: string, args: ServerGroupArgs, opts?: pulumi.CustomResourceOptions) {
    const props = { ...providerProps(name, args, "ServerGroup"), type: args.type, servers: args.servers };
    // `get` (an id in the options) reads an existing object: nothing to judge, nothing to hold back.
    const reading = opts?.id !== undefined;
    super(shimProvider("server-groups"), name, reading ? props : gated(props), resourceOptions(args, opts, []), TYPE_MODULE, "ServerGroup");
    if (!reading) preflight(this, { kind: "server-groups", type: typeToken("ServerGroup"), name, opts, props, balancer: args.balancer }, args as unknown as Record<string, unknown>);
    if (!reading && args.adopt === true) showAdoptChanges(this, "server-groups", props);
  }

  /**
   * Reads the existing ServerGroup named `id` on the balancer into a resource of this program that
   * Pulumi does not manage (like every Pulumi resource's `get`): its outputs are the live object's.
   */
  static get(name: string, id: pulumi.Input<pulumi.ID>, state: Pick<CommonArgs, "balancer">, opts?: pulumi.CustomResourceOptions): ServerGroup {
    return new ServerGroup(name, { balancer: state.balancer } as ServerGroupArgs, { ...opts, id });
  }
}
