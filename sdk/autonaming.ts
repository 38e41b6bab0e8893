import * as pulumi from "@pulumi/pulumi";
import { autonamePrefix, hasRandomParts, nameSeed } from "../provider/autoname";

/**
 * How a resource without an explicit `name` is named, honouring the stack's `pulumi:autonaming`
 * setting the way Pulumi's own providers do:
 *
 * ```yaml
 * config:
 *   pulumi:autonaming:
 *     mode: default | verbatim | disabled    # or
 *     pattern: ${name}-${hex(6)}             # ${name} ${project} ${stack} ${organization} ${config.<key>}
 *                                            # ${hex(n)} ${alphanum(n)} ${string(n)} ${num(n)} ${uuid}
 *     providers:
 *       pulumi-nodejs:                       # Ballast's resources are dynamic: this provider
 *         mode: ... | pattern: ...
 *         resources:
 *           "pulumi-nodejs:dynamic/ballast:Listener": { mode: ... | pattern: ... }
 * ```
 *
 * The most specific entry wins (resource type, then provider, then the top level). The engine does
 * not hand this setting to dynamic providers, so the sdk reads it from the program's config.
 */

/** One level of the `pulumi:autonaming` setting. */
export interface AutonamingRule {
  /** `default` (Ballast's `<name>-<7 hex>`), `verbatim` (the logical name as is) or `disabled` (a `name` is required). */
  mode?: "default" | "verbatim" | "disabled";
  /** A name pattern; see the top of this file. */
  pattern?: string;
}

/** The `pulumi:autonaming` config value. */
export interface AutonamingConfig extends AutonamingRule {
  /** Per provider; Ballast's resources belong to `pulumi-nodejs`. */
  providers?: Record<string, AutonamingRule & { resources?: Record<string, AutonamingRule> }>;
}

/** The naming properties the provider's `check` works from. */
export interface Naming {
  /** An explicit name (given, verbatim, or a pattern without random parts). */
  name?: pulumi.Input<string>;
  /** Default mode: the prefix of `<prefix>-<7 hex>`. */
  namePrefix?: string;
  /** A pattern whose random parts `check` fills. */
  namePattern?: string;
  /** Makes the name the same in preview and up (see provider/check.ts). */
  nameSeed?: string;
  /** True when `pulumi:autonaming` disables autonaming and no name was given. */
  disabled?: boolean;
}

/** The dynamic provider package every Ballast resource belongs to. */
const PROVIDER = "pulumi-nodejs";

/** The rule that applies to a resource type: the most specific one of the config. */
export function ruleFor(config: AutonamingConfig | undefined, type: string): AutonamingRule {
  if (!config) return {};
  const provider = config.providers?.[PROVIDER];
  const pick = (r: AutonamingRule | undefined) => (r && (r.mode !== undefined || r.pattern !== undefined) ? r : undefined);
  return pick(provider?.resources?.[type]) ?? pick(provider) ?? pick(config) ?? {};
}

/** The naming of a resource: from its explicit name, else from the autonaming rule. */
export function namingFor(logicalName: string, type: string, explicit: pulumi.Input<string> | undefined, config?: AutonamingConfig): Naming {
  if (explicit !== undefined) return { name: explicit };
  const rule = ruleFor(config ?? readAutonamingConfig(), type);
  const seed = nameSeed(pulumi.getProject(), pulumi.getStack(), type, logicalName);
  if (rule.mode === "disabled") return { disabled: true };
  if (rule.mode === "verbatim") return { name: logicalName };
  if (rule.pattern !== undefined) {
    const filled = fillPattern(rule.pattern, logicalName);
    return hasRandomParts(filled) ? { namePattern: filled, nameSeed: seed } : { name: filled };
  }
  return { namePrefix: autonamePrefix(logicalName), nameSeed: seed };
}

/** Fills the parts of a pattern known in the program; the random parts are left to `check`. */
export function fillPattern(pattern: string, logicalName: string): string {
  return pattern.replace(/\$\{(name|project|stack|organization|config\.([\w:-]+))\}/g, (_all, part: string, key: string | undefined) => {
    if (key !== undefined) return new pulumi.Config().get(key) ?? "";
    if (part === "name") return logicalName;
    if (part === "project") return pulumi.getProject();
    if (part === "stack") return pulumi.getStack();
    return pulumi.getOrganization();
  });
}

function readAutonamingConfig(): AutonamingConfig | undefined {
  try {
    return new pulumi.Config("pulumi").getObject<AutonamingConfig>("autonaming");
  } catch {
    return undefined; // not an object: Pulumi's engine reports its own setting
  }
}
