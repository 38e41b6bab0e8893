import { readdirSync, readFileSync, statSync } from "node:fs";
import { join, relative, resolve } from "node:path";
import { describe, expect, test } from "vitest";

/**
 * The dependency rule of docs/architecture.md, checked on the sources: sdk → provider → model ←
 * dataplane, nothing imports sdk/ or dataplane/ from outside, model/ imports zod only, and no
 * console.* in product code (logs go through dataplane/log.ts).
 */

const ROOT = resolve(__dirname, "../..");
const PARTS = ["model", "dataplane", "provider", "sdk", "program"] as const;
type Part = (typeof PARTS)[number];

function sources(dir: string): string[] {
  const out: string[] = [];
  for (const name of readdirSync(dir)) {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) out.push(...sources(path));
    else if (name.endsWith(".ts") && !name.endsWith(".d.ts")) out.push(path);
  }
  return out;
}

/** Every module specifier a file imports or requires. */
function imports(file: string): string[] {
  const text = readFileSync(file, "utf8");
  const found: string[] = [];
  for (const m of text.matchAll(/(?:import|export)\s[^;]*?from\s+"([^"]+)"|import\s+"([^"]+)"|require\(\s*"([^"]+)"\s*\)/g)) {
    found.push((m[1] ?? m[2] ?? m[3])!);
  }
  return found;
}

/** The part a relative import lands in, or the package name of a bare one. */
function target(file: string, spec: string): { part?: Part; pkg?: string } {
  if (!spec.startsWith(".")) return { pkg: spec.startsWith("@") ? spec.split("/").slice(0, 2).join("/") : spec.split("/")[0]! };
  const top = relative(ROOT, resolve(file, "..", spec)).split("/")[0] as Part;
  return { part: top };
}

const allowed: Record<Part, readonly Part[]> = {
  model: ["model"],
  dataplane: ["dataplane", "model"],
  provider: ["provider", "model"],
  sdk: ["sdk", "provider", "model"],
  program: ["program", "sdk", "model"],
};

describe("architecture", () => {
  for (const part of PARTS) {
    test(`${part}/ imports only ${allowed[part].join(", ")}${part === "model" ? " and zod" : ""}`, () => {
      const wrong: string[] = [];
      for (const file of sources(join(ROOT, part))) {
        for (const spec of imports(file)) {
          const t = target(file, spec);
          if (t.part && !allowed[part].includes(t.part)) wrong.push(`${relative(ROOT, file)} imports ${spec}`);
          if (part === "model" && t.pkg && t.pkg !== "zod") wrong.push(`${relative(ROOT, file)} imports ${spec}`);
        }
      }
      expect(wrong).toEqual([]);
    });
  }

  test("no console.* in product code (logs are JSON data from the logger)", () => {
    const offenders = PARTS.flatMap((part) =>
      sources(join(ROOT, part))
        .filter((f) => /\bconsole\.(log|error|warn|info|debug)\(/.test(readFileSync(f, "utf8")))
        .map((f) => relative(ROOT, f)),
    );
    expect(offenders.filter((f) => !f.startsWith("program/"))).toEqual([]);
  });

  test("the checker sees imports (it would catch a violation)", () => {
    const file = join(ROOT, "provider", "x.ts");
    expect(target(file, "../dataplane/main")).toEqual({ part: "dataplane" });
    expect(target(file, "@pulumi/pulumi/dynamic")).toEqual({ pkg: "@pulumi/pulumi" });
    expect(imports(join(ROOT, "dataplane", "config", "snapshot.ts"))).toContain("../../model");
  });
});
