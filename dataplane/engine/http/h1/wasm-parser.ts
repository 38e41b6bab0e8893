import type { LlhttpBinding, LlhttpError, LlhttpParser } from "../../../node-internals";
import { llhttpMethodNames } from "./method-names";

/**
 * llhttp compiled to WebAssembly (the build undici ships, `undici/lib/llhttp/llhttp-wasm.js`),
 * behind exactly the interface of Node's own binding, `_http_common.HTTPParser`: the engine's
 * fallback when that private module is missing or misshapen, or when `BALLAST_HTTP_ENGINE=wasm`
 * (node-internals.ts). The same parser with the same (default, strict) settings, so the engine
 * code above it is unchanged and so is what it accepts and refuses.
 *
 * What Node's C++ binding (src/node_http_parser.cc) does around llhttp is done here in the same
 * way, because the engine relies on it:
 * - header bytes (URL, status text, names, values) are counted against `maxHeaderSize`, an
 *   `HPE_HEADER_OVERFLOW` error past it;
 * - header pairs are collected as latin1 strings, values without trailing spaces and tabs; after
 *   31 pairs they are handed over early (`kOnHeaders`, with the URL so far), the rest with
 *   `kOnHeadersComplete` (its headers and URL then undefined); trailers through `kOnHeaders`;
 * - `kOnHeadersComplete` gets (major, minor, headers, method, url, status, status text, upgrade,
 *   keep-alive), and its return value is llhttp's (1: no body);
 * - a body chunk is a copy (the input buffer is reused by the caller);
 * - `execute` returns the bytes consumed, or an Error with `code` (`HPE_*`), `reason` and
 *   `bytesParsed`; an upgrade stops it at the end of the head, as a number;
 * - an exception thrown by a callback propagates out of `execute`.
 * One difference: this build does not report chunk extensions, so Node's 16 KiB limit on them
 * does not apply (llhttp skips them without keeping them).
 *
 * All parsers share one WebAssembly instance (one linear memory); each is an `llhttp_t` in it. The
 * bytes to parse are copied into a buffer in that memory (one per nesting depth, in case a
 * callback parses with another parser).
 */

// The WebAssembly global, typed here: the project's `lib` (es2023, no DOM) does not declare it.
interface Wasm {
  Module: new (bytes: Uint8Array) => object;
  Instance: new (module: object, imports: object) => { exports: unknown };
}
const WebAssembly = (globalThis as unknown as { WebAssembly: Wasm }).WebAssembly;

interface LlhttpExports {
  memory: { buffer: ArrayBuffer };
  _initialize?: () => void;
  malloc(size: number): number;
  free(ptr: number): void;
  llhttp_alloc(type: number): number;
  llhttp_free(p: number): void;
  llhttp_reset(p: number): void;
  llhttp_execute(p: number, data: number, len: number): number;
  llhttp_finish(p: number): number;
  llhttp_resume_after_upgrade(p: number): void;
  llhttp_get_type(p: number): number;
  llhttp_get_http_major(p: number): number;
  llhttp_get_http_minor(p: number): number;
  llhttp_get_method(p: number): number;
  llhttp_get_status_code(p: number): number;
  llhttp_get_upgrade(p: number): number;
  llhttp_should_keep_alive(p: number): number;
  llhttp_get_error_pos(p: number): number;
  llhttp_get_error_reason(p: number): number;
  llhttp_errno_name(err: number): number;
}

// llhttp's numbers (llhttp.h; the same in undici's lib/llhttp/constants.js).
const TYPE_REQUEST = 1;
const TYPE_RESPONSE = 2;
const HPE_OK = 0;
const HPE_PAUSED_UPGRADE = 22;
const HPE_USER = 24;
/** Node's kMaxHeaderFieldsCount: pairs beyond 31 are handed over early. */
const MAX_FIELDS = 32;
/** Node's default `--max-http-header-size`, used when `initialize` is given 0. */
const DEFAULT_MAX_HEADER_SIZE = 16 * 1024;

// Callback slots, numbered as Node numbers them (kOnMessageBegin…kOnExecute).
const K_ON_MESSAGE_BEGIN = 0;
const K_ON_HEADERS = 1;
const K_ON_HEADERS_COMPLETE = 2;
const K_ON_BODY = 3;
const K_ON_MESSAGE_COMPLETE = 4;
const K_ON_EXECUTE = 5;

let ll: LlhttpExports | undefined;
/** Parsers by their `llhttp_t` address, for the callbacks. */
const byPtr = new Map<number, WasmHttpParser>();
/** Input buffers in wasm memory, by nesting depth of `execute`. */
const inputs: { ptr: number; size: number }[] = [];
let depth = 0;

