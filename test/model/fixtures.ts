import { readFileSync } from "node:fs";
import { join } from "node:path";

/**
 * Minimal valid bodies of every kind and variant, for model, store and admin tests.
 * Each test copies one and changes the field it is about.
 *
 * The listeners' ports are fixed: fine where nothing binds them (the model, the store with a fake
 * runtime). A test that creates a listener through a running data plane overrides `port` with one
 * from `freePort()` (test/helpers/ports.ts).
 */

const tls = (file: string) => readFileSync(join(__dirname, "../fixtures/tls", file), "utf8");

/** A real self-signed certificate for localhost / 127.0.0.1 and its key (test/fixtures/tls, test-only). */
export const CERT = tls("cert.pem");
export const KEY = tls("key.pem");
/** A real private key that is not CERT's. */
export const OTHER_KEY = tls("other-key.pem");
/** PEM-shaped but not loadable: passes the schema, refused by the data plane's certificate check. */
export const FAKE_CERT = "-----BEGIN CERTIFICATE-----\nMIIBfake\n-----END CERTIFICATE-----\n";
export const FAKE_KEY = "-----BEGIN PRIVATE KEY-----\nMIIEfake\n-----END PRIVATE KEY-----\n";

export const bodies = {
  httpService: { name: "web", protocol: "http", port: 8080 },
  tcpService: { name: "db", protocol: "tcp", port: 5432 },
  virtualGroup: { name: "pool", type: "virtual", servers: [{ address: "10.0.0.1" }] },
  availabilityGroup: {
    name: "pair",
    type: "availability",
    servers: [
      { address: "10.0.0.1", role: "primary" },
      { address: "10.0.0.2", role: "secondary" },
    ],
  },
  httpCheck: { name: "web-check", backendService: "web", protocol: "HTTP" },
  tcpCheck: { name: "db-check", backendService: "db", protocol: "TCP" },
  httpListener: { name: "front", protocol: "http", port: 80, backendService: "web" },
  httpsListener: { name: "secure", protocol: "https", port: 443, backendService: "web", certificate: { chain: CERT, privateKey: KEY } },
  tcpListener: { name: "pg", protocol: "tcp", port: 5432, backendService: "db" },
  tlsListener: { name: "pgs", protocol: "tls", port: 5433, backendService: "db", certificate: { chain: CERT, privateKey: KEY } },
} as const;

export type BodyName = keyof typeof bodies;

/** A deep copy of a fixture with `patch` merged over it (top-level keys). */
export function body(name: BodyName, patch: Record<string, unknown> = {}): Record<string, unknown> {
  return { ...structuredClone(bodies[name]), ...patch } as Record<string, unknown>;
}

/** `n` distinct servers 10.x.y.z for a virtual group. */
export function manyServers(n: number): { address: string }[] {
  return Array.from({ length: n }, (_, i) => ({ address: `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}` }));
}
