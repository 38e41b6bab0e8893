import fs from "node:fs";
import pino from "pino";

/**
 * The data plane's logger: pino, one JSON object per line on stdout (`level` as pino's number,
 * `time` in epoch milliseconds, `pid`, the child bindings, the object's fields, then `msg`). The one
 * root logger of a process is made by `createLogger`; parts take `log.child({ component })`.
 * Objects first, then the message.
 *
 * - **Redaction** (pino's `redact` paths): a field named `token`, `authorization` or `privateKey`
 *   is written as `"[redacted]"` at the top level and up to `REDACT_DEPTH` objects deep, in fields
 *   and in bindings.
 * - **Errors** under `err`: pino's `errWithCause` (type, message, stack, own fields, `cause`).
 * - **Safe**: a log call never throws; if a field cannot be serialized (a throwing getter), the
 *   line is still written, with `logError` saying why, instead of the fields.
 * - **Output** (`LogOutput`): pino's asynchronous destination (sonic-boom), so a slow reader of
 *   stdout never blocks the event loop. What is still queued at exit is written synchronously;
 *   beyond `MAX_QUEUED_BYTES` queued, lines are dropped and counted (`drops`), and a warning says
 *   how many once the output has room again.
 * - **Access lines** (`Logger.access`) share the output but not the redaction: their fields are
 *   built clean (access-log.ts), and redaction's copy would cost every proxied request.
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
  /** This process's access log: `undefined` when the level is `silent`. */
  readonly access: AccessSink | undefined;
}

/** Writes access lines (`"msg":"access"`) to the process's log output, whatever the level. */
export interface AccessSink {
  write(fields: object): void;
}

/** Where lines go: each is one JSON object and its newline. */
export interface Destination {
  write(line: string): void;
  flush?(cb: () => void): void;
}

const REDACTED_KEYS = ["token", "authorization", "privateKey"];
/** Wildcard levels of the redact paths; each level adds work to every (non-access) line. */
const REDACT_DEPTH = 3;
const CENSOR = "[redacted]";
export const ACCESS_MSG = "access";
/** How every access line ends (pino writes `msg` last). */
const ACCESS_END = `"msg":"${ACCESS_MSG}"}\n`;

function redactPaths(): string[] {
  const paths: string[] = [];
  for (const key of REDACTED_KEYS) for (let d = 0, p = key; d <= REDACT_DEPTH; d++, p = `*.${p}`) paths.push(p);
  return paths;
}

/** Lines this process dropped because its output did not keep up. */
export const drops = { lines: 0, access: 0 };

/** At most this much output queued; beyond it lines are dropped (and counted). */
const MAX_QUEUED_BYTES = 16 * 1024 * 1024;
/** Longest a line waits before it is handed to sonic-boom (to be written). */
const HANDOVER_MS = 20;
/** Largest batch handed to sonic-boom at once (its own largest write is 16 KiB). */
const BATCH_CHARS = 16 * 1024;
/** How soon after a drop the warning is tried (it waits while the output is still full). */
const DROP_WARNING_MS = 1000;

/**
 * pino's asynchronous destination on a file descriptor (sonic-boom), with dropped lines counted.
 * `pino.destination` registers the synchronous write of what it holds at process exit.
 *
 * Lines are handed to sonic-boom in batches, every `HANDOVER_MS` or at `BATCH_CHARS`: line by line,
 * sonic-boom measures the UTF-8 length of its growing buffer on every write and starts an `fs.write`
 * whenever the last one is done, and those writes of one or two lines cost more than pino's
 * serializing of an access line (docs/benchmarks.md, Access log).
 */
export class LogOutput implements Destination {
  private readonly stream: ReturnType<typeof pino.destination>;
  private unreported = 0;
  private warningTimer: NodeJS.Timeout | undefined;
  /** Lines not yet handed to sonic-boom (at most `HANDOVER_MS` old, `BATCH_CHARS` long). */
  private pending: string[] = [];
  private pendingChars = 0;
  private scheduled = false;

  constructor(
    private readonly fd: number,
    private readonly maxQueuedBytes = MAX_QUEUED_BYTES,
  ) {
    this.stream = pino.destination({ fd, sync: false, maxLength: maxQueuedBytes, minLength: 0 });
    this.stream.on("drop", (data: string) => {
      // A dropped batch: count its lines, and the access lines among them.
      let lines = 0;
      for (let i = data.indexOf("\n"); i >= 0; i = data.indexOf("\n", i + 1)) lines++;
      drops.lines += lines;
      drops.access += data.split(ACCESS_END).length - 1;
      if (this.unreported === 0) this.armWarning();
      this.unreported += lines;
    });
    // Registered after sonic-boom's own exit handler (which writes what it holds): these are newer.
    process.on("exit", () => this.writePendingSync());
  }

