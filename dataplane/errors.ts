import type { FieldIssue } from "../model";

/**
 * The data plane's error catalogue: every refusal the admin API can answer with, by stable `code`,
 * with its HTTP status and a default message. Clients (the provider) match on `code`, never on the
 * message. `docs/errors.md` lists the same codes; a test keeps the two in step.
 */
export const errorCatalogue = {
  invalid: { status: 400, message: "the request is invalid" },
  invalid_json: { status: 400, message: "the request body is not valid JSON" },
  unauthorized: { status: 401, message: "missing or wrong bearer token" },
  not_found: { status: 404, message: "no such object or route" },
  method_not_allowed: { status: 405, message: "method not allowed on this route" },
  already_exists: { status: 409, message: "an object with this name already exists" },
  immutable: { status: 409, message: "an immutable field cannot be changed; replace the object instead" },
  in_use: { status: 409, message: "the object is still used by others" },
  conflict: { status: 409, message: "the change conflicts with the existing configuration" },
  port_unavailable: { status: 409, message: "a listener's port cannot be bound" },
  precondition_failed: { status: 412, message: "the object's version does not match If-Match" },
  payload_too_large: { status: 413, message: "the request body is too large" },
  state_write_failed: { status: 500, message: "the state file could not be written; nothing changed" },
  internal: { status: 500, message: "internal error" },
  store_unavailable: { status: 503, message: "the configuration store (etcd) cannot be reached; nothing changed" },
  revision_not_reached: { status: 503, message: "this replica has not applied the requested revision yet" },
} as const satisfies Record<string, { status: number; message: string }>;

export type ErrorCode = keyof typeof errorCatalogue;

/** The JSON body of every error response. */
export interface ErrorBody {
  error: { code: ErrorCode; message: string; issues?: FieldIssue[] };
}

/** A refusal with a catalogue code; the admin server turns it into the matching HTTP response. */
export class AdminError extends Error {
  readonly status: number;
  constructor(
    readonly code: ErrorCode,
    message?: string,
    readonly issues?: FieldIssue[],
    /** Extra response headers (e.g. `Allow` on 405, `WWW-Authenticate` on 401). */
    readonly headers?: Readonly<Record<string, string>>,
  ) {
    super(message ?? errorCatalogue[code].message);
    this.name = "AdminError";
    this.status = errorCatalogue[code].status;
  }

  toBody(): ErrorBody {
    return { error: { code: this.code, message: this.message, ...(this.issues?.length ? { issues: this.issues } : {}) } };
  }
}

export function isAdminError(value: unknown): value is AdminError {
  return value instanceof AdminError;
}