function instance(): LlhttpExports {
  if (ll) return ll;
  // Loaded only when this binding is used: a base64 string of about 70 KB in the bundle.
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const bytes = require("undici/lib/llhttp/llhttp-wasm.js") as Uint8Array;
  const module = new WebAssembly.Module(bytes);
  const span =
    (field: (p: WasmHttpParser, s: string) => number) =>
    (p: number, at: number, len: number): number => {
      const parser = byPtr.get(p)!;
      return field(parser, parser.text(at, len));
    };
  const env = {
    wasm_on_message_begin: (p: number) => byPtr.get(p)!.onMessageBegin(),
    wasm_on_url: span((parser, s) => parser.onUrl(s)),
    wasm_on_status: span((parser, s) => parser.onStatus(s)),
    wasm_on_header_field: span((parser, s) => parser.onHeaderField(s)),
    wasm_on_header_value: span((parser, s) => parser.onHeaderValue(s)),
    wasm_on_headers_complete: (p: number) => byPtr.get(p)!.onHeadersComplete(),
    wasm_on_body: (p: number, at: number, len: number) => byPtr.get(p)!.onBody(at, len),
    wasm_on_message_complete: (p: number) => byPtr.get(p)!.onMessageComplete(),
  };
  const exports = new WebAssembly.Instance(module, { env }).exports as unknown as LlhttpExports;
  exports._initialize?.();
  ll = exports;
  return exports;
}

function cString(e: LlhttpExports, ptr: number): string {
  if (!ptr) return "";
  const mem = new Uint8Array(e.memory.buffer);
  let end = ptr;
  while (mem[end] !== 0) end++;
  return Buffer.from(mem.buffer, ptr, end - ptr).toString("latin1");
}

function isOws(c: number): boolean {
  return c === 0x20 || c === 0x09;
}

class WasmHttpParser implements LlhttpParser {
  static readonly REQUEST = TYPE_REQUEST;
  static readonly RESPONSE = TYPE_RESPONSE;
  static readonly kOnMessageBegin = K_ON_MESSAGE_BEGIN;
  static readonly kOnHeaders = K_ON_HEADERS;
  static readonly kOnHeadersComplete = K_ON_HEADERS_COMPLETE;
  static readonly kOnBody = K_ON_BODY;
  static readonly kOnMessageComplete = K_ON_MESSAGE_COMPLETE;
  static readonly kOnExecute = K_ON_EXECUTE;
  static readonly kLenientNone = 0;

  [key: number]: unknown;

  private ptr = 0;
  private type = 0;
  private maxHeaderSize = DEFAULT_MAX_HEADER_SIZE;
  private headerBytes = 0;
  private fields: string[] = [];
  private values: string[] = [];
  private url = "";
  private statusText = "";
  private flushed = false;
  /** Set by a callback that fails the parse with HPE_USER (Node's `code:reason`). */
  private userError: { code: string; reason: string } | undefined;
  /** The bytes being parsed and where they were copied in wasm memory. */
  private data: Buffer | undefined;
  private dataPtr = 0;

  initialize(type: number, _resource: object, maxHeaderSize: number, _lenientFlags: number): void {
    const e = instance();
    if (this.ptr && this.type === type) {
      e.llhttp_reset(this.ptr);
    } else {
      this.close();
      this.ptr = e.llhttp_alloc(type);
      this.type = type;
      byPtr.set(this.ptr, this);
    }
    this.maxHeaderSize = maxHeaderSize || DEFAULT_MAX_HEADER_SIZE;
    this.headerBytes = 0;
    this.fields = [];
    this.values = [];
    this.url = "";
    this.statusText = "";
    this.flushed = false;
    this.userError = undefined;
  }

  execute(data: Buffer): number | LlhttpError {
    const e = instance();
    let input = inputs[depth];
    if (!input || input.size < data.length) {
      if (input) e.free(input.ptr);
      const size = Math.max(4096, Math.ceil(data.length / 4096) * 4096);
      input = inputs[depth] = { ptr: e.malloc(size), size };
    }
    // After malloc: the memory may have grown (a new ArrayBuffer).
    new Uint8Array(e.memory.buffer, input.ptr, data.length).set(data);
    const before = { data: this.data, dataPtr: this.dataPtr };
    this.data = data;
    this.dataPtr = input.ptr;
    this.userError = undefined;
    depth++;
    let err: number;
    try {
      err = e.llhttp_execute(this.ptr, input.ptr, data.length);
    } finally {
      depth--;
      this.data = before.data;
      this.dataPtr = before.dataPtr;
    }
    let nread = data.length;
    if (err !== HPE_OK) {
      nread = e.llhttp_get_error_pos(this.ptr) - input.ptr;
      // Not an error: llhttp stops at the end of an upgrade's head.
      if (err === HPE_PAUSED_UPGRADE) {
        err = HPE_OK;
        e.llhttp_resume_after_upgrade(this.ptr);
      }
    }
    if (err !== HPE_OK && !e.llhttp_get_upgrade(this.ptr)) return this.error(err, nread);
    return nread;
  }

  finish(): number | LlhttpError | undefined {
    const e = instance();
    this.userError = undefined;
    let err = e.llhttp_finish(this.ptr);
    if (err === HPE_PAUSED_UPGRADE) err = HPE_OK;
    if (err !== HPE_OK && !e.llhttp_get_upgrade(this.ptr)) return this.error(err, 0);
    return undefined;
  }

