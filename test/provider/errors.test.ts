import { describe, expect, it } from "vitest";
import { codeForAnswer, readAnswer } from "../../provider/admin-client";
import { isProviderError, ProviderError, providerErrorCatalogue } from "../../provider/errors";

describe("ProviderError", () => {
  it("names the operation, the resource, the balancer, the data plane's answer and every issue path", () => {
    const err = new ProviderError("BALLAST_PROVIDER_INVALID", {
      operation: "create",
      balancer: "http://127.0.0.1:9180",
      resource: { kind: "HealthCheck", name: "probe" },
      answer: {
        status: 400,
        code: "invalid",
        message: "invalid HealthCheck",
        issues: [
          { path: "interval", message: "must be a whole number from 5 to 300 seconds" },
          { path: "statusCodes[0]", message: "must be one of 2xx, 3xx, 4xx" },
        ],
      },
    });
    expect(err.message).toBe(
      [
        'cannot create HealthCheck "probe" on balancer http://127.0.0.1:9180: the balancer refused the object as invalid [BALLAST_PROVIDER_INVALID]',
        "the data plane answered 400 invalid: invalid HealthCheck",
        "  interval: must be a whole number from 5 to 300 seconds",
        "  statusCodes[0]: must be one of 2xx, 3xx, 4xx",
      ].join("\n"),
    );
    expect(err.code).toBe("BALLAST_PROVIDER_INVALID");
    expect(err.balancer).toBe("http://127.0.0.1:9180");
    expect(err.resource).toEqual({ kind: "HealthCheck", name: "probe" });
    expect(isProviderError(err, "BALLAST_PROVIDER_INVALID")).toBe(true);
    expect(isProviderError(err, "BALLAST_PROVIDER_IN_USE")).toBe(false);
  });

  it("has a default message for every code of the catalogue", () => {
    for (const code of Object.keys(providerErrorCatalogue) as (keyof typeof providerErrorCatalogue)[]) {
      const err = new ProviderError(code);
      expect(err.message).toContain(providerErrorCatalogue[code].message);
      expect(err.message).toContain(code);
    }
  });
});

describe("reading the data plane's answers", () => {
  it("reads the error body", () => {
    const body = JSON.stringify({ error: { code: "in_use", message: "used by listeners front", issues: [{ path: "", message: "x" }] } });
    expect(readAnswer(409, body)).toEqual({ status: 409, code: "in_use", message: "used by listeners front", issues: [{ path: "", message: "x" }] });
  });

  it("tolerates a body that is not the data plane's (a proxy's HTML page)", () => {
    expect(readAnswer(502, "<html>bad gateway</html>")).toEqual({ status: 502, message: "<html>bad gateway</html>" });
    expect(readAnswer(500, "")).toEqual({ status: 500 });
  });

  it.each([
    [{ status: 400 }, "BALLAST_PROVIDER_INVALID"],
    [{ status: 401 }, "BALLAST_PROVIDER_UNAUTHORIZED"],
    [{ status: 404 }, "BALLAST_PROVIDER_NOT_FOUND"],
    [{ status: 409, code: "already_exists" }, "BALLAST_PROVIDER_ALREADY_EXISTS"],
    [{ status: 409, code: "immutable" }, "BALLAST_PROVIDER_IMMUTABLE"],
    [{ status: 409, code: "in_use" }, "BALLAST_PROVIDER_IN_USE"],
    [{ status: 409, code: "port_unavailable" }, "BALLAST_PROVIDER_CONFLICT"],
    [{ status: 412, code: "precondition_failed" }, "BALLAST_PROVIDER_STALE"],
    [{ status: 500, code: "internal" }, "BALLAST_PROVIDER_UNEXPECTED"],
  ])("maps %j to %s", (answer, code) => {
    expect(codeForAnswer(answer)).toBe(code);
  });

  it("maps the catalogue's data plane statuses consistently", () => {
    for (const [code, entry] of Object.entries(providerErrorCatalogue)) {
      if (entry.status === undefined || entry.status >= 500 || entry.status === 409) continue;
      expect(codeForAnswer({ status: entry.status })).toBe(code);
    }
  });
});
