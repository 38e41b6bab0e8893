import fc from "fast-check";
import { describe, expect, test } from "vitest";
import { cookieName, readCookie } from "../../../../dataplane/engine/http/cookie";

/** The straightforward reading (split on `;`, split on the first `=`, trim): the reference. */
function reference(raw: readonly string[], name: string): string | undefined {
  for (let i = 0; i < raw.length; i += 2) {
    if (raw[i]!.toLowerCase() !== "cookie") continue;
    for (const part of raw[i + 1]!.split(";")) {
      const eq = part.indexOf("=");
      if (eq === -1 || part.slice(0, eq).trim() !== name) continue;
      let value = part.slice(eq + 1).trim();
      if (value.length >= 2 && value.startsWith('"') && value.endsWith('"')) value = value.slice(1, -1);
      return value;
    }
  }
  return undefined;
}

describe("readCookie", () => {
  const name = cookieName("web");

  test.each([
    ["the only cookie", "BALLAST_web=abc", "abc"],
    ["among others, with spaces", "a=1; BALLAST_web=abc; b=2", "abc"],
    ["spaces and tabs around name, = and value", "a=1;\t BALLAST_web \t= \tabc ;b=2", "abc"],
    ["a quoted value", 'BALLAST_web="abc"', "abc"],
    ["an empty value", "BALLAST_web=; b=2", ""],
    ["the first of two", "BALLAST_web=one; BALLAST_web=two", "one"],
    ["not a longer name", "BALLAST_web2=abc; xBALLAST_web=abc", undefined],
    ["not a pair without =", "BALLAST_web; b=2", undefined],
    ["not a value that merely contains the name", "a=BALLAST_web=abc", undefined],
  ])("%s", (_what, header, expected) => {
    expect(readCookie(["Host", "x", "Cookie", header], name)).toBe(expected);
  });

  test("looks through every Cookie header, whatever its case", () => {
    expect(readCookie(["cookie", "a=1", "COOKIE", "BALLAST_web=abc"], name)).toBe("abc");
    expect(readCookie(["Host", "x"], name)).toBeUndefined();
  });

  test("property: reads what the straightforward split-and-trim reading reads", () => {
    const piece = fc.constantFrom("BALLAST_web", "BALLAST_we", "BALLAST_web2", "a", "=", ";", " ", "\t", '"', "x", "b=2", "BALLAST_web=v");
    const header = fc.array(piece, { maxLength: 12 }).map((p) => p.join(""));
    fc.assert(
      fc.property(fc.array(fc.tuple(fc.constantFrom("Cookie", "cookie", "Host"), header), { maxLength: 3 }), (pairs) => {
        const raw = pairs.flat();
        expect(readCookie(raw, name)).toBe(reference(raw, name));
      }),
      { numRuns: 2000 },
    );
  });
});
