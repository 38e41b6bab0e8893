import * as pulumi from "@pulumi/pulumi";
import { shimProvider } from "../provider/shim";
import { TYPE_MODULE } from "./common";

/** Args of a Token. */
export interface TokenArgs {
  /** Bytes of randomness, 16-256; the value has twice as many hex characters. Default 32. Changing it replaces the token. */
  bytes?: pulumi.Input<number>;
}

/**
 * A random secret made once per stack and kept in its state (like `@pulumi/random`'s
 * RandomPassword, without another plugin): the Balancer's generated admin token. Type token
 * `pulumi-nodejs:dynamic/ballast:Token`.
 */
export class Token extends pulumi.dynamic.Resource {
  /** The token: `bytes` random bytes, hex-encoded. Secret. */
  declare readonly value: pulumi.Output<string>;
  declare readonly bytes: pulumi.Output<number>;

  constructor(name: string, args: TokenArgs = {}, opts?: pulumi.CustomResourceOptions) {
    super(
      shimProvider("token"),
      name,
      { bytes: args.bytes, value: undefined },
      pulumi.mergeOptions(opts, { additionalSecretOutputs: ["value"] }),
      TYPE_MODULE,
      "Token",
    );
  }
}
