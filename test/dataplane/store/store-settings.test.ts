import { describe, expect, it } from "vitest";
import { parseStoreSettings } from "../../../dataplane/store/store-settings";
import { runDataplaneToExit } from "../../helpers/dataplane-process";

/** BALLAST_STORE and the etcd settings: every problem listed at once, refused at start. */

const noFiles = (file: string): string => {
  throw Object.assign(new Error(`ENOENT: ${file}`), { code: "ENOENT" });
};

function parse(env: Record<string, string>) {
  const problems: string[] = [];
  const settings = parseStoreSettings({ BALLAST_REPLICA_NAME: "r1", ...env }, problems, noFiles);
  return { settings, problems };
}

describe("store settings", () => {
  it("default to the file store", () => {
    expect(parse({})).toEqual({ settings: { kind: "file", replicaName: "r1" }, problems: [] });
  });

  it("read the etcd settings, endpoints as given", () => {
    const { settings, problems } = parse({
      BALLAST_STORE: "etcd",
      BALLAST_ETCD_ENDPOINTS: "http://10.0.0.1:2379, http://10.0.0.2:2379/",
      BALLAST_ETCD_USERNAME: "ballast",
      BALLAST_ETCD_PASSWORD: "secret",
    });
    expect(problems).toEqual([]);
    expect(settings).toEqual({
      kind: "etcd",
      replicaName: "r1",
      etcd: { endpoints: ["http://10.0.0.1:2379", "http://10.0.0.2:2379"], prefix: "/ballast/default", username: "ballast", password: "secret" },
    });
  });

  it("list every problem at once", () => {
    const { problems } = parse({
      BALLAST_STORE: "etcd",
      BALLAST_ETCD_PREFIX: "no-slash",
      BALLAST_ETCD_PASSWORD: "secret",
      BALLAST_ETCD_CA: "/nowhere/ca.pem",
      BALLAST_ETCD_CERT: "/nowhere/cert.pem",
    });
    expect(problems).toEqual([
      expect.stringMatching(/^BALLAST_ETCD_ENDPOINTS is required with BALLAST_STORE=etcd/),
      expect.stringMatching(/^BALLAST_ETCD_PREFIX 'no-slash' must start with '\/'/),
      "BALLAST_ETCD_PASSWORD is set without BALLAST_ETCD_USERNAME",
      "BALLAST_ETCD_CA '/nowhere/ca.pem' cannot be read: ENOENT",
      "BALLAST_ETCD_CERT '/nowhere/cert.pem' cannot be read: ENOENT",
      "BALLAST_ETCD_CERT and BALLAST_ETCD_KEY go together: set both or neither",
    ]);
  });

  it("name a bad endpoint as it was given, refuse an unknown store and etcd settings on the file store", () => {
    expect(parse({ BALLAST_STORE: "etcd", BALLAST_ETCD_ENDPOINTS: "10.0.0.1:2379,ftp://x:1" }).problems).toEqual([
      "BALLAST_ETCD_ENDPOINTS: '10.0.0.1:2379' is not an http:// or https:// URL of a host and port (e.g. http://127.0.0.1:2379)",
      "BALLAST_ETCD_ENDPOINTS: 'ftp://x:1' is not an http:// or https:// URL of a host and port (e.g. http://127.0.0.1:2379)",
    ]);
    expect(parse({ BALLAST_STORE: "consul" }).problems).toEqual(["BALLAST_STORE 'consul' is not one of file, etcd"]);
    expect(parse({ BALLAST_ETCD_ENDPOINTS: "http://10.0.0.1:2379" }).problems).toEqual([
      "BALLAST_ETCD_ENDPOINTS is set but BALLAST_STORE is 'file': set BALLAST_STORE=etcd to use etcd",
    ]);
  });

  it("the data plane refuses to start with BALLAST_STORE=etcd and no endpoints, listing every problem", async () => {
    const result = await runDataplaneToExit({ env: { BALLAST_STORE: "etcd", BALLAST_ETCD_PREFIX: "bad prefix", BALLAST_LOG_LEVEL: "loud" } });
    expect(result.code).toBe(1);
    const fatal = result.output.split("\n").find((l) => l.includes("cannot start"))!;
    expect(fatal).toContain("BALLAST_LOG_LEVEL 'loud'");
    expect(fatal).toContain("BALLAST_ETCD_ENDPOINTS is required with BALLAST_STORE=etcd");
    expect(fatal).toContain("BALLAST_ETCD_PREFIX 'bad prefix' must start with '/'");
  });
});
