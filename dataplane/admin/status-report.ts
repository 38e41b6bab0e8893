import { serverLabel } from "../engine/core/server-health";
import type { TrafficRuntime, ServerStatus } from "../runtime/traffic-runtime";
import type { ConfigStore } from "../store";
import { MIN_SPAN_MS, ServerRates, rateKey, totalsOf } from "./server-rates";

/**
 * What the status page and `ballast status` show (`GET /v1/status`): the replica, the configuration
 * generation, every listener with the service it sends to, and every service's servers with their
 * state in words. One report is built per request from the store's snapshot, the runtime's
 * per-server status and the rates of `ServerRates`.
 */

/**
 * A server's state in words, first match wins: `draining` (connections or requests still finishing
 * after it left the service or went to weight 0), `down` (its health check failed), `weight 0`
 * (configured so: no new traffic), `slow start` (ramping up), `up` (healthy, or not checked).
 */
export type ServerState = "draining" | "down" | "weight 0" | "slow start" | "up";

export interface StatusServer extends ServerStatus {
  /** `address:port` (IPv6 in brackets). */
  server: string;
  state: ServerState;
  /** The state as shown: `up`, `down`, `weight 0`, `slow start 40%`, `draining 42s left`. */
  stateText: string;
  /** Over the last few seconds (see server-rates.ts); null when not measured. For tcp: connections. */
  requestsPerSecond: number | null;
  errorsPerSecond: number | null;
}

export interface StatusService {
  name: string;
  protocol: "http" | "tcp";
  scheduler: string;
  /** Name of its health check, or null. */
  healthCheck: string | null;
  serverGroup: string | null;
  servers: StatusServer[];
}

export interface StatusListener {
  name: string;
  protocol: string;
  port: number;
  service: string;
}

export interface StatusReport {
  replica: string;
  generation: number;
  /** ISO time the report was made. */
  at: string;
  listeners: StatusListener[];
  /** Every backend service, by name, including those no listener sends to. */
  services: StatusService[];
}

export interface StatusSources {
  store: ConfigStore;
  runtime: TrafficRuntime;
  replica: string;
  rates: ServerRates;
}

export function stateOf(line: ServerStatus, now: number): { state: ServerState; stateText: string } {
  if (line.draining && line.drainingUntil) {
    const left = Math.max(0, Math.ceil((Date.parse(line.drainingUntil) - now) / 1000));
    return { state: "draining", stateText: `draining ${left}s left` };
  }
  if (line.health === "unhealthy") return { state: "down", stateText: "down" };
  if (line.weight === 0) return { state: "weight 0", stateText: "weight 0" };
  if (line.slowStart !== undefined) return { state: "slow start", stateText: `slow start ${line.slowStart}%` };
  return { state: "up", stateText: "up" };
}

/** The rates, sampling twice when there is no recent sample; undefined when a worker does not answer. */
async function measureRates(runtime: TrafficRuntime, rates: ServerRates) {
  try {
    let dumps = await runtime.metrics();
    if (!rates.hasBaseline(Date.now())) {
      rates.sample(Date.now(), totalsOf(dumps));
      await new Promise((resolve) => setTimeout(resolve, MIN_SPAN_MS));
      dumps = await runtime.metrics();
    }
    return rates.sample(Date.now(), totalsOf(dumps));
  } catch {
    // The page still shows states and counts; the rates read "–".
    return undefined;
  }
}

export async function buildStatusReport(sources: StatusSources): Promise<StatusReport> {
  const { store, runtime, rates } = sources;
  const measured = await measureRates(runtime, rates);
  const snapshot = store.snapshot();
  const now = Date.now();
  const checks = new Map(store.list("health-checks").map((h) => [h.backendService, h.name]));
  const services: StatusService[] = [];
  for (const svc of Object.values(snapshot.services).sort((a, b) => a.name.localeCompare(b.name))) {
    const lines = await runtime.serviceStatus(svc.name);
    services.push({
      name: svc.name,
      protocol: svc.protocol,
      scheduler: svc.scheduler,
      healthCheck: checks.get(svc.name) ?? null,
      serverGroup: svc.groupName,
      servers: lines.map((line) => {
        const server = serverLabel(line.address, line.port);
        const rate = measured?.get(rateKey(svc.name, server));
        return {
          ...line,
          server,
          ...stateOf(line, now),
          requestsPerSecond: measured ? (rate?.requestsPerSecond ?? 0) : null,
          errorsPerSecond: measured ? (rate?.errorsPerSecond ?? 0) : null,
        };
      }),
    });
  }
  return {
    replica: sources.replica,
    generation: store.revision,
    at: new Date(now).toISOString(),
    listeners: snapshot.listeners.map((l) => ({ name: l.name, protocol: l.protocol, port: l.port, service: l.service })),
    services,
  };
}
