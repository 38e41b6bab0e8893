import { Socket } from "node:net";

/**
 * The one door to Node's private APIs. The data plane relies on three things Node does not
 * promise to keep:
 *
 * - the llhttp parser that node:http uses, `_http_common.HTTPParser` (engine/h1/parser.ts): the
 *   HTTP engine parses with it directly, without node:http's objects around it;
 * - the three `net.Socket` fields that the `onread` option of `net.connect` sets (lib/net.js
 *   `kBuffer`, `kBufferCb`, `kBufferGen`), set on accepted sockets by engine/adopt-reads.ts;
 * - V8 flags (`--max-semi-space-size`, `--expose-gc-as`) applied by re-executing the process
 *   (node-flags.ts) and the gc function the second one installs (idle-compactor.ts).
 *
 * Nothing else in the data plane reaches them: a Node release that moves or reshapes one breaks
 * this module's checks, not a listener. `nodeInternals()` checks each at start-up and says what
 * the process will run on:
 *
 * - The parser: when `_http_common` is missing or `HTTPParser` does not have the shape the engine
 *   uses (a constructor with initialize/execute/finish/close, the REQUEST/RESPONSE types, the
 *   kOn* callback slots, the method table), or when `BALLAST_HTTP_ENGINE=wasm` asks for it, the
 *   engine runs on the same llhttp compiled to WebAssembly, as undici ships it
 *   (engine/h1/wasm-parser.ts). Same parser, same engine code; only the binding differs, and it is
 *   slower (docs/benchmarks.md). Why not a node:http engine: docs/architecture.md.
 * - Read adoption: when the fields are not there, accepted sockets read through 'data' events
 *   (slower, same behaviour): adopt-reads.ts already falls back per socket.
 * - Flags: `applyNodeFlags()` re-executes only where `process.execve` exists.
 */

/** The HTTP engines, by the parser binding they run on (`ballast_http_parser_info{parser}`). */
export type HttpEngine = "llhttp-native" | "llhttp-wasm";

/** The environment variable that forces the WebAssembly binding. */
export const HTTP_ENGINE_VAR = "BALLAST_HTTP_ENGINE";

/** An llhttp parser as node:http's binding exposes it (and the wasm adapter mimics it). */
export interface LlhttpParser {
  initialize(type: number, resource: object, maxHeaderSize: number, lenientFlags: number): void;
  /** Bytes consumed, or an Error with `code` (HPE_*), `reason` and `bytesParsed`. */
  execute(data: Buffer): number | LlhttpError;
  /** Ends a message delimited by the connection closing; an Error if a message was cut short. */
  finish(): number | LlhttpError | undefined;
  close(): void;
  free(): void;
  remove(): void;
  [key: number]: unknown;
}

export interface LlhttpError extends Error {
  code: string;
  reason?: string;
  bytesParsed?: number;
}

/** The binding: `_http_common`'s `HTTPParser` and `methods`, or the wasm adapter's. */
export interface LlhttpBinding {
  HTTPParser: {
    new (): LlhttpParser;
    REQUEST: number;
    RESPONSE: number;
    kOnMessageBegin: number;
    kOnHeaders: number;
    kOnHeadersComplete: number;
    kOnBody: number;
    kOnMessageComplete: number;
    kOnExecute: number;
    kLenientNone?: number;
  };
  /** Method names by llhttp's method number. */
  methods: readonly string[];
}

const PARSER_METHODS = ["initialize", "execute", "finish", "close", "free", "remove"] as const;
const PARSER_SLOTS = ["REQUEST", "RESPONSE", "kOnMessageBegin", "kOnHeaders", "kOnHeadersComplete", "kOnBody", "kOnMessageComplete", "kOnExecute"] as const;

/**
 * What is wrong with `common` as the binding the engine uses, or undefined when it has the
 * expected shape. Exported for the tests, which hand it misshapen bindings.
 */
export function llhttpBindingProblem(common: unknown): string | undefined {
  if (typeof common !== "object" || common === null) return "_http_common is not a module object";
  const { HTTPParser, methods } = common as { HTTPParser?: unknown; methods?: unknown };
  if (typeof HTTPParser !== "function") return "_http_common.HTTPParser is not a constructor";
  const proto = (HTTPParser as { prototype?: Record<string, unknown> }).prototype;
  for (const m of PARSER_METHODS) {
    if (typeof proto?.[m] !== "function") return `HTTPParser.prototype.${m} is not a function`;
  }
  const statics = HTTPParser as unknown as Record<string, unknown>;
  const slots = new Set<number>();
  for (const k of PARSER_SLOTS) {
    const v = statics[k];
    if (typeof v !== "number" || !Number.isInteger(v) || v < 0) return `HTTPParser.${k} is not a non-negative integer`;
    if (k.startsWith("kOn")) slots.add(v);
  }
  if (slots.size !== PARSER_SLOTS.length - 2) return "HTTPParser's kOn* callback slots are not distinct";
  if (statics.REQUEST === statics.RESPONSE) return "HTTPParser.REQUEST and RESPONSE are equal";
  if (!Array.isArray(methods) || !methods.every((m) => typeof m === "string") || methods[1] !== "GET") {
    return "_http_common.methods is not llhttp's method table (GET at 1)";
  }
  return undefined;
}

