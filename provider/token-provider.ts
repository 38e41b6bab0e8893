import { randomBytes, randomUUID } from "node:crypto";
import type * as dynamic from "@pulumi/pulumi/dynamic";

/** Bytes of randomness in a generated admin token (hex-encoded: twice as many characters). */
export const DEFAULT_TOKEN_BYTES = 32;

type Props = Record<string, unknown>;

/**
 * A random secret generated once and kept in the stack's state: the Balancer's admin token. It is
 * created on the first `up` of a stack and never changes afterwards (a different `bytes` replaces
 * it), which is what `@pulumi/random`'s RandomPassword gives, without another plugin. The value is
 * made in `create` (in the provider host), never in the program, so previews do not churn it.
 */
export const tokenProvider: dynamic.ResourceProvider = {
  async check(_olds: Props, news: Props): Promise<dynamic.CheckResult> {
    const bytes = news.bytes ?? DEFAULT_TOKEN_BYTES;
    if (typeof bytes !== "number" || !Number.isInteger(bytes) || bytes < 16 || bytes > 256) {
      return { inputs: news, failures: [{ property: "bytes", reason: "must be a whole number from 16 to 256" }] };
    }
    return { inputs: { bytes } };
  },

  async diff(_id: string, olds: Props, news: Props): Promise<dynamic.DiffResult> {
    if (olds.bytes === news.bytes) return { changes: false };
    return { changes: true, replaces: ["bytes"] };
  },

  async create(inputs: Props): Promise<dynamic.CreateResult> {
    const bytes = typeof inputs.bytes === "number" ? inputs.bytes : DEFAULT_TOKEN_BYTES;
    // The id is public (it shows in previews and URNs' state); the value is not derived from it.
    return { id: randomUUID(), outs: { bytes, value: randomBytes(bytes).toString("hex") } };
  },

  async read(id: string, props?: Props): Promise<dynamic.ReadResult> {
    return { id, props: props ?? {} };
  },

  async delete(): Promise<void> {},
};
