import type * as dynamic from "@pulumi/pulumi/dynamic";
import { changedImmutableFields, kinds, type Kind, type Specs } from "../model";
import { AdminClient, type AdminClientOptions, type BalancerConnection, type StoredObject } from "./admin-client";
import { diffProps } from "./diff";
import { deletedDependents, recordDeletion, referencesOf } from "./deletions";
import { engineFailures } from "./failure-text";
import { checkWithFreshName } from "./fresh-name";
import { liveIntegrityIssues } from "./live-integrity";
import { explained } from "./host-output";
import { tokenRefusal } from "./token-probe";
import { isProviderError, ProviderError } from "./errors";
import { connectionOf, outputsOf, specFields, type Props } from "./props";

/** Client settings a test may shorten; production uses the client's defaults. */
export type ClientSettings = Omit<AdminClientOptions, "adminUrl" | "adminToken">;

type Operation = "create" | "read" | "update" | "delete";

/** The operation's result; a `ProviderError` is marked explained (see `host-output.ts`) on its way out. */
async function explaining<T>(operation: Promise<T>): Promise<T> {
  try {
    return await operation;
  } catch (err) {
    throw isProviderError(err) ? explained(err) : err;
  }
}

/**
 * The dynamic provider of one kind of Ballast object. Decisions live in pure helpers (`checkInputs`,
 * `diffProps`); the CRUD methods drive the balancer's admin API and add to every failure what the
 * user should do about it. A fresh client per call: nothing outlives a provider method.
 */
export class BallastResourceProvider implements dynamic.ResourceProvider {
  readonly #title: string;

  constructor(
    readonly kind: Kind,
    readonly settings: ClientSettings = {},
  ) {
    this.#title = kinds[kind].title;
  }

  /**
   * `checkInputs`, with each failure's path and value written into its reason (see
   * `failure-text.ts`), plus a refused admin token: one probe per balancer and token per run, so a
   * wrong token fails `pulumi preview` with that message instead of showing an update.
   */
  async check(olds: Props, news: Props): Promise<dynamic.CheckResult> {
    const connection = connectionOf(news ?? {});
    const result = await checkWithFreshName(this.kind, olds ?? {}, news ?? {}, connection, this.settings);
    const failures = engineFailures(result.failures ?? [], news ?? {});
    if (connection && !failures.some((f) => /^admin(Url|Token)\b/.test(f.reason))) {
      const refused = await tokenRefusal(connection, this.kind, this.settings);
      if (refused !== undefined) failures.push({ property: "", reason: refused });
      else if (failures.length === 0 && olds?.backendService !== news?.backendService) {
        for (const reason of await liveIntegrityIssues(this.kind, result.inputs ?? {}, connection, this.settings)) failures.push({ property: "", reason });
      }
    }
    return failures.length === 0 ? { inputs: result.inputs } : { inputs: result.inputs, failures };
  }

  async diff(_id: string, olds: Props, news: Props): Promise<dynamic.DiffResult> {
    const { changed: _changed, ...result } = diffProps(this.kind, olds ?? {}, news ?? {});
    return result;
  }

