import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { Name } from "../../model";
import { autoname, autonamePrefix, isAutonameOf, MAX_AUTONAME_PREFIX_LENGTH } from "../../provider/autoname";

describe("autonamePrefix", () => {
  it.each([
    ["web", "web"],
    ["Web_Frontend", "web-frontend"],
    ["api.v2", "api-v2"],
    ["9lives", "lives"],
    ["---", "ballast"],
    ["", "ballast"],
  ])("turns %j into %j", (logical, prefix) => {
    expect(autonamePrefix(logical)).toBe(prefix);
  });

  it("cuts long logical names so the full name fits in 63 characters", () => {
    expect(autonamePrefix("a".repeat(100))).toHaveLength(MAX_AUTONAME_PREFIX_LENGTH);
    expect(autoname(autonamePrefix("a".repeat(100)))).toHaveLength(63);
  });

  it("property: every logical name gives a valid Ballast name", () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 120 }), (logical) => Name.safeParse(autoname(autonamePrefix(logical))).success),
    );
  });
});

describe("autoname", () => {
  it("appends a dash and 7 random lowercase hex digits, like Pulumi's NewUniqueHex", () => {
    expect(autoname("web")).toMatch(/^web-[0-9a-f]{7}$/);
    expect(autoname("web", (n) => Buffer.alloc(n, 0xff))).toBe("web-fffffff");
  });

  it("gives different names on different calls", () => {
    const names = new Set(Array.from({ length: 50 }, () => autoname("web")));
    expect(names.size).toBeGreaterThan(45);
  });

  it("recognizes its own names", () => {
    expect(isAutonameOf(autoname("web"), "web")).toBe(true);
    expect(isAutonameOf("web-1234567", "api")).toBe(false);
    expect(isAutonameOf("web", "web")).toBe(false);
  });
});
