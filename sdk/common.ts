import * as pulumi from "@pulumi/pulumi";
import { namingFor } from "./autonaming";
import type { Balancer } from "./balancer";

/**
 * How a resource reaches its balancer's admin API: a `Balancer` of the same program, or the admin
 * URL and token of one that runs elsewhere (another stack through a `StackReference`, another host).
 */
export interface BalancerConnectionArgs {
  /** Base URL of the balancer's admin API, e.g. `http://127.0.0.1:9180`. Changing it replaces the resource. */
  adminUrl: pulumi.Input<string>;
  /** The balancer's admin token (`BALLAST_ADMIN_TOKEN`, at least 16 characters). Kept secret. */
  adminToken: pulumi.Input<string>;
  /**
   * Replicas on the etcd store (docs/replicas.md): every replica's admin URL. Writes go through the
   * first that answers (`adminUrl` first) and reads wait for this program's writes, so `refresh`
   * shows no change whichever replica answers. Default: `adminUrl` alone.
   */
  adminUrls?: pulumi.Input<pulumi.Input<string>[]>;
}

/** Args every Ballast resource takes besides its own fields. */
export interface CommonArgs {
  /**
   * The balancer the object lives on: a `Balancer` of this program, or `{ adminUrl, adminToken }`
   * of one managed elsewhere. Moving the object to another balancer (another admin URL) replaces it.
   */
  balancer: Balancer | BalancerConnectionArgs;
  /**
   * The name on the balancer, 1-63 characters of a-z 0-9 -, starting with a letter. Default: the
   * resource's logical name (lowercased, other characters turned into -) followed by `-` and 7 hex
   * digits, the same in preview and up (or as the stack's `pulumi:autonaming` says). Changing it
   * replaces the object.
   */
  name?: pulumi.Input<string>;
  /**
   * Take over an object of the same name that already exists on the balancer: `create` reads it and
   * brings it to the declared state instead of failing with "already exists"; `pulumi preview` shows
   * the fields that changes (`pulumi import` cannot import dynamic resources). Default false. Has no
   * effect after creation.
   */
  adopt?: pulumi.Input<boolean>;
}

/** Something that names a Ballast object: a resource of the sdk, or the object's name. */
export type NamedRef = { readonly name: pulumi.Output<string> } | pulumi.Input<string>;

/**
 * The name a reference stands for. A resource object gives its `name` output, which also makes this
 * resource depend on it (created after it, deleted before it); a plain name creates no dependency.
 */
export function refName(ref: NamedRef): pulumi.Input<string> {
  if (pulumi.Resource.isInstance(ref)) return (ref as unknown as { name: pulumi.Output<string> }).name;
  return ref as pulumi.Input<string>;
}

/** A reference that may be absent. */
export function optionalRefName(ref: NamedRef | undefined): pulumi.Input<string> | undefined {
  return ref === undefined ? undefined : refName(ref);
}

/**
 * The provider-only properties: the connection (token wrapped as a secret), `adopt`, and the
 * naming (`autonaming.ts`): an explicit `name`, or what the provider's `check` names the object from.
 */
export function providerProps(logicalName: string, args: CommonArgs, kind: string): Record<string, pulumi.Input<unknown> | undefined> {
  if (!args.balancer) throw new Error(`ballast: resource "${logicalName}" needs \`balancer\` (a Balancer, or { adminUrl, adminToken })`);
  const naming = namingFor(logicalName, typeToken(kind), args.name);
  return {
    name: naming.name,
    namePrefix: naming.namePrefix,
    namePattern: naming.namePattern,
    nameSeed: naming.nameSeed,
    adopt: args.adopt,
    adminUrl: args.balancer.adminUrl,
    adminToken: pulumi.secret(args.balancer.adminToken),
    adminUrls: "adminUrls" in args.balancer ? args.balancer.adminUrls : undefined,
    version: undefined,
  };
}

/**
 * Resource options: the user's, plus the outputs that must stay secret and, when the balancer is a
 * resource of this program (a `Balancer`), a dependency on it so objects are created once it runs.
 */
export function resourceOptions(
  args: CommonArgs,
  opts: pulumi.CustomResourceOptions | undefined,
  secretOutputs: string[],
): pulumi.CustomResourceOptions {
  const extra: pulumi.CustomResourceOptions = { additionalSecretOutputs: ["adminToken", ...secretOutputs] };
  if (pulumi.Resource.isInstance(args.balancer)) extra.dependsOn = [args.balancer];
  return pulumi.mergeOptions(opts, extra);
}

/** The module of every Ballast dynamic type token: `pulumi-nodejs:dynamic/ballast:<Kind>`. */
export const TYPE_MODULE = "ballast";

/** The full type token of a Ballast resource, as it appears in URNs. */
export function typeToken(kind: string): string {
  return `pulumi-nodejs:dynamic/${TYPE_MODULE}:${kind}`;
}
