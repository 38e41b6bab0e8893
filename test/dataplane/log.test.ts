import { spawn, spawnSync } from "node:child_process";
import { closeSync, existsSync, mkdtempSync, openSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { afterEach, describe, expect, test } from "vitest";
import { LogOutput, createLogger, drops, type Destination } from "../../dataplane/log";
import { Metrics } from "../../dataplane/metrics";
import { addProcessMetrics } from "../../dataplane/process-metrics";

/** The data plane's logger (dataplane/log.ts): pino's JSON lines, redaction, errors, output. */


function collect(): Destination & { raw: () => string[]; lines: () => Array<Record<string, unknown>> } {
  const out: string[] = [];
  return { write: (l) => void out.push(l), raw: () => out, lines: () => out.map((l) => (expect(l.endsWith("\n")).toBe(true), JSON.parse(l) as Record<string, unknown>)) };
}

describe("logger", () => {
  test("one JSON line per call in pino's shape: level number, time, pid, bindings, fields, msg last", () => {
    const dest = collect();
    const log = createLogger("info", dest).child({ component: "engine" }).child({ listener: "web" });
    const before = Date.now();
    log.warn({ server: "10.0.0.1:80", tries: 2 }, "server down");
    log.info("plain message");
    const [a, b] = dest.lines();
    expect(Object.keys(a!)).toEqual(["level", "time", "pid", "component", "listener", "server", "tries", "msg"]);
    expect(a).toMatchObject({ level: 40, pid: process.pid, component: "engine", listener: "web", server: "10.0.0.1:80", tries: 2, msg: "server down" });
    expect(a!.time as number).toBeGreaterThanOrEqual(before);
    expect(b).toMatchObject({ level: 30, msg: "plain message", component: "engine" });
  });

  test("lines below the level are not written; silent writes nothing; isLevelEnabled agrees", () => {
    const dest = collect();
    const log = createLogger("warn", dest);
    log.trace("t");
    log.debug({ a: 1 }, "d");
    log.info("i");
    log.warn("w");
    log.error("e");
    log.fatal("f");
    expect(dest.lines().map((l) => [l.level, l.msg])).toEqual([
      [40, "w"],
      [50, "e"],
      [60, "f"],
    ]);
    expect(log.isLevelEnabled("info")).toBe(false);
    expect(log.isLevelEnabled("warn")).toBe(true);
    const silent = collect();
    createLogger("silent", silent).fatal("nothing");
    expect(silent.lines()).toEqual([]);
    expect(() => createLogger("loud")).toThrow(/unknown log level 'loud'/);
  });

  test("token, authorization and privateKey are redacted at any depth, in fields and in bindings", () => {
    const dest = collect();
    const log = createLogger("info", dest).child({ token: "secret-1" });
    log.info({ headers: { authorization: "Bearer secret-2", host: "x" }, certificate: { chain: "PEM", privateKey: "secret-3" }, list: [{ deep: { token: "secret-4" } }] }, "m");
    const line = JSON.stringify(dest.lines()[0]);
    expect(line).not.toMatch(/secret/);
    expect(dest.lines()[0]).toMatchObject({ token: "[redacted]", headers: { authorization: "[redacted]", host: "x" }, certificate: { chain: "PEM", privateKey: "[redacted]" }, list: [{ deep: { token: "[redacted]" } }] });
  });

  test("errors keep type, message, stack, their own fields and cause; cycles, bigints and deep nesting never throw", () => {
    const dest = collect();
    const log = createLogger("info", dest);
    const cause = new RangeError("inner");
    const err = Object.assign(new Error("connect ECONNREFUSED", { cause }), { code: "ECONNREFUSED", port: 80 });
    const cyclic: Record<string, unknown> = { name: "a" };
    cyclic.self = cyclic;
    let deep: Record<string, unknown> = {};
    const root = deep;
    for (let i = 0; i < 20; i++) deep = deep.next = {};
    log.error({ err, cyclic, big: 2n ** 70n, root, when: new Date(0) }, "failed");
    const [l] = dest.lines();
    expect(l!.err).toMatchObject({ type: "Error", message: "connect ECONNREFUSED", code: "ECONNREFUSED", port: 80, cause: { type: "RangeError", message: "inner" } });
    expect((l!.err as { stack: string }).stack).toMatch(/connect ECONNREFUSED\n\s+at /);
    // pino's safe stringify: the cycle ends in "[Circular]" (after the redaction copy's own unrolling).
    expect(JSON.stringify(l!.cyclic)).toMatch(/^\{"name":"a","self":.*"\[Circular\]"\}+$/);
    // pino writes a bigint as a JSON number, digit for digit.
    expect(dest.raw()[0]).toContain('"big":1180591620717411303424');
    expect(JSON.stringify(l!.root)).toMatch(/^(\{"next":){20}\{\}+$/);
    expect(l!.when).toBe("1970-01-01T00:00:00.000Z");
    const hostile = { get boom(): string { throw new Error("getter failed"); } };
    expect(() => log.error({ hostile }, "still logged")).not.toThrow();
    expect(dest.lines()[1]).toMatchObject({ level: 50, msg: "still logged", logError: "cannot serialize: getter failed" });
  });

  test("access lines carry msg 'access' and are written whatever the level, never when silent", () => {
    const dest = collect();
    const log = createLogger("error", dest).child({ component: "http-proxy" });
    log.access!.write({ listener: "web", status: 200 });
    expect(dest.lines()).toEqual([{ level: 30, time: expect.any(Number), pid: process.pid, listener: "web", status: 200, msg: "access" }]);
    expect(createLogger("silent", collect()).access).toBeUndefined();
  });
});

/** A process that reads its stdin into `file` only once `open()` is called; our end of the pipe is non-blocking (libuv). */
function gatedReader(file: string) {
  const child = spawn("sh", ["-c", `read go <&3; cat > '${file}'`], { stdio: ["pipe", "ignore", "inherit", "pipe"] });
  return Object.assign(child, { open: () => void (child.stdio[3] as NodeJS.WritableStream).write("go\n") });
}

describe("LogOutput", () => {
  let dir: string;
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  test("writes every line in order, and flush calls back once all are written", async () => {
    dir = mkdtempSync(join(tmpdir(), "log-"));
    const file = join(dir, "out.log");
    const fd = openSync(file, "w");
    const w = new LogOutput(fd);
    const lines = Array.from({ length: 5000 }, (_, i) => `{"n":${i},"pad":"${"x".repeat(i % 300)}"}\n`);
    for (const l of lines) w.write(l);
    await new Promise<void>((r) => w.flush(r));
    expect(readFileSync(file, "utf8")).toBe(lines.join(""));
    closeSync(fd);
  });

  test("a stopped reader of a non-blocking pipe (EAGAIN) loses nothing and does not block the event loop", async () => {
    dir = mkdtempSync(join(tmpdir(), "log-"));
    const file = join(dir, "out.log");
    const reader = gatedReader(file);
    const fd = (reader.stdin as unknown as { _handle: { fd: number } })._handle.fd;
    expect(fd).toBeGreaterThan(2);
    const w = new LogOutput(fd);
    const lines = Array.from({ length: 20000 }, (_, i) => `{"n":${i},"pad":"${"y".repeat(100)}"}\n`);
    for (const l of lines) w.write(l);
    // Nothing has been read yet (the reader waits for `open`) and 2.1 MB cannot fit a 64 KiB pipe: yet the
    // event loop keeps turning. Rounds of setImmediate complete while the output is stuck.
    let rounds = 0;
    const flushed = new Promise<void>((r) => w.flush(r));
    let done = false;
    void flushed.then(() => (done = true));
    while (rounds < 100) {
      await new Promise((r) => setImmediate(r));
      rounds++;
    }
    expect(done).toBe(false);
    expect(existsSync(file)).toBe(false); // the reader has not even opened its output
    reader.open();
    await flushed;
    reader.stdin!.end();
    await new Promise((r) => reader.on("exit", r));
    expect(readFileSync(file, "utf8")).toBe(lines.join(""));
  });

  test("beyond the queue limit lines are dropped and counted, then a warning says how many", async () => {
    dir = mkdtempSync(join(tmpdir(), "log-"));
    const file = join(dir, "out.log");
    const reader = gatedReader(file);
    const fd = (reader.stdin as unknown as { _handle: { fd: number } })._handle.fd;
    const w = new LogOutput(fd, 200_000);
    const dropsBefore = drops.lines;
    for (let i = 0; i < 10_000; i++) w.write(`{"n":${i},"pad":"${"z".repeat(100)}"}\n`);
    reader.open();
    await new Promise<void>((r) => w.flush(r));
    reader.stdin!.end();
    await new Promise((r) => reader.on("exit", r));
    const out = readFileSync(file, "utf8").trim().split("\n").map((l) => JSON.parse(l) as { n?: number; dropped?: number; msg?: string });
    const kept = out.filter((l) => l.n !== undefined).map((l) => l.n!);
    const warning = out.find((l) => l.msg?.startsWith("log lines dropped"));
    expect(kept.length).toBeGreaterThan(1000);
    expect(kept).toEqual([...kept].sort((a, b) => a - b));
    expect(warning?.dropped).toBe(10_000 - kept.length);
    expect(drops.lines - dropsBefore).toBe(10_000 - kept.length);
  });

  test("dropped access lines are counted apart and reach ballast_access_log_dropped_total", async () => {
    dir = mkdtempSync(join(tmpdir(), "log-"));
    const file = join(dir, "out.log");
    const reader = gatedReader(file);
    const fd = (reader.stdin as unknown as { _handle: { fd: number } })._handle.fd;
    const before = { ...drops };
    const log = createLogger("info", new LogOutput(fd, 100_000));
    for (let i = 0; i < 3000; i++) {
      log.access!.write({ listener: "web", status: 200, n: i });
      if (i % 10 === 0) log.info({ n: i }, "other");
    }
    reader.open();
    await new Promise<void>((r) => log.flush(r));
    reader.stdin!.end();
    await new Promise((r) => reader.on("exit", r));
    const out = readFileSync(file, "utf8").trim().split("\n").map((l) => JSON.parse(l) as { msg?: string });
    const keptAccess = out.filter((l) => l.msg === "access").length;
    const keptOther = out.filter((l) => l.msg === "other").length;
    expect(keptAccess).toBeGreaterThan(100);
    expect(drops.access - before.access).toBe(3000 - keptAccess);
    expect(drops.lines - before.lines).toBe(3000 - keptAccess + 300 - keptOther);
    const metrics = new Metrics();
    const stop = addProcessMetrics(metrics, "test");
    stop();
    expect(metrics.render()).toContain(`ballast_access_log_dropped_total ${drops.access}\n`);
  });

  test("what is still queued when the process exits is written", () => {
    const logModule = resolve(__dirname, "../../dist/dataplane/log.js");
    const script = `const { createLogger } = require(${JSON.stringify(logModule)}); const log = createLogger("info"); for (let i = 0; i < 20000; i++) log.info({ i }, "line"); process.exit(0);`;
    const res = spawnSync(process.execPath, ["-e", script], { encoding: "utf8", maxBuffer: 64 * 1024 * 1024, timeout: 30_000 });
    expect(res.status).toBe(0);
    const lines = res.stdout.trim().split("\n");
    expect(lines.length).toBe(20000);
    expect(JSON.parse(lines.at(-1)!)).toMatchObject({ i: 19999, msg: "line" });
  });
});
