import { createLogger, type Destination, type Logger } from "../../dataplane/log";

/** A real pino logger writing into memory: the lines as parsed JSON objects, access lines apart. */
export function capturedLog(level = "warn"): { log: Logger; lines: () => Array<Record<string, unknown>>; access: () => Array<Record<string, unknown>>; text: () => string } {
  const out: string[] = [];
  const dest: Destination = { write: (l) => void out.push(l) };
  const lines = () => out.map((l) => JSON.parse(l) as Record<string, unknown>);
  return { log: createLogger(level, dest), lines, access: () => lines().filter((l) => l.msg === "access"), text: () => out.join("") };
}