/** `BALLAST_HTTP_ENGINE`'s meaning, or a problem naming the variable (main.ts refuses to start). */
export function parseHttpEngineSetting(value: string | undefined): { ok: true; forceWasm: boolean } | { ok: false; problem: string } {
  if (value === undefined || value === "" || value === "native") return { ok: true, forceWasm: false };
  if (value === "wasm") return { ok: true, forceWasm: true };
  // 'node' names the node:http fallback this setting was first specified with; the fallback built is
  // llhttp in WebAssembly under the same engine (docs/traffic.md, "The parser binding, and its fallback").
  const hint = value === "node" ? ": the fallback engine is 'wasm', the same engine on llhttp in WebAssembly instead of a node:http one (docs/traffic.md)" : "";
  return { ok: false, problem: `${HTTP_ENGINE_VAR} must be 'native' or unset (Node's own llhttp when it is usable) or 'wasm' (llhttp compiled to WebAssembly), not '${value}'${hint}` };
}

export interface HttpEngineChoice {
  engine: HttpEngine;
  /** Node's binding, when the engine runs on it. */
  binding?: LlhttpBinding;
  /** Why the engine falls back to the wasm binding (undefined on Node's). */
  fallbackReason?: string;
}

/** Chooses the binding from the setting and what `loadCommon` yields (exported for the tests). */
export function chooseHttpEngine(setting: string | undefined, loadCommon: () => unknown): HttpEngineChoice {
  const parsed = parseHttpEngineSetting(setting);
  // An invalid value stops main.ts with a clear message; a worker or a test that sees one anyway
  // runs on Node's binding rather than guess.
  if (parsed.ok && parsed.forceWasm) return { engine: "llhttp-wasm", fallbackReason: `${HTTP_ENGINE_VAR}=wasm` };
  let common: unknown;
  try {
    common = loadCommon();
  } catch (err) {
    return { engine: "llhttp-wasm", fallbackReason: `Node's _http_common cannot be loaded (${(err as Error).message})` };
  }
  const problem = llhttpBindingProblem(common);
  if (problem) return { engine: "llhttp-wasm", fallbackReason: `Node's HTTP parser is not the expected shape: ${problem}` };
  return { engine: "llhttp-native", binding: common as LlhttpBinding };
}

let chosen: HttpEngineChoice | undefined;

/** This process's HTTP engine (decided once, the same way in the primary and every worker). */
export function httpEngine(): HttpEngineChoice {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  return (chosen ??= chooseHttpEngine(process.env[HTTP_ENGINE_VAR], () => require("_http_common")));
}

/** The `net.Socket` fields that `onread` sets (lib/net.js). */
export interface OnreadFields {
  buffer: symbol;
  callback: symbol;
  generator: symbol;
}

/** The fields, found by their symbols' descriptions on `socket`; null where Node has none. */
export function onreadFields(socket: Socket): OnreadFields | null {
  const byName = new Map<string, symbol>();
  for (const s of Object.getOwnPropertySymbols(socket)) if (s.description) byName.set(s.description, s);
  const buffer = byName.get("kBuffer");
  const callback = byName.get("kBufferCb");
  const generator = byName.get("kBufferGen");
  return buffer && callback && generator ? { buffer, callback, generator } : null;
}

/** Whether a socket created without `onread` carries the three fields, unset (checked on one never connected). */
function readAdoptionAvailable(): boolean {
  const socket = new Socket();
  const fields = onreadFields(socket);
  const s = socket as unknown as Record<symbol, unknown>;
  const ok = fields !== null && s[fields.buffer] === null && s[fields.callback] === null && s[fields.generator] === null;
  socket.destroy();
  return ok;
}

export interface NodeInternalsReport {
  http: HttpEngineChoice;
  /** Accepted sockets read into the engine's buffers (else through 'data' events). */
  readAdoption: boolean;
  /** `process.execve` exists, so the V8 flags can be applied in place. */
  execve: boolean;
}

/** Checks every private API the data plane uses; main.ts logs the fallbacks once. */
export function nodeInternals(): NodeInternalsReport {
  return { http: httpEngine(), readAdoption: readAdoptionAvailable(), execve: typeof process.execve === "function" };
}

export { APPLIED, GC_GLOBAL, NODE_ENV_DEFAULTS, NODE_FLAGS, applyNodeFlags, missingFlags } from "./node-flags";
