import * as pulumi from "@pulumi/pulumi";
import { backendProtocolFor, type Kind } from "../model";
import { checkInputs } from "../provider/check";
import { failureText } from "../provider/failure-text";
import { isUnknown, UNKNOWN } from "../provider/unknown";

/**
 * Every mistake of every resource in one `pulumi preview`.
 *
 * The engine stops a deployment at the first resource whose `check` fails, so a program with
 * mistakes in four resources would take four fix-and-rerun rounds. Most inputs are plain values,
 * known when the resource is constructed: the sdk judges them there with the provider's own
 * `checkInputs` (the model's schemas) plus the integrity rules it can see across resources, and
 * reports each mistake against its resource with `pulumi.log.error`. Registration of every Ballast
 * resource waits one turn of the event loop, until the reports of all resources constructed in that
 * turn have reached the engine; if there was any mistake, none is registered and the program fails
 * with one summary line: nothing is sent to any balancer. Values known only later (outputs of other
 * resources) are judged by the provider's `check`, which stays the authority.
 */

/** What the sdk knows about one resource at construction. */
export interface PreflightSubject {
  /** The kind of object (its admin API collection). */
  kind: Kind;
  /** Pulumi type token, for the resource's URN. */
  type: string;
  /** Pulumi logical name, for the resource's URN and for messages. */
  name: string;
  /** The resource options (its parent is part of its URN). */
  opts: pulumi.CustomResourceOptions | undefined;
  /** The provider's properties as the resource registers them (Inputs). */
  props: Record<string, unknown>;
  /** The balancer the resource lives on (`args.balancer`): a Balancer object or `{ adminUrl, adminToken }`. */
  balancer: unknown;
}

/** A mistake the sdk found: the field path and the complete line to show. */
export interface PreflightIssue {
  /** The field path, e.g. `servers[0].weight`. */
  path: string;
  /** The whole line shown: path, what is wrong, the value as written. */
  text: string;
}

const TITLES: Record<Kind, string> = {
  listeners: "Listener",
  "backend-services": "BackendService",
  "server-groups": "ServerGroup",
  "health-checks": "HealthCheck",
};

/** The value when it is known at construction; Pulumi's unknown marker where an Output or a promise stands. */
export function knownValue(value: unknown): unknown {
  if (value === undefined || value === null) return value;
  if (pulumi.Output.isInstance(value) || pulumi.Resource.isInstance(value) || isThenable(value)) return UNKNOWN;
  if (Array.isArray(value)) return value.map(knownValue);
  if (typeof value === "object") {
    return Object.fromEntries(Object.entries(value as Record<string, unknown>).map(([k, v]) => [k, knownValue(v)]));
  }
  return value;
}

/** The mistakes in one resource's own known inputs, judged as the provider's `check` judges them. */
export function ownIssues(kind: Kind, props: Record<string, unknown>): PreflightIssue[] {
  const known = knownValue(props) as Record<string, unknown>;
  const result = checkInputs(kind, {}, known);
  return (result.failures ?? []).map((f) => ({ path: f.property, text: failureText(f.property, f.reason, known) }));
}

/** Program-wide facts for the integrity rules that span resources, keyed by balancer. */
const serviceProtocols = new WeakMap<object, { protocol: unknown; name: string }>();
const checkedServices = new Map<unknown, Map<unknown, string>>();
const listenerPorts = new Map<unknown, Map<number, string>>();

/** The balancer's identity: the Balancer object, or its admin URL when written as a plain string. */
function balancerKey(balancer: unknown): unknown {
  if (pulumi.Resource.isInstance(balancer)) return balancer;
  const url = (balancer as { adminUrl?: unknown } | undefined)?.adminUrl;
  return typeof url === "string" ? url : undefined;
}

function claim<K>(table: Map<unknown, Map<K, string>>, balancer: unknown, key: K, owner: string): string | undefined {
  let byKey = table.get(balancer);
  if (byKey === undefined) table.set(balancer, (byKey = new Map()));
  const holder = byKey.get(key);
  if (holder === undefined) byKey.set(key, owner);
  return holder;
}

/**
 * The integrity rules the sdk can see across resources of one program, as the data plane applies
 * them: a listener takes a service of its protocol family (http/https → http, tcp/tls → tcp); a
 * service has at most one health check; a listener port is used once per balancer.
 */
