import { readFileSync } from "node:fs";
import { resolve } from "node:path";
import { describe, expect, it } from "vitest";
import { AdminError, errorCatalogue, type ErrorCode } from "../../../dataplane/errors";

/** The error catalogue and docs/errors.md list the same codes with the same statuses. */

function documentedCodes(): Map<string, number> {
  const doc = readFileSync(resolve(__dirname, "../../../docs/errors.md"), "utf8");
  const rows = new Map<string, number>();
  for (const match of doc.matchAll(/^\|\s*`([a-z_]+)`\s*\|\s*(\d{3})\s*\|/gm)) {
    expect(rows.has(match[1]!), `${match[1]} is listed twice`).toBe(false);
    rows.set(match[1]!, Number(match[2]));
  }
  return rows;
}

describe("error catalogue", () => {
  it("docs/errors.md lists every code with its status, and nothing else", () => {
    const catalogue = new Map(Object.entries(errorCatalogue).map(([code, entry]) => [code, entry.status]));
    expect(documentedCodes()).toEqual(catalogue);
  });

  it("covers the codes the admin API promises", () => {
    const expected = [
      "invalid", "invalid_json", "unauthorized", "not_found", "method_not_allowed", "already_exists", "immutable",
      "in_use", "conflict", "port_unavailable", "precondition_failed", "payload_too_large", "state_write_failed", "internal",
      "store_unavailable", "revision_not_reached",
    ];
    expect(Object.keys(errorCatalogue).sort()).toEqual(expected.sort());
  });

  it("AdminError carries the catalogue's status and default message, and its body has the documented shape", () => {
    for (const code of Object.keys(errorCatalogue) as ErrorCode[]) {
      const err = new AdminError(code);
      expect(err.status).toBe(errorCatalogue[code].status);
      expect(err.toBody()).toEqual({ error: { code, message: errorCatalogue[code].message } });
    }
    const withIssues = new AdminError("invalid", "bad", [{ path: "port", message: "too big" }]);
    expect(withIssues.toBody()).toEqual({ error: { code: "invalid", message: "bad", issues: [{ path: "port", message: "too big" }] } });
  });
});