  write(line: string): void {
    this.pending.push(line);
    // A batch is bounded, so that one dropped batch (output full) is a few lines, not a turn's worth.
    if ((this.pendingChars += line.length) >= BATCH_CHARS) return this.handOver();
    if (!this.scheduled) {
      this.scheduled = true;
      setTimeout(this.handOver, HANDOVER_MS).unref();
    }
  }

  private readonly handOver = (): void => {
    this.scheduled = false;
    if (this.pending.length === 0) return;
    const batch = this.pending.length === 1 ? this.pending[0]! : this.pending.join("");
    this.pending = [];
    this.pendingChars = 0;
    this.stream.write(batch);
  };

  /** At exit: the lines of the last turn, synchronously (a non-blocking pipe may say EAGAIN a while). */
  private writePendingSync(): void {
    const buf = Buffer.from(this.pending.join(""));
    this.pending = [];
    let off = 0;
    for (let attempts = 0; off < buf.length && attempts < 100_000; attempts++) {
      try {
        off += fs.writeSync(this.fd, buf, off, buf.length - off);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== "EAGAIN") return;
      }
    }
  }

  /** Calls back once everything queued so far is written (after the dropped-lines warning, if due). */
  flush(cb: () => void): void {
    this.handOver();
    this.warnDropped();
    // sonic-boom's own flush answers at once without `minLength`; "nothing queued, no write in
    // flight" is the condition it emits `drain` on.
    const s = this.stream as unknown as { _len: number; _writing: boolean };
    if (s._len === 0 && !s._writing) return cb();
    this.stream.once("drain", () => this.flush(cb));
  }

  private armWarning(): void {
    this.warningTimer ??= setTimeout(() => {
      this.warningTimer = undefined;
      if (!this.warnDropped()) this.armWarning();
    }, DROP_WARNING_MS).unref();
  }

  /** Queues the dropped-lines warning if there is room for it; false if it must wait. */
  private warnDropped(): boolean {
    if (this.unreported === 0) return true;
    const s = this.stream as unknown as { _len: number };
    if (s._len > this.maxQueuedBytes / 2) return false;
    const dropped = this.unreported;
    this.unreported = 0;
    this.stream.write(`${JSON.stringify({ level: LEVELS.warn, time: Date.now(), pid: process.pid, dropped, msg: "log lines dropped: the log output did not keep up" })}\n`);
    return true;
  }
}

const LEVEL_NAMES = ["trace", "debug", "info", "warn", "error", "fatal"] as const;

class PinoLogger implements Logger {
  // Own properties, so a test can replace one.
  trace = this.method("trace");
  debug = this.method("debug");
  info = this.method("info");
  warn = this.method("warn");
  error = this.method("error");
  fatal = this.method("fatal");

  constructor(
    private readonly p: pino.Logger,
    private readonly dest: Destination,
    readonly access: AccessSink | undefined,
  ) {}

  private method(level: (typeof LEVEL_NAMES)[number]): LogFn {
    return (a: object | string, b?: string) => {
      if (!this.p.isLevelEnabled(level)) return;
      try {
        if (typeof a === "string") this.p[level](a);
        else this.p[level](a, b);
      } catch (err) {
        // A getter or toJSON of a logged object threw (redaction copies the object, then pino
        // serializes it): the line still goes out, without those fields.
        this.p[level]({ logError: `cannot serialize: ${(err as Error).message}` }, typeof a === "string" ? a : b);
      }
    };
  }

  child(bindings: Record<string, unknown>): Logger {
    return new PinoLogger(this.p.child(bindings), this.dest, this.access);
  }

  flush(cb: () => void): void {
    if (this.dest.flush) this.dest.flush(cb);
    else cb();
  }

  isLevelEnabled(level: LevelName): boolean {
    return level === "silent" ? false : this.p.isLevelEnabled(level);
  }
}

/** The root logger of a data plane process: JSON lines on stdout (or `destination`), `pid` on every line. */
export function createLogger(level: string = "info", destination?: Destination): Logger {
  if (!(level in LEVELS)) throw new Error(`unknown log level '${level}': one of ${Object.keys(LEVELS).join(", ")}`);
  const dest = destination ?? new LogOutput(1);
  const base = { pid: process.pid };
  const p = pino({ level, base, redact: { paths: redactPaths(), censor: CENSOR }, serializers: { err: pino.stdSerializers.errWithCause } }, dest);
  let access: AccessSink | undefined;
  if (level !== "silent") {
    // No redaction, no serializers: the cheapest line pino writes.
    const a = pino({ level: "info", base }, dest);
    access = { write: (fields) => a.info(fields, ACCESS_MSG) };
  }
  return new PinoLogger(p, dest, access);
}

/** A logger that drops everything, for unit tests of parts. */
export function silentLogger(): Logger {
  return new PinoLogger(pino({ level: "silent" }), { write: () => undefined }, undefined);
}
