import { MAX_LISTENERS, backendProtocolFor, kindNames, type Certificate, type FieldIssue, type Kind, type Specs } from "../../model";
import { AdminError } from "../errors";
import { sortedObjects, type Collections } from "./collections";

/**
 * Integrity rules between objects (docs/admin-api.md, the rules under the endpoint table). The schemas check one
 * object; these check it against the others. Pure functions over `Collections`, so the store, the
 * state-file loader and the tests share them.
 *
 * - A reference to a missing object, or to a service of the wrong protocol, is a fault of the
 *   request body: 400 `invalid` with the field's path (`referenceIssues`).
 * - So is a listener certificate that TLS cannot load, or whose key is not the certificate's
 *   (`certificateIssues`): the schema only checks the PEM framing; this loads it the way the
 *   listeners will, before anything is applied.
 * - A clash with another object (a listener port taken, the 51st listener, a second health check of
 *   a service, a service protocol its listeners cannot take) is 409 `conflict` (`conflictOf`).
 * - Deleting something still referenced is 409 `in_use`, naming the referrers (`deletionGuard`).
 */

const quoted = (names: readonly string[]) => names.map((n) => `'${n}'`).join(", ");

/** Missing references and listener/service protocol mismatches of `spec`, each with its field path. */
export function referenceIssues<K extends Kind>(objects: Collections, kind: K, spec: Specs[K]): FieldIssue[] {
  const issues: FieldIssue[] = [];
  if (kind === "listeners") {
    const listener = spec as Specs["listeners"];
    const service = objects["backend-services"].get(listener.backendService);
    if (!service) {
      issues.push({ path: "backendService", message: `no backend service named '${listener.backendService}'` });
    } else {
      const wanted = backendProtocolFor(listener.protocol);
      if (service.protocol !== wanted) {
        issues.push({
          path: "backendService",
          message: `a ${listener.protocol} listener takes only ${wanted} backend services; '${service.name}' is ${service.protocol}`,
        });
      }
    }
  } else if (kind === "backend-services") {
    const service = spec as Specs["backend-services"];
    if (service.serverGroup !== undefined && !objects["server-groups"].has(service.serverGroup)) {
      issues.push({ path: "serverGroup", message: `no server group named '${service.serverGroup}'` });
    }
  } else if (kind === "health-checks") {
    const check = spec as Specs["health-checks"];
    if (!objects["backend-services"].has(check.backendService)) {
      issues.push({ path: "backendService", message: `no backend service named '${check.backendService}'` });
    }
  }
  return issues;
}

/**
 * Every 400 problem of `spec` that the schema cannot see: its references (`referenceIssues`) and,
 * for an https/tls listener, its certificate (`certificateIssues`).
 */
export function integrityIssues<K extends Kind>(objects: Collections, kind: K, spec: Specs[K]): FieldIssue[] {
  const issues = referenceIssues(objects, kind, spec);
  if (kind === "listeners") {
    const listener = spec as Specs["listeners"];
    if ("certificate" in listener && listener.certificate) issues.push(...certificateIssues(listener.certificate));
  }
  return issues;
}

/**
 * Loads `certificate` with `tls.createSecureContext`, as the https/tls listeners will, and returns
 * what is wrong with it, each issue at `certificate.chain`, `certificate.privateKey` or (when
 * OpenSSL's error cannot be pinned on either) `certificate`. Empty when it loads.
 *
 * The messages carry OpenSSL's fixed reason text at most, never the PEM text or any part of it.
 */
export function certificateIssues(certificate: Certificate): FieldIssue[] {
  if (loadError({ cert: certificate.chain, key: certificate.privateKey }) === undefined) return [];
  // Tell which half is at fault: each alone, then (both loadable) the pair.
  const issues: FieldIssue[] = [];
  const chainError = loadError({ cert: certificate.chain });
  if (chainError) {
    issues.push({ path: "certificate.chain", message: `is not a certificate chain TLS can load${reasonOf(chainError)}; give PEM certificates, the server's own first` });
  }
  const keyError = loadError({ key: certificate.privateKey });
  if (keyError) {
    const encrypted = keyError.code === "ERR_OSSL_BAD_DECRYPT" || /-----BEGIN ENCRYPTED PRIVATE KEY-----|Proc-Type: 4,ENCRYPTED/.test(certificate.privateKey);
    issues.push({
      path: "certificate.privateKey",
      message: encrypted
        ? "is encrypted; give the private key without a passphrase"
        : `is not a private key TLS can load${reasonOf(keyError)}; give an unencrypted PEM key (PKCS#8, PKCS#1 or SEC1)`,
    });
  }
  if (issues.length > 0) return issues;
  const pairError = loadError({ cert: certificate.chain, key: certificate.privateKey });
  if (pairError?.code === "ERR_OSSL_X509_KEY_VALUES_MISMATCH") {
    return [{ path: "certificate.privateKey", message: "does not match the certificate (the first one of certificate.chain, which must be the server's own)" }];
  }
  return [{ path: "certificate", message: `cannot be loaded by TLS${reasonOf(pairError)}` }];
}