  /** POST; with `adopt`, an existing object of the same name is read and brought to the declared state. */
  async create(inputs: Props): Promise<dynamic.CreateResult> {
    return explaining(this.#create(inputs));
  }

  async read(id: string, props?: Props): Promise<dynamic.ReadResult> {
    return explaining(this.#read(id, props));
  }

  async update(id: string, olds: Props, news: Props): Promise<dynamic.UpdateResult> {
    return explaining(this.#update(id, olds, news));
  }

  async delete(id: string, props: Props): Promise<void> {
    return explaining(this.#delete(id, props));
  }

  async #create(inputs: Props): Promise<dynamic.CreateResult> {
    const connection = this.#connection(inputs, "create", inputs.name);
    const spec = specFields(inputs) as Props & { name: string };
    return this.#withClient(connection, async (client) => {
      let stored: StoredObject;
      try {
        stored = await client.create(this.kind, spec);
      } catch (err) {
        if (!isProviderError(err, "BALLAST_PROVIDER_ALREADY_EXISTS")) throw err;
        if (inputs.adopt !== true) {
          throw new ProviderError("BALLAST_PROVIDER_ALREADY_EXISTS", {
            operation: "create",
            balancer: client.adminUrl,
            resource: { kind: this.#title, name: spec.name },
            ...(err.answer ? { answer: err.answer } : {}),
            hint:
              "To manage the existing object with Pulumi, set `adopt: true` on the resource (`pulumi import` " +
              "cannot import dynamic resources); otherwise choose another name, or omit `name` to autoname.",
          });
        }
        stored = await this.#adopt(client, spec);
      }
      return { id: stored.name, outs: outputsOf(stored, connection) };
    });
  }

  /** GET; a missing object returns no id, so `pulumi refresh` drops it from the state. */
  async #read(id: string, props?: Props): Promise<dynamic.ReadResult> {
    const connection = this.#connection(props ?? {}, "read", id);
    return this.#withClient(connection, async (client) => {
      const live = await client.get(this.kind, id);
      if (live === undefined) return {};
      return { id: live.name, props: outputsOf(live, connection) };
    });
  }

  /** PUT with `If-Match` of the version Pulumi knows; a stale version means someone else changed it. */
  async #update(id: string, olds: Props, news: Props): Promise<dynamic.UpdateResult> {
    const connection = this.#connection(news, "update", id);
    const spec = specFields(news);
    const known = typeof olds.version === "number" ? olds.version : undefined;
    return this.#withClient(connection, async (client) => {
      try {
        const stored = await client.put(this.kind, id, spec, known);
        return { outs: outputsOf(stored, connection) };
      } catch (err) {
        if (isProviderError(err, "BALLAST_PROVIDER_STALE")) throw await this.#staleError(client, id, known, err);
        if (isProviderError(err, "BALLAST_PROVIDER_NOT_FOUND")) {
          throw this.#withHint(err, "update", client, id, "It was deleted behind Pulumi's back: run `pulumi refresh`, then `pulumi up` to create it again.");
        }
        throw err;
      }
    });
  }

  /**
   * DELETE; 404 is success (already gone); 409 in_use names what still uses the object and what this
   * run already deleted that depended on it (the next `up` of a fixed program creates those again).
   */
  async #delete(id: string, props: Props): Promise<void> {
    const connection = this.#connection(props, "delete", id);
    await this.#withClient(connection, async (client) => {
      try {
        await client.delete(this.kind, id);
        recordDeletion({ kind: this.kind, name: id, balancer: client.adminUrl, refersTo: referencesOf(props) });
      } catch (err) {
        if (isProviderError(err, "BALLAST_PROVIDER_IN_USE")) {
          const gone = deletedDependents(client.adminUrl, this.kind, id).map((d) => `${kinds[d.kind].title} "${d.name}"`);
          const already = gone.length === 0
            ? ""
            : ` Already deleted in this run because they depended on it: ${gone.join(", ")}; if you keep this ${this.#title} in the program, the next \`pulumi up\` creates them again.`;
          throw this.#withHint(err, "delete", client, id, `Delete those first, or point them at another object; objects Pulumi manages are deleted in dependency order when they refer to this resource by object rather than by name.${already}`);
        }
        throw err;
      }
    });
  }

  /** `adopt: true`: the object exists; bring it to the declared state unless an immutable field differs. */
  async #adopt(client: AdminClient, spec: Props & { name: string }): Promise<StoredObject> {
    const live = await client.get(this.kind, spec.name);
    if (live === undefined) return client.create(this.kind, spec); // deleted in between: create it
    const { version, ...liveSpec } = live;
    const immutable = changedImmutableFields(this.kind, liveSpec as unknown as Specs[Kind], spec as unknown as Specs[Kind]);
    if (immutable.length > 0) {
      const fields = immutable.map((f) => `${f} is ${JSON.stringify(liveSpec[f])} on the balancer, ${JSON.stringify(spec[f])} declared`);
      throw new ProviderError("BALLAST_PROVIDER_IMMUTABLE", {
        operation: "adopt",
        balancer: client.adminUrl,
        resource: { kind: this.#title, name: spec.name },
        detail: `the existing object cannot be adopted: ${fields.join("; ")}`,
        hint: "Declare those fields as they are, or delete the object from the balancer and let Pulumi create it.",
      });
    }
    return client.put(this.kind, spec.name, spec, version);
  }

  async #staleError(client: AdminClient, id: string, known: number | undefined, cause: ProviderError): Promise<ProviderError> {
    let live: StoredObject | undefined;
    try {
      live = await client.get(this.kind, id);
    } catch {
      live = undefined;
    }
    const now = live === undefined ? "it is gone from the balancer" : `the balancer has version ${live.version}`;
    return new ProviderError("BALLAST_PROVIDER_STALE", {
      operation: "update",
      balancer: client.adminUrl,
      resource: { kind: this.#title, name: id },
      detail: `it changed behind Pulumi's back (Pulumi knows version ${known ?? "?"}, ${now})`,
      hint: "Run `pulumi refresh` to take in the live object, then `pulumi up` to apply the program again.",
      ...(cause.answer ? { answer: cause.answer } : {}),
      cause,
    });
  }

  #withHint(err: ProviderError, operation: Operation, client: AdminClient, id: string, hint: string): ProviderError {
    return new ProviderError(err.code, {
      operation,
      balancer: client.adminUrl,
      resource: { kind: this.#title, name: id },
      ...(err.answer ? { answer: err.answer } : {}),
      hint,
      cause: err,
    });
  }

  #connection(props: Props, operation: Operation, name: unknown): BalancerConnection {
    const connection = connectionOf(props);
    if (connection) return connection;
    throw new ProviderError("BALLAST_PROVIDER_NO_BALANCER", {
      operation,
      resource: { kind: this.#title, name: String(name ?? "?") },
      detail: "adminUrl and adminToken are missing from its properties",
      hint:
        "Pass `balancer` to the resource. `pulumi import` cannot import dynamic resources: declare the " +
        "object with `adopt: true` instead.",
    });
  }

  async #withClient<T>(connection: BalancerConnection, use: (client: AdminClient) => Promise<T>): Promise<T> {
    const client = new AdminClient({ ...this.settings, ...connection });
    try {
      return await use(client);
    } finally {
      await client.close();
    }
  }
}
