import type * as dynamic from "@pulumi/pulumi/dynamic";

/**
 * The provider objects that Pulumi serializes into every Ballast resource's state (`__provider`).
 *
 * Pulumi turns a dynamic provider into source text (`serializeFunction`) and diffs that text on
 * every preview: a provider that captured the implementation would show a `__provider` change on
 * every resource after each Ballast upgrade. So what is serialized is only this shim: each method
 * loads the implementation from the installed package at call time and delegates to it. It captures
 * one constant string (the provider key) and `loadBallastProvider`, whose text only changes if the
 * loading rule itself changes. This file must import nothing at run time: an imported value would
 * be captured into the serialized text.
 */
export function shimProvider(key: string): dynamic.ResourceProvider {
  let shim = shims.get(key);
  if (shim === undefined) {
    shim = {
      check: (olds, news) => loadBallastProvider(key).check!(olds, news),
      diff: (id, olds, news) => loadBallastProvider(key).diff!(id, olds, news),
      create: (inputs) => loadBallastProvider(key).create(inputs),
      read: (id, props) => loadBallastProvider(key).read!(id, props),
      update: (id, olds, news) => loadBallastProvider(key).update!(id, olds, news),
      delete: (id, props) => loadBallastProvider(key).delete!(id, props),
    };
    shims.set(key, shim);
  }
  return shim;
}

/**
 * One shim per key: `pulumi.dynamic.Resource` caches the serialized text per provider object, so a
 * program with many resources of a kind serializes its shim once. (Not captured: only the methods
 * above are serialized, and they reference `key` and `loadBallastProvider` alone.)
 */
const shims = new Map<string, dynamic.ResourceProvider>();

/**
 * Loads `provider(key)` from Ballast's implementation module. The dynamic provider host evaluates
 * the serialized shim as a module without a file name, so `require` resolves from its working
 * directory: the Pulumi project directory. There, in order:
 * 1. `ballast/dist/provider/impl` through `node_modules` (a user project that installed `ballast`);
 * 2. otherwise the nearest directory at or above it whose `package.json` is named `ballast` (a
 *    Pulumi project inside Ballast's own repository, like its root project), `dist/provider/impl`.
 */
export function loadBallastProvider(key: string): dynamic.ResourceProvider {
  const spec = "ballast/dist/provider/impl";
  let impl: { provider(key: string): dynamic.ResourceProvider } | undefined;
  try {
    impl = require(spec);
  } catch (err) {
    const e = err as { code?: unknown; message?: unknown };
    if (e?.code !== "MODULE_NOT_FOUND" || !String(e.message).includes(`'${spec}'`)) throw err;
  }
  if (impl === undefined) {
    const path = require("node:path");
    const fs = require("node:fs");
    for (let dir: string = process.cwd(); ; dir = path.dirname(dir)) {
      let name: unknown;
      try {
        name = JSON.parse(fs.readFileSync(path.join(dir, "package.json"), "utf8")).name;
      } catch {
        name = undefined;
      }
      if (name === "ballast") {
        impl = require(path.join(dir, "dist", "provider", "impl"));
        break;
      }
      if (path.dirname(dir) === dir) {
        throw new Error(
          `ballast: cannot load ${spec} from ${process.cwd()}: install ballast in the Pulumi project (npm install ballast), or build it (npm run build)`,
        );
      }
    }
  }
  return impl!.provider(key);
}
