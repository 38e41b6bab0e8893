import { existsSync, mkdirSync, readFileSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { silentLogger } from "../../../dataplane/log";
import {
  STATE_FILE_NAME,
  StateFileError,
  Store,
  decodeState,
  emptyCollections,
  encodeState,
  withObject,
  writeStateFile,
} from "../../../dataplane/store";
import type { Stored } from "../../../model";
import { makeTempDir } from "../../helpers/dataplane-process";
import { CERT, FAKE_CERT, KEY, OTHER_KEY } from "../../model/fixtures";
import { FakeRuntime } from "./fake-runtime";

const dirs: string[] = [];
afterEach(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

function tempDir(): string {
  const dir = makeTempDir("ballast-statefile-");
  dirs.push(dir);
  return dir;
}

const service = { name: "web", protocol: "http", port: 8080, scheduler: "wrr", connectionDrainTimeout: 300, forwardedHeaders: [], version: 2 };
const listener = { name: "front", protocol: "http", port: 80, backendService: "web", version: 1 };

function stateText(patch: Record<string, unknown> = {}): string {
  return JSON.stringify({
    format: 1,
    generation: 4,
    listeners: [listener],
    "backend-services": [service],
    "server-groups": [],
    "health-checks": [],
    ...patch,
  });
}

function problemOf(text: string): string {
  const decoded = decodeState(text);
  expect(decoded.ok).toBe(false);
  return decoded.ok ? "" : decoded.problem;
}

describe("state file", () => {
  it("decodes what it encodes", () => {
    let objects = emptyCollections();
    objects = withObject(objects, "backend-services", service as unknown as Stored<"backend-services">);
    objects = withObject(objects, "listeners", listener as unknown as Stored<"listeners">);
    const decoded = decodeState(encodeState({ generation: 4, objects }));
    expect(decoded.ok).toBe(true);
    if (decoded.ok) {
      expect(decoded.state.generation).toBe(4);
      expect(decoded.state.objects["backend-services"].get("web")).toEqual(service);
      expect(decoded.state.objects.listeners.get("front")).toEqual(listener);
    }
  });

  describe("a corrupt file is described precisely", () => {
    it.each([
      ["bad JSON", "{ not json", "is not valid JSON"],
      ["a truncated file", stateText().slice(0, 40), "is not valid JSON"],
      ["not an object", "[]", "is not a JSON object"],
      ["another format", stateText({ format: 2 }), "has format 2"],
      ["a bad generation", stateText({ generation: -1 }), "generation"],
      ["a missing collection", JSON.stringify({ format: 1, generation: 0, listeners: [] }), "backend-services: must be an array"],
      ["an unknown top-level field", stateText({ extra: true }), "extra: is not a field"],
      ["an object failing its schema", stateText({ listeners: [{ ...listener, port: 0 }] }), "listeners[0].port: must be a whole number"],
      ["a missing version", stateText({ listeners: [{ ...listener, version: undefined }] }), "listeners[0].version"],
      ["a duplicate name", stateText({ "backend-services": [service, service] }), "'web' appears twice"],
      ["a dangling reference", stateText({ "backend-services": [] }), "listeners/front: backendService: no backend service named 'web'"],
      [
        "a certificate TLS cannot load",
        stateText({ listeners: [{ ...listener, protocol: "https", certificate: { chain: FAKE_CERT, privateKey: KEY } }] }),
        "listeners/front: certificate.chain: is not a certificate chain TLS can load",
      ],
      [
        "a key that is not the certificate's",
        stateText({ listeners: [{ ...listener, protocol: "https", certificate: { chain: CERT, privateKey: OTHER_KEY } }] }),
        "listeners/front: certificate.privateKey: does not match the certificate",
      ],
    ])("%s", (_label, text, expected) => {
      expect(problemOf(text)).toContain(expected);
    });

    it("names a refused certificate without quoting its key", () => {
      const problem = problemOf(stateText({ listeners: [{ ...listener, protocol: "tls", certificate: { chain: CERT, privateKey: OTHER_KEY } }] }));
      for (const line of OTHER_KEY.split("\n").filter((l) => l && !l.startsWith("-----"))) expect(problem).not.toContain(line);
    });

    it("does not quote the file's text in a JSON error (it may hold private keys)", () => {
      const problem = problemOf('{"privateKey": "-----BEGIN PRIVATE KEY----- secret" oops');
      expect(problem).not.toContain("secret");
    });
  });

  describe("Store.open", () => {
    it("starts empty without a state file, and creates the directory", async () => {
      const dir = join(tempDir(), "nested", "state");
      const store = await Store.open({ stateDir: dir, runtime: new FakeRuntime(), log: silentLogger() });
      expect(store.list("listeners")).toEqual([]);
      expect(store.snapshot().generation).toBe(0);
      expect(existsSync(dir)).toBe(true);
    });

    it("refuses a corrupt file with an error naming the file and the problem, and leaves it untouched", async () => {
      const dir = tempDir();
      const file = join(dir, STATE_FILE_NAME);
      const text = stateText({ listeners: [{ ...listener, port: 70000 }] });
      writeFileSync(file, text);
      const err = await Store.open({ stateDir: dir, runtime: new FakeRuntime(), log: silentLogger() }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(StateFileError);
      expect((err as Error).message).toContain(file);
      expect((err as Error).message).toContain("listeners[0].port");
      expect(readFileSync(file, "utf8")).toBe(text);
    });

    it("loads a good file at its generation and removes temp files left by a crash", async () => {
      const dir = tempDir();
      writeFileSync(join(dir, STATE_FILE_NAME), stateText());
      writeFileSync(join(dir, `.${STATE_FILE_NAME}.1234.1.tmp`), "half a fi");
      writeFileSync(join(dir, "unrelated.txt"), "keep me");
      const store = await Store.open({ stateDir: dir, runtime: new FakeRuntime(), log: silentLogger() });
      expect(store.snapshot().generation).toBe(4);
      expect(store.get("backend-services", "web")?.version).toBe(2);
      expect(readdirSync(dir).sort()).toEqual([STATE_FILE_NAME, "unrelated.txt"]);
    });
  });

  it("writeStateFile replaces the file whole and leaves no temp file, also when the rename fails", async () => {
    const dir = tempDir();
    const file = join(dir, STATE_FILE_NAME);
    await writeStateFile(file, { generation: 1, objects: emptyCollections() });
    expect(JSON.parse(readFileSync(file, "utf8"))).toMatchObject({ format: 1, generation: 1, listeners: [] });
    expect(readdirSync(dir)).toEqual([STATE_FILE_NAME]);

    // a directory in the file's place makes the rename fail: the write rejects and cleans up
    const blocked = join(dir, "blocked");
    mkdirSync(join(blocked, "child"), { recursive: true });
    await expect(writeStateFile(blocked, { generation: 2, objects: emptyCollections() })).rejects.toThrow();
    expect(readdirSync(dir).sort()).toEqual(["blocked", STATE_FILE_NAME]);
  });
});
