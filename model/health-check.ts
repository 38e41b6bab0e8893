import * as z from "zod";
import { Name, Port, intRange, seconds, unknownKeyIn } from "./common";

/**
 * HealthCheck: active probing of every server of one backend service. Discriminated by `protocol`.
 * Without a health check every server with weight > 0 counts as healthy.
 */

/** Status classes an HTTP check accepts. */
export const StatusClass = z.enum(["2xx", "3xx", "4xx"], { error: "must be one of 2xx, 3xx, 4xx" });
export type StatusClass = z.infer<typeof StatusClass>;

/** Most path levels allowed (`/a/b/c/d/e`) and longest path, from the ALB health-check limits. */
export const MAX_CHECK_PATH_LEVELS = 5;
export const MAX_CHECK_PATH_LENGTH = 100;

/** Counts the levels of a check path: the non-empty segments before any query string. */
export function pathLevels(path: string): number {
  const bare = path.split("?")[0] ?? "";
  return bare.split("/").filter((s) => s !== "").length;
}

export const CheckPath = z
  .string()
  .max(MAX_CHECK_PATH_LENGTH, { error: `must be at most ${MAX_CHECK_PATH_LENGTH} characters` })
  .refine((p) => p.startsWith("/"), { error: "must start with /" })
  .refine((p) => !/[\s]/.test(p), { error: "must not contain whitespace" })
  .refine((p) => /^[\x21-\x7e]*$/.test(p), { error: "must be printable ASCII" })
  .refine((p) => pathLevels(p) <= MAX_CHECK_PATH_LEVELS, {
    error: `must have at most ${MAX_CHECK_PATH_LEVELS} levels (like /a/b/c/d/e)`,
  });

const common = {
  name: Name.describe("Name on the balancer. Changing it replaces the health check."),
  backendService: Name.describe("The BackendService this check belongs to (one check per service). Changing it replaces the check."),
  port: Port.optional().describe("Port to probe, 1-65535; absent = each server's own port."),
  timeout: seconds(2, 60).default(5).describe("Seconds one probe may take, 2-60. Default 5."),
  interval: seconds(5, 300).default(10).describe("Seconds between probes of one server, 5-300. Default 10."),
  unhealthyThreshold: intRange(1, 5)
    .default(3)
    .describe("Consecutive failures that take a healthy server out, 1-5. Default 3."),
  healthyThreshold: intRange(1, 5)
    .default(3)
    .describe("Consecutive successes that bring an unhealthy server back, 1-5. Default 3."),
};

export const HttpHealthCheck = z.strictObject(
  {
    ...common,
    protocol: z.literal("HTTP"),
    path: CheckPath.default("/").describe("Path of the GET probe: starts with /, at most 5 levels, 100 characters. Default /."),
    statusCodes: z
      .array(StatusClass)
      .min(1, { error: "must name at least one status class" })
      .refine((a) => new Set(a).size === a.length, { error: "must not repeat a status class" })
      .default(["2xx", "3xx"])
      .describe("Status classes that pass, a non-empty subset of 2xx, 3xx, 4xx. Default [2xx, 3xx]."),
  },
  { error: unknownKeyIn("an HTTP health check") },
);

export const TcpHealthCheck = z.strictObject(
  {
    ...common,
    protocol: z.literal("TCP"),
  },
  { error: unknownKeyIn("a TCP health check") },
);

export const HealthCheck = z.discriminatedUnion("protocol", [HttpHealthCheck, TcpHealthCheck], {
  error: (iss) => (iss.input === undefined ? "is required" : "must be one of HTTP, TCP"),
});
export type HealthCheck = z.output<typeof HealthCheck>;
export type HealthCheckInput = z.input<typeof HealthCheck>;

export const healthCheckReplaceOnChange = ["name", "backendService"] as const;
