import fs from "node:fs";

/**
 * The data plane's logger: one JSON object per line on stdout, in pino's format (`level` as pino's
 * number, `time` in epoch milliseconds, `pid`, the child bindings, the object's fields, then `msg`),
 * so log pipelines written for pino read it unchanged. The one root logger of a process is made by
 * `createLogger`; parts take `log.child({ component })`. Objects first, then the message.
 *
 * Written here rather than taken from pino: pino and what it loads at start (its transport
 * machinery: worker_threads, thread-stream, sonic-boom, assert) were 1.5 MB of a 60 MB idle
 * process (docs/benchmarks.md, Memory), and the data plane uses none of the rest.
 *
 * - **Redaction**: a field named `token`, `authorization` or `privateKey` is written as
 *   `"[redacted]"` at any depth (pino's paths reached two levels).
 * - **Errors** (any `Error` value, not only under `err`): `type`, `message`, `stack`, their own
 *   fields (`code`, `errno`, `syscall`, …) and `cause`.
 * - **Safe**: cycles become `"[Circular]"`, bigints strings, nesting deeper than 8 `"[Object]"`; a
 *   log call never throws.
 * - **Output** (`FdWriter`): lines are queued and written by `fs.write` on the thread pool, so a slow
 *   reader of stdout never blocks the event loop. What is still queued at exit is written
 *   synchronously; beyond 16 MB queued, lines are dropped and counted, and a warning says how many.
 */

export const LEVELS = { trace: 10, debug: 20, info: 30, warn: 40, error: 50, fatal: 60, silent: Infinity } as const;
export type LevelName = keyof typeof LEVELS;

type LogFn = {
  (obj: object, msg?: string): void;
  (msg: string): void;
};

export interface Logger {
  trace: LogFn;
  debug: LogFn;
  info: LogFn;
  warn: LogFn;
  error: LogFn;
  fatal: LogFn;
  /** A logger whose lines also carry `bindings`. */
  child(bindings: Record<string, unknown>): Logger;
  /** Calls `cb` once every line logged so far has been written. */
  flush(cb: () => void): void;
  isLevelEnabled(level: LevelName): boolean;
}

/** Where lines go: each is one JSON object and its newline. */
export interface Destination {
  write(line: string): void;
  flush?(cb: () => void): void;
}

const REDACTED_KEYS = new Set(["token", "authorization", "privateKey"]);
const CENSOR = "[redacted]";
const MAX_DEPTH = 8;

/** `value` as plain JSON data: redacted, errors expanded, cycles cut. */
function plain(value: unknown, key: string, ancestors: object[]): unknown {
  if (REDACTED_KEYS.has(key) && value !== undefined) return CENSOR;
  if (typeof value === "bigint") return value.toString();
  if (typeof value !== "object" || value === null) return value;
  if (ancestors.includes(value)) return "[Circular]";
  if (ancestors.length >= MAX_DEPTH) return "[Object]";
  if (!(value instanceof Error) && typeof (value as { toJSON?: unknown }).toJSON === "function") {
    return plain((value as { toJSON(): unknown }).toJSON(), key, ancestors);
  }
  ancestors.push(value);
  try {
    if (Array.isArray(value)) return value.map((v, i) => plain(v, String(i), ancestors));
    const out: Record<string, unknown> = {};
    if (value instanceof Error) {
      out.type = value.name;
      out.message = value.message;
      out.stack = value.stack;
    }
    for (const k of Object.keys(value)) out[k] = plain((value as Record<string, unknown>)[k], k, ancestors);
    if (value instanceof Error && value.cause !== undefined) out.cause = plain(value.cause, "cause", ancestors);
    return out;
  } finally {
    ancestors.pop();
  }
}

/** One log line. Never throws: a field that cannot be serialized is replaced by a note. */
export function formatLine(level: number, bindings: Record<string, unknown>, obj: object | undefined, msg: string | undefined): string {
  const record: Record<string, unknown> = { level, time: Date.now(), ...bindings };
  try {
    // Inside the try: a getter or toJSON of a logged object may throw.
    if (obj) Object.assign(record, plain(obj, "", []) as Record<string, unknown>);
    if (msg !== undefined) record.msg = msg;
    return JSON.stringify(record) + "\n";
  } catch (err) {
    return JSON.stringify({ level, time: record.time, ...bindings, msg, logError: `cannot serialize: ${(err as Error).message}` }) + "\n";
  }
}

/** Shared by a root logger and its children. */
interface Core {
  threshold: number;
  dest: Destination;
}