export function crossIssues(subject: PreflightSubject, resource: object, args: Record<string, unknown>): PreflightIssue[] {
  const out: PreflightIssue[] = [];
  const label = `${TITLES[subject.kind]} "${subject.name}"`;
  const balancer = balancerKey(subject.balancer);
  if (subject.kind === "backend-services") {
    serviceProtocols.set(resource, { protocol: knownValue(args.protocol), name: subject.name });
  }
  if (subject.kind === "listeners") {
    const protocol = knownValue(args.protocol);
    const service = args.backendService;
    const target = typeof service === "object" && service !== null ? serviceProtocols.get(service) : undefined;
    if (target && ["http", "https", "tcp", "tls"].includes(protocol as string) && typeof target.protocol === "string" && !isUnknown(target.protocol)) {
      const wanted = backendProtocolFor(protocol as "http");
      if (target.protocol !== wanted) {
        out.push({
          path: "backendService",
          text: `backendService: a ${String(protocol)} listener needs a ${wanted} service; BackendService "${target.name}" is ${target.protocol}`,
        });
      }
    }
    const port = knownValue(args.port);
    if (balancer !== undefined && typeof port === "number") {
      const holder = claim(listenerPorts, balancer, port, subject.name);
      if (holder !== undefined) out.push({ path: "port", text: `port: ${port} is already the port of Listener "${holder}" on this balancer (got ${port})` });
    }
  }
  if (subject.kind === "health-checks") {
    const service = args.backendService;
    const key = typeof service === "object" && service !== null ? service : knownValue(service);
    if (balancer !== undefined && key !== undefined && !isUnknown(key)) {
      const holder = claim(checkedServices, balancer, key, subject.name);
      const serviceName = typeof key === "string" ? `"${key}"` : `"${serviceProtocols.get(key as object)?.name ?? "?"}"`;
      if (holder !== undefined) {
        out.push({ path: "backendService", text: `backendService: BackendService ${serviceName} already has HealthCheck "${holder}" (one health check per service)` });
      }
    }
  }
  return out;
}

const pendingReports: Promise<unknown>[] = [];
let failedResources = 0;
let failedIssues = 0;
let round: Promise<void> | undefined;
let failed = false;
/** The exit code of @pulumi/pulumi's run entry for "an error was already shown to the user". */
const ERROR_ALREADY_SHOWN = 32;

/**
 * Reports the issues against the resource (by its URN, which the engine would only give back on a
 * registration that must not happen) and counts them for the summary.
 */
export function report(subject: PreflightSubject, issues: ReadonlyArray<PreflightIssue>): void {
  if (issues.length === 0) return;
  failedResources++;
  failedIssues += issues.length;
  const urn = pulumi.createUrn(subject.name, subject.type, subject.opts?.parent);
  const against = { urn } as unknown as pulumi.Resource;
  for (const issue of issues) pendingReports.push(pulumi.log.error(issue.text, against));
}

/**
 * The value once this turn's reports are delivered. When any resource had a mistake it never
 * resolves, and the program fails with one summary error instead.
 */
export function afterPreflight<T>(value: pulumi.Input<T>): pulumi.Output<T> {
  return pulumi.output(currentRound().then(() => true)).apply(() => value) as pulumi.Output<T>;
}

function currentRound(): Promise<void> {
  if (round !== undefined) return round;
  const turn = new Promise<void>((resolve) => setImmediate(resolve))
    .then(() => Promise.allSettled(pendingReports.splice(0)))
    .then(() => {
      round = undefined;
      if (failedResources === 0) return;
      if (!failed) {
        failed = true;
        const summary =
          `ballast: ${failedIssues} mistake${failedIssues === 1 ? "" : "s"} in ${failedResources} resource${failedResources === 1 ? "" : "s"} ` +
          "(each listed above against its resource); the program stopped before sending any of them to the balancer";
        // Pulumi's run entry exits with 32 once it has shown an error itself, and language hosts
        // then fail the run without another message. A thrown error would be shown again with a
        // stack trace (the program's main has returned by now); a zero exit would let `up`
        // believe the program declares no Ballast resources and delete them.
        void pulumi.log.error(summary).then(() => {
          process.exitCode = ERROR_ALREADY_SHOWN;
        });
      }
      // No Ballast resource is registered: the engine would stop at the first one's `check`.
      return new Promise<void>(() => undefined);
    });
  round = turn;
  return turn;
}

function isThenable(value: unknown): boolean {
  return typeof value === "object" && value !== null && typeof (value as { then?: unknown }).then === "function";
}

/**
 * Judges a resource just constructed and reports its mistakes (see the top of this file). `props`
 * are its provider properties before `gated`, `args` what the program passed.
 */
export function preflight(resource: object, subject: PreflightSubject, args: Record<string, unknown>): void {
  const unnamed = ["name", "namePrefix", "namePattern"].every((k) => subject.props[k] === undefined);
  const own = ownIssues(subject.kind, subject.props).map((i) =>
    i.path === "name" && unnamed ? { ...i, text: `${i.text}: the stack's pulumi:autonaming setting disables autonaming for this resource; give \`name\`` } : i,
  );
  const imports: PreflightIssue[] =
    subject.opts?.import === undefined
      ? []
      : [{ path: "import", text: IMPORT_REFUSAL }];
  report(subject, [...imports, ...own, ...crossIssues(subject, resource, args)]);
}

/** Why `import` cannot work for Ballast's resources, and what to do instead. */
export const IMPORT_REFUSAL =
  "import: Ballast objects cannot be imported with the `import` option or `pulumi import`: Pulumi imports a dynamic " +
  "resource without its balancer's address and token, so nothing can read it. Declare the object with its `name` and " +
  "`adopt: true` instead: the first `pulumi up` takes it over (and `pulumi preview` shows what it changes).";

/** The properties to register: the same, with the admin URL held back until this turn's reports are in. */
export function gated(props: Record<string, unknown>): Record<string, unknown> {
  return { ...props, adminUrl: afterPreflight(props.adminUrl as pulumi.Input<string>) };
}
