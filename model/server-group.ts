import * as z from "zod";
import { Address, MAX_DESCRIPTION_LENGTH, MAX_SERVERS_PER_GROUP, Name, Port, intRange, unknownKeyIn } from "./common";

/**
 * ServerGroup: the servers behind one or more backend services. Discriminated by `type`:
 * `virtual` groups hold 0–1000 weighted servers; `availability` groups hold exactly a primary and a
 * secondary that takes over while the primary is unhealthy.
 */

const serverCommon = {
  address: Address.describe("IPv4 or IPv6 address, or DNS name, of the server."),
  port: Port.optional().describe("Port of the server, 1-65535; absent = the backend service's port."),
  description: z
    .string()
    .max(MAX_DESCRIPTION_LENGTH, { error: `must be at most ${MAX_DESCRIPTION_LENGTH} characters` })
    .optional()
    .describe("Free text for people."),
};

export const VirtualServer = z.strictObject(
  {
    ...serverCommon,
    weight: intRange(0, 100)
      .default(100)
      .describe("Relative share of new requests, 0-100. Default 100; 0 = no new requests (existing ones drain)."),
  },
  { error: unknownKeyIn("a server of a virtual group") },
);
export type VirtualServer = z.output<typeof VirtualServer>;

export const AvailabilityServer = z.strictObject(
  {
    ...serverCommon,
    role: z.enum(["primary", "secondary"], { error: "must be primary or secondary" }),
  },
  { error: unknownKeyIn("a server of an availability group") },
);
export type AvailabilityServer = z.output<typeof AvailabilityServer>;

/** The identity of a server inside a group: its address and (possibly defaulted) port. */
export function serverKey(server: { address: string; port?: number | undefined }): string {
  return `${server.address.toLowerCase()}|${server.port ?? "default"}`;
}

function uniqueServers(servers: ReadonlyArray<{ address: string; port?: number | undefined }>, ctx: z.RefinementCtx) {
  const seen = new Map<string, number>();
  servers.forEach((s, i) => {
    const key = serverKey(s);
    const first = seen.get(key);
    if (first !== undefined) {
      ctx.addIssue({
        code: "custom",
        path: [i],
        message: `duplicates servers[${first}] (${s.address}${s.port === undefined ? "" : `:${s.port}`}): (address, port) must be unique in a group`,
      });
    } else seen.set(key, i);
  });
}

export const VirtualServerGroup = z.strictObject(
  {
    name: Name,
    type: z.literal("virtual").describe("Group type. Changing it replaces the group."),
    servers: z
      .array(VirtualServer)
      .max(MAX_SERVERS_PER_GROUP, { error: `must hold at most ${MAX_SERVERS_PER_GROUP} servers` })
      .superRefine(uniqueServers)
      .default([])
      .describe(`0-${MAX_SERVERS_PER_GROUP} servers, (address, port) unique.`),
  },
  { error: unknownKeyIn("a virtual server group") },
);

export const AvailabilityServerGroup = z.strictObject(
  {
    name: Name,
    type: z.literal("availability").describe("Group type. Changing it replaces the group."),
    servers: z
      .array(AvailabilityServer)
      .length(2, { error: "must hold exactly 2 servers: one primary and one secondary" })
      .superRefine((servers, ctx) => {
        uniqueServers(servers, ctx);
        for (const role of ["primary", "secondary"] as const) {
          const count = servers.filter((s) => s.role === role).length;
          if (count !== 1 && servers.length === 2) {
            ctx.addIssue({ code: "custom", path: [], message: `must hold exactly one ${role} (found ${count})` });
          }
        }
      })
      .describe("Exactly 2 servers: role primary and role secondary."),
  },
  { error: unknownKeyIn("an availability server group") },
);

export const ServerGroup = z.discriminatedUnion("type", [VirtualServerGroup, AvailabilityServerGroup], {
  error: (iss) => (iss.input === undefined ? "is required" : "must be one of virtual, availability"),
});
export type ServerGroup = z.output<typeof ServerGroup>;
export type ServerGroupInput = z.input<typeof ServerGroup>;

export const serverGroupReplaceOnChange = ["name", "type"] as const;
