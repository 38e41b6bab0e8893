import * as z from "zod";
import { Name, Port, unknownKeyIn } from "./common";

/**
 * Listener: a port the balancer accepts traffic on, handing it to one backend service.
 * http/https listeners take http services; tcp/tls listeners take tcp services (checked by the data
 * plane, which knows the service). https and tls terminate TLS with `certificate`.
 */

const PEM_CERT = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/;
const PEM_KEY = /-----BEGIN (?:RSA |EC |ENCRYPTED )?PRIVATE KEY-----[\s\S]+?-----END (?:RSA |EC |ENCRYPTED )?PRIVATE KEY-----/;

export const Certificate = z.strictObject(
  {
    chain: z
      .string()
      .max(65536, { error: "must be at most 64 KiB" })
      .regex(PEM_CERT, { error: "must be a PEM certificate chain (-----BEGIN CERTIFICATE-----)" })
      .describe("PEM certificate chain, leaf first."),
    privateKey: z
      .string()
      .max(65536, { error: "must be at most 64 KiB" })
      .regex(PEM_KEY, { error: "must be a PEM private key (-----BEGIN PRIVATE KEY-----)" })
      .describe("PEM private key of the leaf certificate. Secret."),
  },
  { error: unknownKeyIn("a certificate") },
);
export type Certificate = z.output<typeof Certificate>;

const common = {
  name: Name.describe("Name on the balancer. Changing it replaces the listener."),
  port: Port.describe("Port to accept on, 1-65535, unique on the balancer. Changing it replaces the listener."),
  backendService: Name.describe("The BackendService that receives the traffic (http for http/https, tcp for tcp/tls)."),
};

const noCertificate = { certificate: z.undefined({ error: "is only allowed for https and tls listeners" }).optional() };

export const HttpListener = z.strictObject({ ...common, ...noCertificate, protocol: z.literal("http") }, {
  error: unknownKeyIn("an http listener"),
});
export const HttpsListener = z.strictObject({ ...common, protocol: z.literal("https"), certificate: Certificate }, {
  error: unknownKeyIn("an https listener"),
});
export const TcpListener = z.strictObject({ ...common, ...noCertificate, protocol: z.literal("tcp") }, {
  error: unknownKeyIn("a tcp listener"),
});
export const TlsListener = z.strictObject({ ...common, protocol: z.literal("tls"), certificate: Certificate }, {
  error: unknownKeyIn("a tls listener"),
});

export const Listener = z.discriminatedUnion("protocol", [HttpListener, HttpsListener, TcpListener, TlsListener], {
  error: (iss) => (iss.input === undefined ? "is required" : "must be one of http, https, tcp, tls"),
});
export type Listener = z.output<typeof Listener>;
export type ListenerInput = z.input<typeof Listener>;

/** The backend protocol a listener protocol accepts. */
export function backendProtocolFor(listenerProtocol: Listener["protocol"]): "http" | "tcp" {
  return listenerProtocol === "http" || listenerProtocol === "https" ? "http" : "tcp";
}

export const listenerReplaceOnChange = ["name", "protocol", "port"] as const;
