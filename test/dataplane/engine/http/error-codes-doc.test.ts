import { readFileSync } from "node:fs";
import { resolve } from "node:path";
import { describe, expect, it } from "vitest";
import { ErrorCodes } from "../../../../dataplane/engine/http/error-codes";

/** The traffic engine's error codes and docs/errors.md ("Traffic errors") list the same codes. */
describe("traffic error codes", () => {
  it("docs/errors.md lists every code once, and nothing else", () => {
    const doc = readFileSync(resolve(__dirname, "../../../../docs/errors.md"), "utf8");
    const section = doc.slice(doc.indexOf("## Traffic errors"));
    const listed = [...section.matchAll(/^\|\s*`(BALLAST_[A-Z_]+)`\s*\|/gm)].map((m) => m[1]);
    expect(new Set(listed).size).toBe(listed.length);
    expect(listed.sort()).toEqual(Object.values(ErrorCodes).sort());
  });

  it("every code is in Ballast's namespace, none is undici's", () => {
    for (const code of Object.values(ErrorCodes)) expect(code).toMatch(/^BALLAST_[A-Z_]+$/);
  });
});
