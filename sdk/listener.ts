import * as pulumi from "@pulumi/pulumi";
import type { AccessLog, Certificate, ListenerInput } from "../model";
import { shimProvider } from "../provider/shim";
import { showAdoptChanges } from "./adopt-preview";
import { gated, preflight } from "./preflight";
import type { BackendService } from "./backend-service";
import { providerProps, refName, resourceOptions, TYPE_MODULE, typeToken, type CommonArgs } from "./common";

/** The TLS certificate of an https or tls listener. */
export interface CertificateArgs {
  /** PEM certificate chain, leaf first. */
  chain: pulumi.Input<string>;
  /** PEM private key of the leaf certificate. Secret. The sdk wraps it with `pulumi.secret`. */
  privateKey: pulumi.Input<string>;
}

/** The listener's access log: { enabled, sampleRate, includeQuery (http/https only) }. Absent: every request or connection logged, without query strings. */
export interface AccessLogArgs {
  /** Write one access line per request (http/https) or connection (tcp/tls) to the data plane's stdout. Default true. */
  enabled?: pulumi.Input<boolean>;
  /** Share of requests or connections logged, 0-1 (0.1 = one in ten, chosen at random). Default 1: all. */
  sampleRate?: pulumi.Input<number>;
  /** Keep the query string in the logged path (it may carry secrets). Default false: the path ends before '?'. http/https listeners only. */
  includeQuery?: pulumi.Input<boolean>;
}

/** Args of a Listener. At most 50 listeners per balancer. */
export interface ListenerArgs extends CommonArgs {
  /**
   * `http`, `https`, `tcp` or `tls`. Changing it replaces the listener. http/https listeners take
   * only http services; tcp/tls listeners take only tcp services.
   */
  protocol: pulumi.Input<ListenerInput["protocol"]>;
  /** Port to accept on, 1-65535, unique on the balancer. Changing it replaces the listener. */
  port: pulumi.Input<number>;
  /**
   * The BackendService that receives the traffic (http for http/https, tcp for tcp/tls).
   * Takes the BackendService resource itself or its name.
   */
  backendService: BackendService | pulumi.Input<string>;
  /** PEM chain and private key: required for https and tls, refused otherwise. Kept secret. */
  certificate?: pulumi.Input<CertificateArgs>;
  /** The listener's access log: { enabled, sampleRate, includeQuery (http/https only) }. Absent: every request or connection logged, without query strings. */
  accessLog?: pulumi.Input<AccessLogArgs>;
  /**
   * Forward request header names that contain '_' (X_Api_Key). Default false: such headers are dropped before forwarding, as nginx does, because CGI, WSGI and Rack servers read '_' and '-' alike, so Transfer_Encoding or X_Forwarded_For would pass for the headers the balancer controls. http/https listeners only.
   */
  underscoresInHeaders?: pulumi.Input<boolean>;
}

/**
 * A listener: a port the balancer accepts traffic on, handing it to one backend service. Type
 * token `pulumi-nodejs:dynamic/ballast:Listener`.
 */
export class Listener extends pulumi.dynamic.Resource {
  /** Name on the balancer (the resource's id). */
  declare readonly name: pulumi.Output<string>;
  declare readonly protocol: pulumi.Output<"http" | "https" | "tcp" | "tls">;
  declare readonly port: pulumi.Output<number>;
  declare readonly backendService: pulumi.Output<string>;
  /** The certificate (secret as a whole). */
  declare readonly certificate: pulumi.Output<Certificate | undefined>;
  /** The access log settings, as given (defaults filled by the balancer). */
  declare readonly accessLog: pulumi.Output<AccessLog | undefined>;
  /** Whether header names with '_' are forwarded (false on http/https when not given; absent on tcp/tls). */
  declare readonly underscoresInHeaders: pulumi.Output<boolean | undefined>;
  /** The object's version on the balancer: 1 on create, +1 per update. */
  declare readonly version: pulumi.Output<number>;
  /** The balancer's admin URL. */
  declare readonly adminUrl: pulumi.Output<string>;
  /** The balancer's admin token (secret). */
  declare readonly adminToken: pulumi.Output<string>;

  constructor(name: string, args: ListenerArgs, opts?: pulumi.CustomResourceOptions) {
    const props = {
      ...providerProps(name, args, "Listener"),
      protocol: args.protocol,
      port: args.port,
      backendService: refName(args.backendService),
      certificate: secretCertificate(args.certificate),
      accessLog: args.accessLog,
      underscoresInHeaders: args.underscoresInHeaders,
    };
    // `get` (an id in the options) reads an existing object: nothing to judge, nothing to hold back.
    const reading = opts?.id !== undefined;
    super(shimProvider("listeners"), name, reading ? props : gated(props), resourceOptions(args, opts, ["certificate"]), TYPE_MODULE, "Listener");
    if (!reading) preflight(this, { kind: "listeners", type: typeToken("Listener"), name, opts, props, balancer: args.balancer }, args as unknown as Record<string, unknown>);
    if (!reading && args.adopt === true) showAdoptChanges(this, "listeners", props);
  }

  /**
   * Reads the existing Listener named `id` on the balancer into a resource of this program that
   * Pulumi does not manage (like every Pulumi resource's `get`): its outputs are the live object's.
   */
  static get(name: string, id: pulumi.Input<pulumi.ID>, state: Pick<CommonArgs, "balancer">, opts?: pulumi.CustomResourceOptions): Listener {
    return new Listener(name, { balancer: state.balancer } as ListenerArgs, { ...opts, id });
  }
}

/** The certificate with its private key wrapped as a secret (the whole certificate when it is an Output). */
export function secretCertificate(cert: pulumi.Input<CertificateArgs> | undefined): pulumi.Input<CertificateArgs> | undefined {
  if (cert === undefined) return undefined;
  if (pulumi.Output.isInstance(cert) || cert instanceof Promise) return pulumi.secret(cert);
  return { chain: cert.chain, privateKey: pulumi.secret(cert.privateKey) };
}
