import { backendProtocolFor, fieldIssues, kinds, type Kind } from "../model";

/**
 * The root project's stack configuration (`Pulumi.<stack>.yaml`, namespace `ballast`) and its
 * translation into the objects to deploy. Pure: no Pulumi calls, so it can be judged before any
 * resource is registered.
 *
 * ```yaml
 * config:
 *   ballast:serverGroups:            # groups shared by several services (optional)
 *     <key>: { type: virtual | availability, servers: [...], name?, adopt? }
 *   ballast:services:                # backend services, each with its servers and health check
 *     <key>:
 *       protocol: http | tcp
 *       port: 9101
 *       # ...every other BackendService field (scheduler, sessionPersistence, slowStart, ...)
 *       servers: [{ address, port?, weight?, description? }]   # the service's own virtual group, or
 *       serverGroup: <key of ballast:serverGroups, or the name of a group on the balancer>
 *       healthCheck: { protocol: HTTP | TCP, path?, interval?, ... }
 *       name?: <explicit name>       # default: autonamed <key>-<7 hex>
 *       adopt?: true                 # take over an existing object of that name
 *   ballast:listeners:
 *     <key>: { protocol, port, service: <key of ballast:services, or a service name>, certificate?, name?, adopt? }
 * ```
 *
 * A `service` or `serverGroup` that is not a key of this stack's config is the name of an object
 * that something else owns (another stack, or an operator); it must exist when `pulumi up` runs.
 */

/** Config keys of the program (all in the `ballast` namespace). */
export const CONFIG_KEYS = { serverGroups: "serverGroups", services: "services", listeners: "listeners" } as const;

/** A mistake in the stack configuration: the config path (`ballast:services.web.port`) and what is wrong. */
export interface ConfigIssue {
  path: string;
  message: string;
}

/** A reference from one planned object to another: a key of this stack's config, or an external name. */
export type Ref = { key: string } | { name: string };

interface Planned {
  /** Pulumi logical name of the resource. */
  logicalName: string;
  /** Where the object is written in the stack config, for messages. */
  configPath: string;
  /** Explicit name on the balancer; absent = autonamed from the logical name. */
  name?: string;
  adopt?: boolean;
  /** The object's model fields, without name and references. */
  fields: Record<string, unknown>;
}

export interface PlannedGroup extends Planned {
  key: string;
}

export interface PlannedService extends Planned {
  key: string;
  /** The group behind the service: its own (`servers`), a shared one, an external one, or none. */
  group?: Ref;
  healthCheck?: Planned;
}

export interface PlannedListener extends Planned {
  key: string;
  service: Ref;
}

export interface StackPlan {
  /** Shared groups and the services' own groups (key `<service>-pool`). */
  groups: PlannedGroup[];
  services: PlannedService[];
  listeners: PlannedListener[];
}

export interface RawStackConfig {
  serverGroups?: unknown;
  services?: unknown;
  listeners?: unknown;
}

/** Placeholder standing for a name not known before deployment (autonames, references by key). */
const PLACEHOLDER_NAME = "placeholder";
/** Config fields of each entry that are not model fields. */
const COMMON_EXTRA = ["name", "adopt"];

/**
 * Reads the stack config into a plan and validates every object with the model's schemas (the
 * ones the provider's `check` and the data plane use), returning every issue at once with its
 * config path. The plan is only meant to be deployed when there are no issues.
 */
export function planStack(raw: RawStackConfig): { plan: StackPlan; issues: ConfigIssue[] } {
  const issues: ConfigIssue[] = [];
  const plan: StackPlan = { groups: [], services: [], listeners: [] };
  const groups = entries(raw.serverGroups, `ballast:${CONFIG_KEYS.serverGroups}`, issues);
  const services = entries(raw.services, `ballast:${CONFIG_KEYS.services}`, issues);
  const listeners = entries(raw.listeners, `ballast:${CONFIG_KEYS.listeners}`, issues);

  for (const [key, entry, path] of groups) {
    const g = planned(key, entry, path, issues);
    plan.groups.push({ ...g, key, fields: { type: "virtual", ...g.fields } });
  }

  const serviceProtocols = new Map<string, unknown>();
  for (const [key, entry, path] of services) {
    const { servers, serverGroup, healthCheck, ...rest } = entry;
    const s: PlannedService = { ...planned(key, rest, path, issues), key };
    serviceProtocols.set(key, rest.protocol);
    if (servers !== undefined && serverGroup !== undefined) {
      issues.push({ path: `${path}.servers`, message: "give either servers (the service's own group) or serverGroup, not both" });
    } else if (servers !== undefined) {
      const groupKey = `${key}-pool`;
      if (groups.some(([k]) => k === groupKey)) {
        issues.push({ path: `${path}.servers`, message: `the service's own group would be called ${groupKey}, like a key of ballast:serverGroups; rename one` });
      }
      plan.groups.push({ key: groupKey, logicalName: groupKey, configPath: path, fields: { type: "virtual", servers } });
      s.group = { key: groupKey };
    } else if (serverGroup !== undefined) {
      s.group = ref(serverGroup, groups.map(([k]) => k), `${path}.serverGroup`, issues);
    }
    if (healthCheck !== undefined) {
      if (!isRecord(healthCheck)) issues.push({ path: `${path}.healthCheck`, message: "must be a map of health check fields" });
      else s.healthCheck = planned(key, healthCheck, `${path}.healthCheck`, issues);
    }
    plan.services.push(s);
  }

  const ports = new Map<unknown, string>();
  for (const [key, entry, path] of listeners) {
    const { service, ...rest } = entry;
    const l = planned(key, rest, path, issues);
    const serviceRef = ref(service, services.map(([k]) => k), `${path}.service`, issues);
    if (serviceRef && "key" in serviceRef) {
      const svcProtocol = serviceProtocols.get(serviceRef.key);
      const wanted = typeof rest.protocol === "string" && ["http", "https", "tcp", "tls"].includes(rest.protocol)
        ? backendProtocolFor(rest.protocol as "http")
        : undefined;
      if (wanted !== undefined && typeof svcProtocol === "string" && svcProtocol !== wanted) {
        issues.push({ path: `${path}.service`, message: `a ${String(rest.protocol)} listener needs a ${wanted} service; ${serviceRef.key} is ${svcProtocol}` });
      }
    }
    if (typeof rest.port === "number") {
      const other = ports.get(rest.port);
      if (other !== undefined) issues.push({ path: `${path}.port`, message: `port ${rest.port} is already used by listener ${other}` });
      else ports.set(rest.port, key);
    }
    plan.listeners.push({ ...l, key, service: serviceRef ?? { name: PLACEHOLDER_NAME } });
  }

  for (const g of plan.groups) validateObject("server-groups", g, {}, issues);
  for (const s of plan.services) {
    validateObject("backend-services", s, s.group ? { serverGroup: PLACEHOLDER_NAME } : {}, issues);
    if (s.healthCheck) validateObject("health-checks", s.healthCheck, { backendService: PLACEHOLDER_NAME }, issues);
  }
  for (const l of plan.listeners) validateObject("listeners", l, { backendService: PLACEHOLDER_NAME }, issues, { backendService: "service" });
  return { plan, issues };
}

