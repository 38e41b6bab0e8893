import type * as dynamic from "@pulumi/pulumi/dynamic";
import { isKind } from "../model";
import { BallastResourceProvider } from "./resource-provider";
import { tokenProvider } from "./token-provider";

/**
 * The provider implementation the serialized shim (`shim.ts`) loads at call time from the installed
 * package (`ballast/dist/provider/impl`). Its exports are a contract with every shim already stored
 * in users' stacks: `provider(key)` for the keys `listeners`, `backend-services`, `server-groups`,
 * `health-checks` and `token` must keep working across versions.
 */
const cache = new Map<string, dynamic.ResourceProvider>();

export function provider(key: string): dynamic.ResourceProvider {
  let found = cache.get(key);
  if (found === undefined) {
    if (key === "token") found = tokenProvider;
    else if (isKind(key)) found = new BallastResourceProvider(key);
    else throw new Error(`ballast: no provider for "${key}": the installed ballast package is older than the program's state`);
    cache.set(key, found);
  }
  return found;
}
