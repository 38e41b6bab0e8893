import { createHash } from "node:crypto";
import type { BackendService, Certificate, HealthCheck, Listener, ServerGroup } from "../../model";

/**
 * The frozen configuration the traffic path reads: listeners resolved to their service, services
 * resolved to their servers and health check. Built once per admin change by the primary process
 * (`buildSnapshot`), sent whole to every worker over IPC (so it is plain JSON), and swapped in whole.
 * The traffic path never validates; it trusts the snapshot.
 */

/** One server as a service sees it: the group's entry with the port defaulted to the service's. */
export interface ServerSnapshot {
  /** `address|port` with the port resolved: the identity used by health, stats and draining. */
  readonly key: string;
  /** Opaque, stable id for cookies: a hash of service, address and port (never the raw IP). */
  readonly id: string;
  readonly address: string;
  readonly port: number;
  /** 0–100; availability servers carry 100. */
  readonly weight: number;
  /** Only in availability groups. */
  readonly role?: "primary" | "secondary";
}

export interface ServiceSnapshot {
  readonly name: string;
  readonly protocol: "http" | "tcp";
  readonly port: number;
  readonly scheduler: BackendService["scheduler"];
  readonly groupName: string | null;
  readonly groupType: ServerGroup["type"] | null;
  readonly servers: readonly ServerSnapshot[];
  readonly connectionDrainTimeout: number;
  /** http: cookie insertion; tcp: source-ip stickiness. */
  readonly sessionPersistence: BackendService["sessionPersistence"] | undefined;
  readonly proxyProtocol: "off" | "v1" | "v2";
  readonly forwardedHeaders: readonly string[];
  readonly slowStart: number | undefined;
  readonly healthCheck: HealthCheck | undefined;
}

export interface ListenerSnapshot {
  readonly name: string;
  readonly protocol: Listener["protocol"];
  readonly port: number;
  readonly service: string;
  readonly certificate?: Certificate;
  /** The access log with its defaults filled (docs/access-log.md). */
  readonly accessLog: ListenerAccessLog;
  /** Forward request headers whose name has '_' (else they are dropped); always false on tcp/tls. */
  readonly underscoresInHeaders: boolean;
}

export interface ListenerAccessLog {
  readonly enabled: boolean;
  /** 0-1. */
  readonly sampleRate: number;
  /** Always false on tcp/tls listeners. */
  readonly includeQuery: boolean;
}

export interface Snapshot {
  /** Increases by one per admin change; a worker ignores a snapshot older than the one it has. */
  readonly generation: number;
  readonly listeners: readonly ListenerSnapshot[];
  readonly services: Readonly<Record<string, ServiceSnapshot>>;
}

/** The stored objects a snapshot is built from (the store's state, without versions being needed). */
export interface ConfigObjects {
  listeners: readonly Listener[];
  backendServices: readonly BackendService[];
  serverGroups: readonly ServerGroup[];
  healthChecks: readonly HealthCheck[];
}

export function serverKey(address: string, port: number): string {
  return `${address}|${port}`;
}

/** Opaque cookie id of a server within a service: stable across processes with the same config. */
export function serverId(service: string, address: string, port: number): string {
  return createHash("sha256").update(`${service}\0${address}\0${port}`).digest("base64url").slice(0, 16);
}

function deepFreeze<T>(value: T): T {
  if (value && typeof value === "object" && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const v of Object.values(value)) deepFreeze(v);
  }
  return value;
}

export function buildSnapshot(objects: ConfigObjects, generation: number): Snapshot {
  const groups = new Map(objects.serverGroups.map((g) => [g.name, g]));
  const checks = new Map(objects.healthChecks.map((h) => [h.backendService, h]));
  const services: Record<string, ServiceSnapshot> = {};
  for (const svc of objects.backendServices) {
    const group = svc.serverGroup ? groups.get(svc.serverGroup) : undefined;
    const servers: ServerSnapshot[] = (group?.servers ?? []).map((s) => {
      const port = s.port ?? svc.port;
      const base = { key: serverKey(s.address, port), id: serverId(svc.name, s.address, port), address: s.address, port };
      return "role" in s ? { ...base, weight: 100, role: s.role } : { ...base, weight: s.weight };
    });
    services[svc.name] = {
      name: svc.name,
      protocol: svc.protocol,
      port: svc.port,
      scheduler: svc.scheduler,
      groupName: group?.name ?? null,
      groupType: group?.type ?? null,
      servers,
      connectionDrainTimeout: svc.connectionDrainTimeout,
      sessionPersistence: svc.sessionPersistence,
      proxyProtocol: svc.protocol === "tcp" ? svc.proxyProtocol : "off",
      forwardedHeaders: svc.protocol === "http" ? svc.forwardedHeaders : [],
      slowStart: svc.protocol === "http" ? svc.slowStart : undefined,
      healthCheck: checks.get(svc.name),
    };
  }
  const listeners: ListenerSnapshot[] = objects.listeners.map((l) => ({
    name: l.name,
    protocol: l.protocol,
    port: l.port,
    service: l.backendService,
    accessLog: {
      enabled: l.accessLog?.enabled ?? true,
      sampleRate: l.accessLog?.sampleRate ?? 1,
      includeQuery: (l.accessLog && "includeQuery" in l.accessLog && l.accessLog.includeQuery) || false,
    },
    underscoresInHeaders: ("underscoresInHeaders" in l && l.underscoresInHeaders) || false,
    ...("certificate" in l && l.certificate ? { certificate: l.certificate } : {}),
  }));
  return deepFreeze({ generation, listeners, services });
}
