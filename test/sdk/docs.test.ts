import { readdirSync, readFileSync } from "node:fs";
import { join, resolve } from "node:path";
import ts from "typescript";
import { describe, expect, it } from "vitest";
import { kinds, type Kind } from "../../model";

/**
 * Every public arg documents itself, in the schema's own words: an editor hover on an sdk arg says
 * what the schema's `.describe()` says (meaning, range, default, whether a change replaces).
 */

const sdkDir = resolve(__dirname, "../../sdk");
const read = (file: string) => readFileSync(join(sdkDir, file), "utf8");

/** JSDoc text with the comment markers removed and whitespace collapsed. */
function docText(source: string): string {
  const docs = source.match(/\/\*\*[\s\S]*?\*\//g) ?? [];
  return docs
    .map((d) => d.replace(/^\/\*\*|\*\/$/g, "").replace(/\n\s*\*\s?/g, " "))
    .join(" ")
    .replace(/\s+/g, " ");
}

/** Every `.describe()` text in a schema, with the field path it sits on. */
function descriptions(schema: unknown, path = "", out: [string, string][] = []): [string, string][] {
  const s = schema as { description?: string; _zod?: { def: Record<string, any> } };
  if (s.description) out.push([path, s.description]);
  const def = s._zod?.def;
  if (!def) return out;
  if (def.type === "object") for (const [k, v] of Object.entries(def.shape)) descriptions(v, path ? `${path}.${k}` : k, out);
  else if (def.type === "union") for (const o of def.options) descriptions(o, path, out);
  else if (def.type === "array") descriptions(def.element, `${path}[]`, out);
  else if (def.innerType) descriptions(def.innerType, path, out);
  return out;
}

const files: Record<Kind, string> = {
  "backend-services": "backend-service.ts",
  "server-groups": "server-group.ts",
  "health-checks": "health-check.ts",
  listeners: "listener.ts",
};

describe("sdk documentation", () => {
  describe.each(Object.entries(files) as [Kind, string][])("%s", (kind, file) => {
    const docs = docText(read(file));
    const described = [...new Map(descriptions(kinds[kind].schema).map(([p, t]) => [t, [p, t] as const])).values()].filter(
      ([path]) => path !== "name",
    );
    it.each(described)("documents %s with the schema's words", (_path, text) => {
      expect(docs).toContain(text);
    });
  });

  it("documents every property of every exported interface", () => {
    const missing: string[] = [];
    for (const file of readdirSync(sdkDir).filter((f) => f.endsWith(".ts"))) {
      const source = ts.createSourceFile(file, read(file), ts.ScriptTarget.ES2023, true);
      source.forEachChild((node) => {
        if (!ts.isInterfaceDeclaration(node) || !node.modifiers?.some((m) => m.kind === ts.SyntaxKind.ExportKeyword)) return;
        if (ts.getJSDocCommentsAndTags(node).length === 0) missing.push(`${file}: ${node.name.text}`);
        for (const member of node.members) {
          if (ts.getJSDocCommentsAndTags(member).length === 0) missing.push(`${file}: ${node.name.text}.${member.name?.getText(source)}`);
        }
      });
    }
    expect(missing).toEqual([]);
  });
});
