import { ago, checkText } from "../admin/status-page";
import type { StatusReport } from "../admin/status-report";
import { AdminClient, connection } from "./admin-client";
import { out, runCommand } from "./command";
import { EXIT } from "./exit-codes";
import { CONNECTION_HELP, CONNECTION_OPTIONS } from "./export";

/** `ballast status`: the status page as a terminal table (from `GET /v1/status`), or its JSON. */
export function statusCommand(args: string[]): Promise<number> {
  return runCommand(
    {
      name: "status",
      usage: "[--json] [--admin-url URL] [--token TOKEN]",
      help: `Prints what the status page shows: per listener, its backend service's servers with their state
in words (up, down, draining 42s left, slow start 40%, weight 0), configured and effective weight,
active connections and requests, requests and errors per second, the last health check and the last
change of state; and the replica and configuration generation.

  --json           the report as JSON (GET /v1/status) instead of a table
${CONNECTION_HELP}`,
      options: { json: { type: "boolean" }, ...CONNECTION_OPTIONS },
      positionals: 0,
    },
    args,
    async (values) => {
      const { url, token } = connection(values);
      const report = await new AdminClient(url, token).get<StatusReport>("/v1/status");
      out(values.json ? JSON.stringify(report, null, 2) : renderStatusTable(report));
      return EXIT.ok;
    },
  );
}

const HEAD = ["LISTENER", "SERVICE", "SERVER", "STATE", "WEIGHT", "EFFECTIVE", "CONNS", "REQS", "REQ/S", "ERR/S", "LAST CHECK", "CHANGED"];

export function renderStatusTable(report: StatusReport): string {
  const now = Date.parse(report.at);
  const rows: string[][] = [];
  const routed = new Map<string, string[]>();
  for (const l of report.listeners) routed.set(l.service, [...(routed.get(l.service) ?? []), `${l.name}:${l.port}`]);
  for (const svc of report.services) {
    const listeners = routed.get(svc.name)?.join(",") ?? "-";
    if (svc.servers.length === 0) rows.push([listeners, svc.name, "(no servers)", "", "", "", "", "", "", "", "", ""]);
    for (const s of svc.servers) {
      rows.push([
        listeners,
        svc.name,
        s.server + (s.removed ? " (removed)" : ""),
        s.stateText,
        String(s.weight),
        String(s.effectiveWeight),
        String(s.activeConnections),
        String(s.activeRequests),
        s.requestsPerSecond === null ? "-" : String(s.requestsPerSecond),
        s.errorsPerSecond === null ? "-" : String(s.errorsPerSecond),
        checkText(s, svc, now),
        s.since ? ago(Date.parse(s.since), now) : "-",
      ]);
    }
  }
  const widths = HEAD.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (cells: string[]) => cells.map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i]!))).join("  ").trimEnd();
  const title = `replica ${report.replica} · configuration generation ${report.generation} · ${report.at}`;
  return [title, "", line(HEAD), ...rows.map(line)].join("\n") + (rows.length === 0 ? "\n(no backend services)" : "");
}
