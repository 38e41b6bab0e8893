import { request } from "undici";
import { CliError, EXIT, UsageError } from "./exit-codes";

/**
 * The small admin API client of `ballast status`, `export` and `import` (undici). The provider has
 * its own (provider/admin-client.ts); the dependency direction (sdk → provider → model ← dataplane)
 * keeps the data plane from importing it.
 *
 * Failures map to the command's exit codes: no connection or a timeout is 3 (unreachable), 401 is
 * 3 (the token was refused); any other refusal is 1 with the API's own message and issues.
 */

export const DEFAULT_ADMIN_URL = "http://127.0.0.1:9180";
const TIMEOUT_MS = 30_000;

export interface ApiIssue {
  path: string;
  message: string;
}

/** An answer of the admin API other than 2xx and 401. */
export class ApiError extends CliError {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly issues: ApiIssue[],
  ) {
    super(message, EXIT.failed);
  }
}

/** The admin URL and token from `--admin-url`/`--token`, else BALLAST_ADMIN_URL/BALLAST_ADMIN_TOKEN. */
export function connection(values: Record<string, string | boolean | undefined>, env: NodeJS.ProcessEnv = process.env): { url: string; token: string } {
  const url = (values["admin-url"] as string | undefined) || env.BALLAST_ADMIN_URL || DEFAULT_ADMIN_URL;
  const token = (values.token as string | undefined) || env.BALLAST_ADMIN_TOKEN || "";
  try {
    const parsed = new URL(url);
    if (parsed.protocol !== "http:" && parsed.protocol !== "https:") throw new Error("not http");
  } catch {
    throw new UsageError(`--admin-url '${url}' is not an http:// or https:// URL`);
  }
  if (token === "") throw new UsageError("no admin token: give --token or set BALLAST_ADMIN_TOKEN");
  return { url: url.replace(/\/+$/, ""), token };
}

export class AdminClient {
  constructor(
    private readonly url: string,
    private readonly token: string,
  ) {}

  get<T>(path: string): Promise<T> {
    return this.call<T>("GET", path);
  }

  /** POST/PUT/DELETE with a JSON body; `ifMatch` guards an update against a concurrent one. */
  async call<T>(method: string, path: string, body?: unknown, ifMatch?: number): Promise<T> {
    const headers: Record<string, string> = { authorization: `Bearer ${this.token}`, accept: "application/json" };
    if (body !== undefined) headers["content-type"] = "application/json";
    if (ifMatch !== undefined) headers["if-match"] = `"${ifMatch}"`;
    let res;
    try {
      res = await request(this.url + path, {
        method: method as "GET",
        headers,
        ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
        headersTimeout: TIMEOUT_MS,
        bodyTimeout: TIMEOUT_MS,
      });
    } catch (e) {
      const code = (e as { code?: string }).code;
      throw new CliError(`cannot reach the admin API at ${this.url}: ${code ?? (e as Error).message}`, EXIT.unreachable);
    }
    const text = await res.body.text();
    if (res.statusCode === 401) throw new CliError(`the admin API at ${this.url} refused the token (401)`, EXIT.unreachable);
    if (res.statusCode >= 200 && res.statusCode < 300) return (text ? JSON.parse(text) : undefined) as T;
    let error: { code?: string; message?: string; issues?: ApiIssue[] } = {};
    try {
      error = (JSON.parse(text) as { error?: typeof error }).error ?? {};
    } catch {
      // not JSON: the status says enough
    }
    throw new ApiError(res.statusCode, error.code ?? "error", `${method} ${path}: ${res.statusCode} ${error.code ?? ""} ${error.message ?? text.slice(0, 200)}`.trim(), error.issues ?? []);
  }
}
