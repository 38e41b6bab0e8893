import type * as net from "node:net";
import { onreadFields, type OnreadFields } from "../node-internals";
import type { OnRead } from "./read-buffers";

/**
 * `onread` for sockets Node created itself. `net.connect` takes an `onread` option (reads go into a
 * buffer the caller gives and are handed to a callback, never through the stream), but a server's
 * accepted sockets cannot be given one. Their reads are half of an HTTP proxy's reads, and going
 * through the stream (a fresh 64 KiB buffer per read, `push`, a `nextTick`) cost about 14% of the
 * CPU per request at 64 B (docs/benchmarks.md).
 *
 * This sets, on an accepted socket, the three fields of `net.Socket` that the `onread` option sets
 * (lib/net.js: `kBuffer`, `kBufferCb`, `kBufferGen`, found by their symbols' descriptions) and
 * points the handle at the buffer (`useUserBuffer`), which is what `net.connect` does with the
 * option. From then on the socket behaves exactly as a connecting socket with `onread`: `pause()`
 * and `resume()` stop and start reading, and the end of the stream is still an 'end' event.
 *
 * These fields are Node's internals, found through node-internals.ts. Where they are missing (another Node version), or the socket
 * is a TLS socket, or it has already read bytes, nothing is changed and `adoptReads` returns
 * false: the caller reads through 'data' events as before. The tests pin that the pinned Node
 * takes the fast path (test/dataplane/engine/adopt-reads.test.ts).
 */

/** The fields, found on the first socket seen (undefined: not looked yet; null: not there). */
let fields: OnreadFields | null | undefined;

/** Gives `socket` the behaviour of `onread`; false (nothing changed) where it cannot. */
export function adoptReads(socket: net.Socket, onread: OnRead): boolean {
  // `encrypted`: a TLSSocket (tested by property, so that this module does not load node:tls).
  if ((socket as { encrypted?: boolean }).encrypted === true || socket.readableLength > 0 || socket.destroyed) return false;
  const handle = (socket as unknown as { _handle?: { useUserBuffer?: (b: Uint8Array) => void } })._handle;
  if (!handle || typeof handle.useUserBuffer !== "function") return false;
  if (fields === undefined) fields = onreadFields(socket);
  if (!fields) return false;
  const s = socket as unknown as Record<symbol, unknown>;
  // Unset on a socket created without `onread`; anything else is not the layout this expects.
  if (s[fields.buffer] !== null || s[fields.callback] !== null || s[fields.generator] !== null) return false;
  const first = onread.buffer();
  s[fields.generator] = onread.buffer;
  s[fields.callback] = onread.callback;
  s[fields.buffer] = first;
  handle.useUserBuffer(first);
  return true;
}
