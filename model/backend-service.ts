import * as z from "zod";
import { Name, Port, seconds, unknownKeyIn } from "./common";

/**
 * BackendService: how traffic from a listener is spread over a server group.
 * Discriminated by `protocol`; a field that does not apply to the protocol is an error, not ignored.
 */

/** Scheduling algorithms. `source-ip` is a weighted consistent hash of the client address. */
export const Scheduler = z
  .enum(["wrr", "wlc", "source-ip"], { error: "must be one of wrr, wlc, source-ip" })
  .describe("wrr = smooth weighted round robin; wlc = weighted least connections; source-ip = weighted consistent hash of the client IP. Default wrr.");
export type Scheduler = z.infer<typeof Scheduler>;

/** Headers an http service may add besides the always-on X-Forwarded-For. */
export const ForwardedHeader = z.enum(["X-Forwarded-Proto", "X-Forwarded-Port", "X-Forwarded-LBIP", "X-Forwarded-Host"], {
  error: "must be one of X-Forwarded-Proto, X-Forwarded-Port, X-Forwarded-LBIP, X-Forwarded-Host",
});
export type ForwardedHeader = z.infer<typeof ForwardedHeader>;

const common = {
  name: Name.describe("Name on the balancer, 1-63 of a-z 0-9 -, starting with a letter. Changing it replaces the service."),
  port: Port.describe(
    "Default port of the group's servers and of the health check, 1-65535. Services may share a port. Changing it replaces the service.",
  ),
  scheduler: Scheduler.default("wrr"),
  serverGroup: Name.optional().describe("Name of the ServerGroup behind this service; absent = none. May be swapped at any time."),
  connectionDrainTimeout: seconds(0, 3600)
    .default(300)
    .describe("Seconds that connections to a removed or weight-0 server may still run, 0-3600. Default 300; 0 closes them at once."),
};

export const CookiePersistence = z.strictObject(
  {
    type: z.literal("insert-cookie", { error: "must be insert-cookie for an http service" }),
    cookieTimeout: seconds(0, 86400).describe("Cookie Max-Age in seconds, 0-86400; 0 = a browser-session cookie."),
  },
  { error: unknownKeyIn("cookie session persistence") },
);

export const SourceIpPersistence = z.strictObject(
  {
    type: z.literal("source-ip", { error: "must be source-ip for a tcp service" }),
    timeout: seconds(1, 86400)
      .default(1440)
      .describe("Seconds a client stays on its server after its last connection, 1-86400. Default 1440."),
  },
  { error: unknownKeyIn("source-ip session persistence") },
);

export const HttpBackendService = z.strictObject(
  {
    ...common,
    protocol: z.literal("http").describe("Backend protocol. Changing it replaces the service."),
    sessionPersistence: CookiePersistence.optional().describe("Cookie insertion; absent = off."),
    forwardedHeaders: z
      .array(ForwardedHeader)
      .max(4)
      .refine((a) => new Set(a).size === a.length, { error: "must not repeat a header" })
      .default([])
      .describe("Extra X-Forwarded-* headers to add. X-Forwarded-For is always added."),
    slowStart: seconds(30, 1200)
      .optional()
      .describe("Slow-start window in seconds, 30-1200, only with scheduler wrr; absent = off."),
  },
  { error: unknownKeyIn("an http backend service") },
);

export const TcpBackendService = z.strictObject(
  {
    ...common,
    protocol: z.literal("tcp").describe("Backend protocol. Changing it replaces the service."),
    sessionPersistence: SourceIpPersistence.optional().describe("Source-IP stickiness; absent = off."),
    proxyProtocol: z
      .enum(["off", "v1", "v2"], { error: "must be one of off, v1, v2" })
      .default("off")
      .describe("Send a PROXY protocol header (v1 text or v2 binary) to servers before any payload. Default off."),
  },
  { error: unknownKeyIn("a tcp backend service") },
);

export const BackendService = z
  .discriminatedUnion("protocol", [HttpBackendService, TcpBackendService], {
    error: (iss) => (iss.input === undefined ? "is required" : "must be one of http, tcp"),
  })
  .superRefine((svc, ctx) => {
    if (svc.protocol === "http" && svc.slowStart !== undefined && svc.scheduler !== "wrr") {
      ctx.addIssue({ code: "custom", path: ["slowStart"], message: "requires scheduler wrr" });
    }
  });
export type BackendService = z.output<typeof BackendService>;
export type BackendServiceInput = z.input<typeof BackendService>;

/** Fields whose change replaces the service (the admin API refuses them with 409 immutable). */
export const backendServiceReplaceOnChange = ["name", "protocol", "port"] as const;

