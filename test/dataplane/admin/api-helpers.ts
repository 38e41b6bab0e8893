import { connect } from "node:net";
import { expect } from "vitest";

/** The JSON error body every refusal carries. */
export interface ErrorBody {
  error: { code: string; message: string; issues?: { path: string; message: string }[] };
}

/** Asserts a JSON error response of `status` and `code`, and returns its body. */
export async function expectError(res: Response, status: number, code: string): Promise<ErrorBody["error"]> {
  const text = await res.text();
  expect({ status: res.status, text }).toMatchObject({ status });
  expect(res.headers.get("content-type")).toBe("application/json");
  const parsed = JSON.parse(text) as ErrorBody;
  expect(parsed.error.code).toBe(code);
  expect(parsed.error.message.length).toBeGreaterThan(0);
  expect(Object.keys(parsed)).toEqual(["error"]);
  return parsed.error;
}

/** Asserts a JSON success response of `status` and returns its body. */
export async function expectJson<T = Record<string, unknown>>(res: Response, status: number): Promise<T> {
  const text = await res.text();
  expect({ status: res.status, text }).toMatchObject({ status });
  expect(res.headers.get("content-type")).toBe("application/json");
  return JSON.parse(text) as T;
}

export const json = (method: string, value: unknown, headers: Record<string, string> = {}): RequestInit => ({
  method,
  body: typeof value === "string" ? value : JSON.stringify(value),
  headers: { "content-type": "application/json", ...headers },
});

/**
 * Sends raw bytes on a fresh connection and resolves with everything the server answers until it
 * closes the connection or `timeoutMs` passes (then the socket is destroyed).
 */
export function rawExchange(url: string, chunks: (string | Buffer)[], timeoutMs = 10_000): Promise<string> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve, reject) => {
    const socket = connect({ host: hostname, port: Number(port) });
    let answer = "";
    const timer = setTimeout(() => socket.destroy(), timeoutMs);
    socket.setEncoding("utf8");
    socket.on("data", (d: string) => (answer += d));
    socket.on("error", (err) => (answer ? undefined : reject(err)));
    socket.on("close", () => {
      clearTimeout(timer);
      resolve(answer);
    });
    socket.on("connect", () => {
      for (const chunk of chunks) socket.write(chunk);
    });
  });
}

/**
 * Polls `probe` until it returns a value other than undefined, every `everyMs`, for at most
 * `timeoutMs`; then fails with `what`. For effects that trail a response (log lines, counters).
 */
export async function waitFor<T>(what: string, probe: () => T | undefined | Promise<T | undefined>, timeoutMs = 10_000, everyMs = 50): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}