  close(): void {
    if (!this.ptr) return;
    byPtr.delete(this.ptr);
    ll!.llhttp_free(this.ptr);
    this.ptr = 0;
  }

  free(): void {}

  remove(): void {}

  private error(err: number, bytesParsed: number): LlhttpError {
    const e = ll!;
    const user = err === HPE_USER ? this.userError : undefined;
    const error = new Error("Parse Error") as LlhttpError;
    error.bytesParsed = bytesParsed;
    error.code = user ? user.code : cString(e, e.llhttp_errno_name(err));
    error.reason = user ? user.reason : cString(e, e.llhttp_get_error_reason(this.ptr));
    return error;
  }

  /** The latin1 text of `len` bytes at wasm address `at`, read from the caller's buffer. */
  text(at: number, len: number): string {
    const start = at - this.dataPtr;
    return this.data!.toString("latin1", start, start + len);
  }

  private track(len: number): number {
    this.headerBytes += len;
    if (this.headerBytes >= this.maxHeaderSize) {
      this.userError = { code: "HPE_HEADER_OVERFLOW", reason: "Header overflow" };
      return HPE_USER;
    }
    return 0;
  }

  onMessageBegin(): number {
    this.fields = [];
    this.values = [];
    this.url = "";
    this.statusText = "";
    (this[K_ON_MESSAGE_BEGIN] as (() => void) | undefined)?.call(this);
    return 0;
  }

  onUrl(s: string): number {
    const rv = this.track(s.length);
    if (rv === 0) this.url += s;
    return rv;
  }

  onStatus(s: string): number {
    const rv = this.track(s.length);
    if (rv === 0) this.statusText += s;
    return rv;
  }

  onHeaderField(s: string): number {
    const rv = this.track(s.length);
    if (rv !== 0) return rv;
    if (this.fields.length === this.values.length) {
      if (this.fields.length + 1 === MAX_FIELDS) this.flush();
      this.fields.push("");
    }
    this.fields[this.fields.length - 1] += s;
    return 0;
  }

  onHeaderValue(s: string): number {
    const rv = this.track(s.length);
    if (rv !== 0) return rv;
    if (this.values.length !== this.fields.length) this.values.push("");
    this.values[this.values.length - 1] += s;
    return 0;
  }

  /** The collected pairs as `[name, value, …]`, values without trailing spaces and tabs. */
  private headers(): string[] {
    const out: string[] = [];
    for (let i = 0; i < this.values.length; i++) {
      const v = this.values[i]!;
      let end = v.length;
      while (end > 0 && isOws(v.charCodeAt(end - 1))) end--;
      out.push(this.fields[i]!, end === v.length ? v : v.slice(0, end));
    }
    return out;
  }

  /** Hands the pairs so far (and the URL so far) over early. */
  private flush(): void {
    (this[K_ON_HEADERS] as ((h: string[], url: string) => void) | undefined)?.call(this, this.headers(), this.url);
    this.fields = [];
    this.values = [];
    this.url = "";
    this.flushed = true;
  }

  onHeadersComplete(): number {
    const e = ll!;
    this.headerBytes = 0;
    const cb = this[K_ON_HEADERS_COMPLETE] as ((...args: unknown[]) => unknown) | undefined;
    if (typeof cb !== "function") return 0;
    let headers: string[] | undefined;
    let url: string | undefined;
    if (this.flushed) {
      this.flush();
    } else {
      headers = this.headers();
      if (this.type === TYPE_REQUEST) url = this.url;
    }
    this.fields = [];
    this.values = [];
    const p = this.ptr;
    const request = this.type === TYPE_REQUEST;
    const r = cb.call(
      this,
      e.llhttp_get_http_major(p),
      e.llhttp_get_http_minor(p),
      headers,
      request ? e.llhttp_get_method(p) : undefined,
      url,
      request ? undefined : e.llhttp_get_status_code(p),
      request ? undefined : this.statusText,
      e.llhttp_get_upgrade(p) === 1,
      e.llhttp_should_keep_alive(p) === 1,
    );
    return Math.trunc(Number(r)) || 0;
  }

  onBody(at: number, len: number): number {
    if (len === 0) return 0;
    const start = at - this.dataPtr;
    // A copy: the caller's buffer is reused once `execute` returns.
    (this[K_ON_BODY] as ((b: Buffer) => void) | undefined)?.call(this, Buffer.from(this.data!.subarray(start, start + len)));
    return 0;
  }

  onMessageComplete(): number {
    if (this.fields.length > 0) this.flush();
    (this[K_ON_MESSAGE_COMPLETE] as (() => void) | undefined)?.call(this);
    return 0;
  }
}

/** The binding, shaped as `_http_common`'s; compiles the WebAssembly module on first call. */
export function wasmLlhttpBinding(): LlhttpBinding {
  instance();
  return { HTTPParser: WasmHttpParser, methods: llhttpMethodNames() };
}