type OpenSslError = Error & { code?: unknown; reason?: unknown };

function loadError(options: { cert?: string; key?: string }): OpenSslError | undefined {
  try {
    // Loaded here: a balancer without certificates never loads node:tls (idle RSS: docs/benchmarks.md).
    (require("node:tls") as typeof import("node:tls")).createSecureContext(options);
    return undefined;
  } catch (err) {
    return err instanceof Error ? err : new Error(String(err));
  }
}

/**
 * ` (OpenSSL: <reason>)` from OpenSSL's own reason string (a fixed text such as "no start line"),
 * or nothing. Never the error's whole message: only this short, input-free part is echoed.
 */
function reasonOf(err: OpenSslError | undefined): string {
  const reason = err?.reason;
  return typeof reason === "string" && /^[a-z0-9 ._-]{1,80}$/i.test(reason) ? ` (OpenSSL: ${reason})` : "";
}

/**
 * The first clash of `spec` with the other objects, or undefined. `spec` may already be in
 * `objects` under its own name (an update, or a whole state being checked): it never clashes with
 * itself.
 */
export function conflictOf<K extends Kind>(objects: Collections, kind: K, spec: Specs[K]): AdminError | undefined {
  if (kind === "listeners") {
    const listener = spec as Specs["listeners"];
    const others = sortedObjects(objects, "listeners").filter((l) => l.name !== listener.name);
    const holder = others.find((l) => l.port === listener.port);
    if (holder) {
      return new AdminError("conflict", `port ${listener.port} is already used by listener '${holder.name}'`, [
        { path: "port", message: `is already used by listener '${holder.name}'` },
      ]);
    }
    if (others.length >= MAX_LISTENERS) {
      return new AdminError("conflict", `a balancer has at most ${MAX_LISTENERS} listeners; delete one first`);
    }
  } else if (kind === "backend-services") {
    const service = spec as Specs["backend-services"];
    const mismatched = sortedObjects(objects, "listeners").filter(
      (l) => l.backendService === service.name && backendProtocolFor(l.protocol) !== service.protocol,
    );
    if (mismatched.length > 0) {
      return new AdminError(
        "conflict",
        `listeners ${quoted(mismatched.map((l) => l.name))} cannot take a ${service.protocol} backend service`,
        [{ path: "protocol", message: `is incompatible with listeners ${quoted(mismatched.map((l) => l.name))}` }],
      );
    }
  } else if (kind === "health-checks") {
    const check = spec as Specs["health-checks"];
    const existing = sortedObjects(objects, "health-checks").find(
      (h) => h.backendService === check.backendService && h.name !== check.name,
    );
    if (existing) {
      return new AdminError(
        "conflict",
        `backend service '${check.backendService}' already has health check '${existing.name}' (one per service)`,
        [{ path: "backendService", message: `already has health check '${existing.name}'` }],
      );
    }
  }
  return undefined;
}

/** 409 `in_use` when deleting `name` would leave a reference dangling; undefined when it may go. */
export function deletionGuard(objects: Collections, kind: Kind, name: string): AdminError | undefined {
  if (kind === "backend-services") {
    const users = sortedObjects(objects, "listeners").filter((l) => l.backendService === name).map((l) => l.name);
    if (users.length > 0) {
      return new AdminError("in_use", `backend service '${name}' is used by listeners ${quoted(users)}; delete or repoint them first`);
    }
  } else if (kind === "server-groups") {
    const users = sortedObjects(objects, "backend-services").filter((s) => s.serverGroup === name).map((s) => s.name);
    if (users.length > 0) {
      return new AdminError("in_use", `server group '${name}' is bound to backend services ${quoted(users)}; unbind them first`);
    }
  }
  return undefined;
}

/** Every integrity problem of a whole set of objects, as `kind/name: problem` lines (for the loader). */
export function integrityProblems(objects: Collections): string[] {
  const problems: string[] = [];
  for (const kind of kindNames) {
    for (const object of sortedObjects(objects, kind)) {
      const spec = object as unknown as Specs[typeof kind];
      for (const issue of integrityIssues(objects, kind, spec)) problems.push(`${kind}/${object.name}: ${issue.path}: ${issue.message}`);
      const clash = conflictOf(objects, kind, spec);
      if (clash) problems.push(`${kind}/${object.name}: ${clash.message}`);
    }
  }
  return problems;
}
