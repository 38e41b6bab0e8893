import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { chooseHttpEngine, llhttpBindingProblem, parseHttpEngineSetting } from "../../dataplane/node-internals";
import { startDataplane, type Dataplane } from "../helpers/dataplane-process";
import { startOrigin, type Origin } from "../helpers/origin";
import { freePorts } from "../helpers/ports";
import { body } from "../model/fixtures";
import { expectJson, json } from "./admin/api-helpers";

/**
 * Which HTTP parser the engine runs on (dataplane/node-internals.ts, docs/traffic.md): Node's own
 * llhttp, or the same llhttp compiled to WebAssembly when BALLAST_HTTP_ENGINE=wasm or when Node's
 * private binding is missing or misshapen. /metrics says which, and traffic goes through on both.
 */

function parserInfo(scrape: string): string[] {
  return scrape
    .split("\n")
    .filter((l) => l.startsWith("ballast_http_parser_info{"))
    .map((l) => l.replace(/\s+/g, " "));
}

describe("BALLAST_HTTP_ENGINE=wasm: a real data plane on llhttp compiled to WebAssembly", () => {
  let dp: Dataplane;
  let origin: Origin;
  let port = 0;

  beforeAll(async () => {
    origin = await startOrigin("a");
    [port] = await freePorts(1);
    dp = await startDataplane({ env: { BALLAST_HTTP_ENGINE: "wasm" } });
    await expectJson(await dp.api("/v1/server-groups", json("POST", { name: "pool", type: "virtual", servers: [{ address: "127.0.0.1", port: origin.port }] })), 201);
    await expectJson(await dp.api("/v1/backend-services", json("POST", body("httpService", { serverGroup: "pool" }))), 201);
    await expectJson(await dp.api("/v1/listeners", json("POST", body("httpListener", { port }))), 201);
  }, 60_000);

  afterAll(async () => {
    await dp?.stop();
    await origin?.close();
  });

  test("/metrics reports llhttp-wasm, and a request goes through", async () => {
    const deadline = Date.now() + 30_000;
    let res: Response | undefined;
    while (Date.now() < deadline) {
      res = await fetch(`http://127.0.0.1:${port}/hello?x=1`, { method: "POST", body: "ping" }).catch(() => undefined);
      if (res?.status === 200) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    expect(res?.status).toBe(200);
    expect(await res!.text()).toContain("a");
    const scrape = await (await fetch(`${dp.url}/metrics`)).text();
    expect(parserInfo(scrape)).toEqual(['ballast_http_parser_info{parser="llhttp-wasm"} 1']);
  });

  test("the process logs one warning saying why it falls back", () => {
    const warnings = dp.output().split("\n").filter((l) => l.includes("WebAssembly") && l.includes("BALLAST_HTTP_ENGINE=wasm"));
    expect(warnings).toHaveLength(1);
  });
});

describe("choosing the parser", () => {
  const common = () => require("_http_common") as unknown;

  test("Node's binding when it has the expected shape; the wasm one when asked", () => {
    expect(llhttpBindingProblem(common())).toBeUndefined();
    expect(chooseHttpEngine(undefined, common).engine).toBe("llhttp-native");
    expect(chooseHttpEngine("native", common).engine).toBe("llhttp-native");
    expect(chooseHttpEngine("wasm", common)).toMatchObject({ engine: "llhttp-wasm", fallbackReason: "BALLAST_HTTP_ENGINE=wasm" });
  });

  test("a missing or misshapen private binding falls back to wasm, saying why", () => {
    const missing = chooseHttpEngine(undefined, () => {
      throw new Error("Cannot find module '_http_common'");
    });
    expect(missing.engine).toBe("llhttp-wasm");
    expect(missing.fallbackReason).toContain("_http_common");
    const noExecute = { ...(common() as object), HTTPParser: class {} };
    const misshapen = chooseHttpEngine(undefined, () => noExecute);
    expect(misshapen.engine).toBe("llhttp-wasm");
    expect(misshapen.fallbackReason).toContain("initialize");
  });

  test("any other value of BALLAST_HTTP_ENGINE is an error naming the variable", () => {
    const r = parseHttpEngineSetting("fast");
    expect(r.ok).toBe(false);
    expect(!r.ok && r.problem).toContain("BALLAST_HTTP_ENGINE");
    expect(!r.ok && r.problem).toContain("'fast'");
    const node = parseHttpEngineSetting("node");
    expect(!node.ok && node.problem).toContain("the fallback engine is 'wasm'");
  });
});