class JsonLogger implements Logger {
  // Own properties (closures reading `core` when called), so a test can replace one.
  trace = this.method(LEVELS.trace);
  debug = this.method(LEVELS.debug);
  info = this.method(LEVELS.info);
  warn = this.method(LEVELS.warn);
  error = this.method(LEVELS.error);
  fatal = this.method(LEVELS.fatal);

  constructor(
    private readonly core: Core,
    private readonly bindings: Record<string, unknown>,
  ) {}

  private method(level: number): LogFn {
    return (a: object | string, b?: string) => {
      if (level < this.core.threshold) return;
      const line = typeof a === "string" ? formatLine(level, this.bindings, undefined, a) : formatLine(level, this.bindings, a, b);
      this.core.dest.write(line);
    };
  }

  child(bindings: Record<string, unknown>): Logger {
    return new JsonLogger(this.core, { ...this.bindings, ...(plain(bindings, "", []) as Record<string, unknown>) });
  }

  flush(cb: () => void): void {
    if (this.core.dest.flush) this.core.dest.flush(cb);
    else cb();
  }

  isLevelEnabled(level: LevelName): boolean {
    return LEVELS[level] >= this.core.threshold;
  }
}

/** At most this much output queued; beyond it lines are dropped (and counted). */
const MAX_QUEUED_BYTES = 16 * 1024 * 1024;
/** Wait before writing again after EAGAIN (a non-blocking stdout that is full). */
const EAGAIN_RETRY_MS = 10;

/**
 * Writes lines to a file descriptor without blocking the event loop: one `fs.write` at a time on
 * the thread pool, lines arriving meanwhile queued and written together. At process exit the queue
 * is written synchronously.
 */
export class FdWriter implements Destination {
  private queue: string[] = [];
  private queuedBytes = 0;
  private writing = false;
  private dropped = 0;
  private waiters: Array<() => void> = [];

  constructor(
    private readonly fd: number,
    private readonly maxQueuedBytes = MAX_QUEUED_BYTES,
  ) {
    process.on("exit", () => this.flushSync());
  }

  write(line: string): void {
    if (this.queuedBytes + line.length > this.maxQueuedBytes) {
      this.dropped++;
      return;
    }
    this.queue.push(line);
    this.queuedBytes += line.length;
    if (!this.writing) this.next();
  }

  flush(cb: () => void): void {
    if (!this.writing) cb();
    else this.waiters.push(cb);
  }

  /** Writes what is queued now, synchronously (at exit). Gives up on errors other than EAGAIN. */
  flushSync(): void {
    const buf = this.take();
    let off = 0;
    for (let attempts = 0; off < buf.length && attempts < 1000; attempts++) {
      try {
        off += fs.writeSync(this.fd, buf, off, buf.length - off);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== "EAGAIN") return;
      }
    }
  }

  private noteDropped(): void {
    if (this.dropped === 0) return;
    const line = formatLine(LEVELS.warn, { pid: process.pid }, { dropped: this.dropped }, "log lines dropped: the log output did not keep up");
    this.dropped = 0;
    this.queue.push(line);
    this.queuedBytes += line.length;
  }

  /** Everything queued (with the dropped-lines warning, if due), as one buffer; the queue empties. */
  private take(): Buffer {
    this.noteDropped();
    const buf = Buffer.from(this.queue.join(""));
    this.queue = [];
    this.queuedBytes = 0;
    return buf;
  }

  private next(): void {
    const buf = this.take();
    if (buf.length === 0) {
      this.writing = false;
      for (const cb of this.waiters.splice(0)) cb();
      return;
    }
    this.writing = true;
    this.writeFrom(buf, 0);
  }

  private writeFrom(buf: Buffer, off: number): void {
    fs.write(this.fd, buf, off, buf.length - off, null, (err, n) => {
      if (err) {
        if (err.code === "EAGAIN") setTimeout(() => this.writeFrom(buf, off), EAGAIN_RETRY_MS).unref();
        // Anything else (EPIPE, EBADF): there is nowhere to write; these lines are lost.
        else this.next();
        return;
      }
      if (off + n < buf.length) this.writeFrom(buf, off + n);
      else this.next();
    });
  }
}

/** The root logger of a data plane process: JSON lines on stdout (or `destination`), `pid` on every line. */
export function createLogger(level: string = "info", destination?: Destination): Logger {
  const threshold = (LEVELS as Record<string, number>)[level];
  if (threshold === undefined) throw new Error(`unknown log level '${level}': one of ${Object.keys(LEVELS).join(", ")}`);
  return new JsonLogger({ threshold, dest: destination ?? new FdWriter(1) }, { pid: process.pid });
}

/** A logger that drops everything, for unit tests of parts. */
export function silentLogger(): Logger {
  return new JsonLogger({ threshold: Infinity, dest: { write: () => undefined } }, {});
}
