import type { FieldIssue } from "../model";

/**
 * The provider's error catalogue: every way a provider method can fail, by stable `code`, with the
 * data plane HTTP status it stands for (when it comes from an answer) and a default message.
 * Callers and tests match on `code`, never on the message. Messages are written for the person
 * reading `pulumi up` output: which balancer, which resource, what the data plane said, what to do.
 */
export const providerErrorCatalogue = {
  BALLAST_PROVIDER_UNREACHABLE: { status: undefined, message: "the balancer's admin API cannot be reached" },
  BALLAST_PROVIDER_TIMEOUT: { status: undefined, message: "the balancer's admin API did not answer in time" },
  BALLAST_PROVIDER_UNAVAILABLE: { status: 503, message: "the balancer's admin API kept answering that it is unavailable" },
  BALLAST_PROVIDER_UNAUTHORIZED: { status: 401, message: "the balancer refused the admin token" },
  BALLAST_PROVIDER_INVALID: { status: 400, message: "the balancer refused the object as invalid" },
  BALLAST_PROVIDER_NOT_FOUND: { status: 404, message: "the object does not exist on the balancer" },
  BALLAST_PROVIDER_ALREADY_EXISTS: { status: 409, message: "an object with this name already exists on the balancer" },
  BALLAST_PROVIDER_IMMUTABLE: { status: 409, message: "an immutable field differs; the object must be replaced" },
  BALLAST_PROVIDER_IN_USE: { status: 409, message: "the object is still used by other objects" },
  BALLAST_PROVIDER_CONFLICT: { status: 409, message: "the change conflicts with the balancer's configuration" },
  BALLAST_PROVIDER_STALE: { status: 412, message: "the object changed on the balancer since Pulumi last saw it" },
  BALLAST_PROVIDER_UNEXPECTED: { status: undefined, message: "the balancer gave an unexpected answer" },
  BALLAST_PROVIDER_NO_BALANCER: { status: undefined, message: "the resource does not say which balancer to use" },
} as const satisfies Record<string, { status: number | undefined; message: string }>;

export type ProviderErrorCode = keyof typeof providerErrorCatalogue;

/** What the data plane answered: its HTTP status and, when it sent one, its error body. */
export interface DataPlaneAnswer {
  status: number;
  code?: string;
  message?: string;
  issues?: FieldIssue[];
}

/** The object an operation was about: its kind as users write it (`BackendService`) and its name. */
export interface ResourceRef {
  kind: string;
  name: string;
}

export interface ProviderErrorInit {
  /** The admin URL of the balancer the operation was sent to. */
  balancer?: string;
  resource?: ResourceRef;
  /** The verb, for the message: "create", "read", "update", "delete". */
  operation?: string;
  answer?: DataPlaneAnswer;
  /** What to do about it, appended to the message. */
  hint?: string;
  /** Replaces the catalogue's default description of the failure. */
  detail?: string;
  cause?: unknown;
}

/**
 * The single error class of the provider. Its message names the balancer, the resource and the
 * data plane's answer (code, message and every issue path), so `pulumi up` output alone says what
 * went wrong; the same facts are kept as fields for code.
 */
export class ProviderError extends Error {
  readonly code: ProviderErrorCode;
  readonly balancer: string | undefined;
  readonly resource: ResourceRef | undefined;
  readonly answer: DataPlaneAnswer | undefined;

  constructor(code: ProviderErrorCode, init: ProviderErrorInit = {}) {
    super(formatMessage(code, init), init.cause === undefined ? undefined : { cause: init.cause });
    this.name = "ProviderError";
    this.code = code;
    this.balancer = init.balancer;
    this.resource = init.resource;
    this.answer = init.answer;
  }
}

export function isProviderError(value: unknown, code?: ProviderErrorCode): value is ProviderError {
  return value instanceof ProviderError && (code === undefined || value.code === code);
}

function formatMessage(code: ProviderErrorCode, init: ProviderErrorInit): string {
  const what = init.resource ? `${init.resource.kind} "${init.resource.name}"` : "the request";
  const where = init.balancer ? ` on balancer ${init.balancer}` : "";
  const verb = init.operation ? `cannot ${init.operation} ${what}${where}` : `${what}${where}`;
  const lines = [`${verb}: ${init.detail ?? providerErrorCatalogue[code].message} [${code}]`];
  const answer = init.answer;
  if (answer) {
    const said = [answer.code, answer.message].filter((s) => s !== undefined && s !== "").join(": ");
    lines.push(`the data plane answered ${answer.status}${said ? ` ${said}` : ""}`);
    for (const issue of answer.issues ?? []) lines.push(`  ${issue.path || "(object)"}: ${issue.message}`);
  }
  if (init.hint) lines.push(init.hint);
  return lines.join("\n");
}
