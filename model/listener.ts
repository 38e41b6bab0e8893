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

const enabled = z
  .boolean({ error: "must be true or false" })
  .default(true)
  .describe("Write one access line per request (http/https) or connection (tcp/tls) to the data plane's stdout. Default true.");
const sampleRate = z
  .number({ error: "must be a number from 0 to 1" })
  .min(0, { error: "must be at least 0" })
  .max(1, { error: "must be at most 1" })
  .default(1)
  .describe("Share of requests or connections logged, 0-1 (0.1 = one in ten, chosen at random). Default 1: all.");
const includeQuery = z
  .boolean({ error: "must be true or false" })
  .default(false)
  .describe("Keep the query string in the logged path (it may carry secrets). Default false: the path ends before '?'.");

/** The access log of an http/https listener (docs/access-log.md). */
export const HttpAccessLog = z.strictObject({ enabled, sampleRate, includeQuery }, { error: unknownKeyIn("an http access log") });
/** The access log of a tcp/tls listener: one line per connection, there is no query. */
export const TcpAccessLog = z.strictObject({ enabled, sampleRate }, { error: unknownKeyIn("a tcp access log") });
export type AccessLog = z.output<typeof HttpAccessLog> | z.output<typeof TcpAccessLog>;
const ACCESS_LOG_DOC = "The listener's access log: { enabled, sampleRate, includeQuery (http/https only) }. Absent: every request or connection logged, without query strings.";
const httpAccessLog = { accessLog: HttpAccessLog.optional().describe(ACCESS_LOG_DOC) };
const tcpAccessLog = { accessLog: TcpAccessLog.optional().describe(ACCESS_LOG_DOC) };

const UNDERSCORES_DOC =
  "Forward request header names that contain '_' (X_Api_Key). Default false: such headers are dropped before forwarding, as nginx does, because CGI, WSGI and Rack servers read '_' and '-' alike, so Transfer_Encoding or X_Forwarded_For would pass for the headers the balancer controls. http/https listeners only.";
const underscoresInHeaders = {
  underscoresInHeaders: z.boolean({ error: "must be true or false" }).optional().describe(UNDERSCORES_DOC),
};
const noUnderscoresInHeaders = {
  underscoresInHeaders: z.undefined({ error: "is only allowed for http and https listeners" }).optional(),
};

const common = {
  name: Name.describe("Name on the balancer. Changing it replaces the listener."),
  port: Port.describe("Port to accept on, 1-65535, unique on the balancer. Changing it replaces the listener."),
  backendService: Name.describe("The BackendService that receives the traffic (http for http/https, tcp for tcp/tls)."),
};

const noCertificate = { certificate: z.undefined({ error: "is only allowed for https and tls listeners" }).optional() };

export const HttpListener = z.strictObject({ ...common, ...noCertificate, ...httpAccessLog, ...underscoresInHeaders, protocol: z.literal("http") }, {
  error: unknownKeyIn("an http listener"),
});
export const HttpsListener = z.strictObject({ ...common, ...httpAccessLog, ...underscoresInHeaders, protocol: z.literal("https"), certificate: Certificate }, {
  error: unknownKeyIn("an https listener"),
});
export const TcpListener = z.strictObject({ ...common, ...noCertificate, ...tcpAccessLog, ...noUnderscoresInHeaders, protocol: z.literal("tcp") }, {
  error: unknownKeyIn("a tcp listener"),
});
export const TlsListener = z.strictObject({ ...common, ...tcpAccessLog, ...noUnderscoresInHeaders, protocol: z.literal("tls"), certificate: Certificate }, {
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
