import { describe, expect, it } from "vitest";
import { engineFailures, failureText, valueAt } from "../../provider/failure-text";
import { UNKNOWN } from "../../provider/unknown";

describe("failureText", () => {
  it("writes the path, the limit and the value as the program wrote it, nested ones included", () => {
    const props = { port: 70000, sessionPersistence: { type: "insert-cookie", cookieTimeout: 99999 }, servers: [{ address: "a", weight: 150 }] };
    expect(failureText("port", "must be a whole number from 1 to 65535", props)).toBe("port: must be a whole number from 1 to 65535 (got 70000)");
    expect(failureText("sessionPersistence.cookieTimeout", "must be x", props)).toBe("sessionPersistence.cookieTimeout: must be x (got 99999)");
    expect(failureText("servers[0].weight", "must be x", props)).toBe("servers[0].weight: must be x (got 150)");
    expect(failureText("sessionPersistence", "bad", props)).toBe('sessionPersistence: bad (got {"type":"insert-cookie","cookieTimeout":99999})');
  });

  it("leaves the value out when it is missing, unknown or secret", () => {
    expect(failureText("protocol", "is required", {})).toBe("protocol: is required");
    expect(failureText("port", "must be x", { port: UNKNOWN })).toBe("port: must be x");
    const cert = { certificate: { chain: "c", privateKey: "-----BEGIN PRIVATE KEY----- secret" } };
    expect(failureText("certificate.privateKey", "must be a PEM private key", cert)).not.toContain("secret");
  });

  it("hands the engine failures without a property, so it never prints `{<nil>}` for a nested path", () => {
    const out = engineFailures([{ property: "servers[1].port", reason: "must be x" }], { servers: [{}, { port: 0 }] });
    expect(out).toEqual([{ property: "", reason: "servers[1].port: must be x (got 0)" }]);
  });

  it("valueAt walks dotted and indexed paths", () => {
    expect(valueAt({ a: [{ b: 1 }] }, "a[0].b")).toEqual({ found: true, value: 1 });
    expect(valueAt({ a: [] }, "a[3].b")).toEqual({ found: false });
  });
});
