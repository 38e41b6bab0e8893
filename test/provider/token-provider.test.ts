import { describe, expect, it } from "vitest";
import { provider } from "../../provider/impl";
import { tokenProvider } from "../../provider/token-provider";

describe("tokenProvider", () => {
  it("makes 32 random bytes, hex-encoded, with an id that does not reveal them", async () => {
    const inputs = (await tokenProvider.check!({}, {})).inputs;
    expect(inputs).toEqual({ bytes: 32 });
    const a = await tokenProvider.create(inputs);
    const b = await tokenProvider.create(inputs);
    expect(a.outs.value).toMatch(/^[0-9a-f]{64}$/);
    expect(a.outs.value).not.toBe(b.outs.value);
    expect(a.outs.value).not.toContain(a.id);
  });

  it("never changes unless its size does, and reads back what it stored", async () => {
    const { id, outs } = await tokenProvider.create({ bytes: 16 });
    expect(await tokenProvider.diff!(id, outs, { bytes: 16 })).toEqual({ changes: false });
    expect(await tokenProvider.diff!(id, outs, { bytes: 32 })).toEqual({ changes: true, replaces: ["bytes"] });
    expect(await tokenProvider.read!(id, outs)).toEqual({ id, props: outs });
  });

  it("refuses a size out of range", async () => {
    expect((await tokenProvider.check!({}, { bytes: 8 })).failures).toEqual([{ property: "bytes", reason: "must be a whole number from 16 to 256" }]);
  });
});

describe("impl.provider", () => {
  it("serves every key a stored shim may ask for, and refuses others", () => {
    for (const key of ["listeners", "backend-services", "server-groups", "health-checks", "token"]) {
      expect(provider(key)).toBe(provider(key));
    }
    expect(() => provider("gateways")).toThrow(/no provider for "gateways"/);
  });
});