/** The issues as one message, one line per issue, for `pulumi preview` output. */
export function formatIssues(issues: ReadonlyArray<ConfigIssue>): string {
  const lines = issues.map((i) => `  ${i.path}: ${i.message}`);
  return `the stack configuration has ${issues.length} error${issues.length === 1 ? "" : "s"}; nothing was deployed:\n${lines.join("\n")}`;
}

function entries(value: unknown, path: string, issues: ConfigIssue[]): [string, Record<string, unknown>, string][] {
  if (value === undefined || value === null) return [];
  if (!isRecord(value)) {
    issues.push({ path, message: "must be a map from keys to objects" });
    return [];
  }
  const out: [string, Record<string, unknown>, string][] = [];
  for (const [key, entry] of Object.entries(value)) {
    const entryPath = `${path}.${key}`;
    if (!/^[A-Za-z][A-Za-z0-9_-]{0,62}$/.test(key)) {
      issues.push({ path: entryPath, message: "keys must be 1-63 letters, digits, _ or -, starting with a letter (they become Pulumi resource names)" });
    } else if (!isRecord(entry)) {
      issues.push({ path: entryPath, message: "must be a map of fields" });
    } else {
      out.push([key, entry, entryPath]);
    }
  }
  return out;
}

function planned(logicalName: string, entry: Record<string, unknown>, configPath: string, issues: ConfigIssue[]): Planned {
  const fields: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(entry)) if (!COMMON_EXTRA.includes(k)) fields[k] = v;
  const p: Planned = { logicalName, configPath, fields };
  if (entry.name !== undefined) p.name = entry.name as string;
  if (entry.adopt !== undefined) {
    if (typeof entry.adopt !== "boolean") issues.push({ path: `${configPath}.adopt`, message: "must be true or false" });
    else p.adopt = entry.adopt;
  }
  if (p.adopt && p.name === undefined) {
    issues.push({ path: `${configPath}.adopt`, message: "needs an explicit name: the name of the existing object to take over" });
  }
  return p;
}

function ref(value: unknown, keys: string[], path: string, issues: ConfigIssue[]): Ref | undefined {
  if (typeof value !== "string" || value === "") {
    issues.push({ path, message: "is required: a key of this stack's config, or the name of an object on the balancer" });
    return undefined;
  }
  return keys.includes(value) ? { key: value } : { name: value };
}

/**
 * Validates one object with its kind's schema. Unknown names (autonames, references by key) are
 * stood in for by a valid placeholder; issue paths are mapped back to the config (`rename` maps a
 * model field to its config spelling, e.g. a listener's `backendService` is written `service`).
 */
function validateObject(
  kind: Kind,
  p: Planned & { group?: Ref; service?: Ref },
  refs: Record<string, string>,
  issues: ConfigIssue[],
  rename: Record<string, string> = {},
): void {
  const external = p.group && "name" in p.group ? { serverGroup: p.group.name } : p.service && "name" in p.service ? { backendService: p.service.name } : {};
  const body = { ...p.fields, ...refs, ...external, name: p.name ?? PLACEHOLDER_NAME };
  const result = kinds[kind].schema.safeParse(body);
  if (result.success) return;
  for (const issue of fieldIssues(result.error)) {
    const [head, ...rest] = issue.path.split(/(?=[.[])/);
    const field = rename[head ?? ""] ?? head;
    const path = [field, ...rest].join("");
    issues.push({ path: path ? `${p.configPath}.${path}` : p.configPath, message: issue.message });
  }
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}
