import type { CheckFailure, CheckResult } from "@pulumi/pulumi/dynamic";
import { fieldIssues, formatPath, kinds, type Kind } from "../model";
import { autoname, expandPattern, seededRandom } from "./autoname";
import { specFields, type Props } from "./props";
import { isUnknown, unknownPaths } from "./unknown";

/**
 * `check`: validates a resource's inputs with the model's zod schema (the same one the data plane
 * uses) and returns every failure at once, each with its property path and the limit it breaks, so
 * one `pulumi preview` shows all mistakes. Valid inputs come back with the schema's defaults filled,
 * so that later diffs compare like with like. Values not known yet (preview) are not judged.
 */
export function checkInputs(
  kind: Kind,
  olds: Props,
  news: Props,
  random?: (bytes: number) => Buffer,
  attempt = 0,
): CheckResult<Props> {
  const failures: CheckFailure[] = [...connectionFailures(news)];
  if (news.adopt !== undefined && typeof news.adopt !== "boolean" && !isUnknown(news.adopt)) {
    failures.push({ property: "adopt", reason: "must be true or false" });
  }

  const { name, autonamed } = resolveName(olds, news, random, attempt);
  const spec = { ...specFields(news), ...(name === undefined ? {} : { name }) };
  const unknowns = unknownPaths(spec).map(formatPath);
  const result = kinds[kind].schema.safeParse(spec);
  // An issue about a value not known yet, or about a parent of one (a uniqueness rule over a list
  // holding an unknown address), is not a real failure: the next check, at `up`, will judge it.
  const issues = result.success
    ? []
    : fieldIssues(result.error).filter((i) => !unknowns.some((u) => pathUnder(i.path, u) || pathUnder(u, i.path)));
  failures.push(...issues.map((i) => ({ property: i.path, reason: i.message })));

  const providerInputs: Props = { adminUrl: news.adminUrl, adminToken: news.adminToken };
  if (news.adopt !== undefined) providerInputs.adopt = news.adopt;
  if (news.adminUrls !== undefined) providerInputs.adminUrls = news.adminUrls;
  if (autonamed) {
    for (const key of ["namePrefix", "namePattern", "nameSeed"] as const) if (news[key] !== undefined) providerInputs[key] = news[key];
  }
  const checked = result.success ? (result.data as Props) : spec;
  const inputs = { ...checked, ...providerInputs };
  return failures.length === 0 ? { inputs } : { inputs, failures };
}

/**
 * The object's name: the explicit `name`; else the name this resource already has (an autonamed
 * resource keeps its name while it lives, also when it is renamed with `aliases` and its prefix
 * changes); else a new one: `<namePrefix>-<7 hex>` or the `namePattern` filled in. With a
 * `nameSeed` (set by the sdk) the new name is the same on every run for the same `attempt`, so
 * preview shows the name `up` creates; the provider tries the next attempt when a name is taken.
 * On a replacement Pulumi checks again without olds: the taken name (the old object's) moves it on.
 */
function resolveName(
  olds: Props,
  news: Props,
  random?: (bytes: number) => Buffer,
  attempt = 0,
): { name: unknown; autonamed: boolean } {
  if (news.name !== undefined) return { name: news.name, autonamed: false };
  const prefix = news.namePrefix;
  const pattern = news.namePattern;
  const usable = (v: unknown): v is string => typeof v === "string" && !isUnknown(v);
  if (!usable(prefix) && !usable(pattern)) return { name: undefined, autonamed: false };
  const wasAutonamed = usable(olds.namePrefix) || usable(olds.namePattern);
  if (wasAutonamed && usable(olds.name)) return { name: olds.name, autonamed: true };
  const source = random ?? (usable(news.nameSeed) ? seededRandom(news.nameSeed, attempt) : undefined);
  if (usable(pattern)) return { name: expandPattern(pattern, source), autonamed: true };
  return { name: autoname(prefix as string, source), autonamed: true };
}

function connectionFailures(news: Props): CheckFailure[] {
  const out: CheckFailure[] = [];
  const { adminUrl, adminToken } = news;
  if (adminUrl === undefined) {
    out.push({ property: "adminUrl", reason: "is required: pass `balancer` (a Balancer, or { adminUrl, adminToken })" });
  } else if (!isUnknown(adminUrl) && !isHttpUrl(adminUrl)) {
    out.push({ property: "adminUrl", reason: "must be an http:// or https:// URL of the balancer's admin API" });
  }
  const { adminUrls } = news;
  if (adminUrls !== undefined && !isUnknown(adminUrls)) {
    if (!Array.isArray(adminUrls) || adminUrls.length === 0) out.push({ property: "adminUrls", reason: "must be a non-empty list of admin URLs" });
    else adminUrls.forEach((u, i) => {
      if (!isUnknown(u) && !isHttpUrl(u)) out.push({ property: `adminUrls[${i}]`, reason: "must be an http:// or https:// URL of a replica's admin API" });
    });
  }
  if (adminToken === undefined) {
    out.push({ property: "adminToken", reason: "is required: pass `balancer` (a Balancer, or { adminUrl, adminToken })" });
  } else if (!isUnknown(adminToken) && (typeof adminToken !== "string" || adminToken.length < 16)) {
    out.push({ property: "adminToken", reason: "must be the balancer's admin token (at least 16 characters)" });
  }
  return out;
}

function isHttpUrl(value: unknown): boolean {
  if (typeof value !== "string") return false;
  try {
    const url = new URL(value);
    return url.protocol === "http:" || url.protocol === "https:";
  } catch {
    return false;
  }
}

/** True when a dotted path (`servers[2].port`) is `prefix` or lies under it. */
function pathUnder(path: string, prefix: string): boolean {
  return prefix === "" || path === prefix || path.startsWith(`${prefix}.`) || path.startsWith(`${prefix}[`);
}
