import * as pulumi from "@pulumi/pulumi";
import { isKind, type Kind } from "../../model";
import { checkInputs } from "../../provider/check";

/** One resource registration seen by the mocks. */
export interface Registered {
  type: string;
  name: string;
  /** Inputs as the provider sees them (secrets unwrapped). */
  inputs: Record<string, any>;
  /** Top-level inputs that were secret. */
  secretInputs: string[];
  /** The resource options' additionalSecretOutputs. */
  additionalSecretOutputs: string[];
  /** URNs this resource depends on (explicit and through its inputs). */
  dependencies: string[];
  /** The deleteBeforeReplace option. */
  deleteBeforeReplace: boolean;
  state: Record<string, any>;
}

const SIG = "4dabf18193072939515e22adb298388d";
const SECRET = "1b47061264138c4ac30d75fd1eb44270";

function isSecretValue(v: unknown): v is { value: unknown } {
  return typeof v === "object" && v !== null && (v as Record<string, unknown>)[SIG] === SECRET;
}

/** Strips secret markers, as the engine does for a provider that does not accept secrets. */
function unwrap(v: unknown): unknown {
  if (isSecretValue(v)) return unwrap(v.value);
  if (Array.isArray(v)) return v.map(unwrap);
  if (v && typeof v === "object") return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, unwrap(x)]));
  return v;
}

function containsSecret(v: unknown): boolean {
  if (isSecretValue(v)) return true;
  if (Array.isArray(v)) return v.some(containsSecret);
  if (v && typeof v === "object") return Object.values(v).some(containsSecret);
  return false;
}

const secret = (value: unknown) => ({ [SIG]: SECRET, value });

const DYNAMIC = "pulumi-nodejs:dynamic/ballast:";
const kindOfType: Record<string, Kind> = {
  Listener: "listeners",
  BackendService: "backend-services",
  ServerGroup: "server-groups",
  HealthCheck: "health-checks",
};

/**
 * Installs Pulumi mocks that behave like the engine for Ballast's dynamic resources: `check` (the
 * provider's own, pure) fills names and defaults, and the "created" object carries version 1.
 * Docker resources echo their inputs (plus a digest for images). Returns what was registered.
 */
export function installMocks(): Registered[] {
  const registered: Registered[] = [];
  const options = new Map<string, { additionalSecretOutputs: string[]; dependencies: string[]; deleteBeforeReplace: boolean }>();
  pulumi.runtime.setMocks(
    {
      newResource(args) {
        const { __provider: _p, ...raw } = args.inputs as Record<string, any>;
        const inputs = unwrap(raw) as Record<string, any>;
        const secretInputs = Object.keys(raw).filter((k) => containsSecret(raw[k]));
        let state: Record<string, any> = { ...inputs };
        let id = `${args.name}-id`;
        if (args.type.startsWith(DYNAMIC)) {
          const kind = kindOfType[args.type.slice(DYNAMIC.length)];
          if (kind && isKind(kind)) {
            const result = checkInputs(kind, {}, inputs);
            if (result.failures) throw new Error(JSON.stringify(result.failures));
            const { namePrefix: _n, adopt: _a, ...checked } = result.inputs as Record<string, any>;
            state = { ...checked, version: 1 };
            id = state.name;
          } else if (args.type === `${DYNAMIC}Token`) {
            state = { bytes: inputs.bytes ?? 32, value: "f".repeat(64) };
          }
        }
        if (args.type === "docker:index/image:Image") state.repoDigest = "sha256:0123abcd";
        if (args.type === "docker:index/volume:Volume") state.name = `${args.name}-vol`;
        const opts = options.get(args.name) ?? { additionalSecretOutputs: [], dependencies: [], deleteBeforeReplace: false };
        const { additionalSecretOutputs } = opts;
        registered.push({ type: args.type, name: args.name, inputs, secretInputs, ...opts, state });
        // Like the engine: outputs named in additionalSecretOutputs, or fed by a secret input, are secret.
        const marked = Object.fromEntries(
          Object.entries(state).map(([k, v]) => [k, additionalSecretOutputs.includes(k) || secretInputs.includes(k) ? secret(v) : v]),
        );
        return { id, state: marked };
      },
      call(args) {
        return args.inputs;
      },
    },
    "ballast-test",
    "dev",
    false,
  );
  const monitor = pulumi.runtime.getMonitor() as unknown as { registerResource: (req: any, cb: any) => void };
  const register = monitor.registerResource.bind(monitor);
  monitor.registerResource = (req, cb) => {
    options.set(req.getName(), {
      additionalSecretOutputs: req.getAdditionalsecretoutputsList(),
      dependencies: req.getDependenciesList(),
      deleteBeforeReplace: req.getDeletebeforereplace(),
    });
    register(req, cb);
  };
  return registered;
}

/** The resolved value of an output. */
export function valueOf<T>(output: pulumi.Output<T>): Promise<T> {
  return new Promise((resolve) => output.apply((v) => resolve(v)));
}

/** Whether an output is secret. */
export function isSecret(output: pulumi.Output<unknown>): Promise<boolean> {
  return pulumi.isSecret(output);
}

/** Waits until every registration started so far has reached the mocks. */
export async function settled(...resources: pulumi.Resource[]): Promise<void> {
  await Promise.all(resources.map((r) => valueOf(r.urn)));
}
