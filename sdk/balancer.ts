import * as fs from "node:fs";
import * as path from "node:path";
import * as docker from "@pulumi/docker";
import * as pulumi from "@pulumi/pulumi";
import { Token } from "./token";

/** Where the data plane keeps its state inside the container (a Docker volume is mounted there). */
export const STATE_DIR = "/var/lib/ballast";
/** The admin API's port inside the container. */
export const CONTAINER_ADMIN_PORT = 9180;

/** How to build the data plane image when no `image` is given. */
export interface BalancerBuildArgs {
  /**
   * Build context: a directory holding Ballast's `Dockerfile` and its bundle (`npm run bundle`
   * writes `build/image/`). Default: the root of the installed `ballast` package.
   */
  context?: pulumi.Input<string>;
  /** Path of the Dockerfile. Default `<context>/Dockerfile`. */
  dockerfile?: pulumi.Input<string>;
  /**
   * Base image (`BASE_IMAGE` build arg) holding Node 24. Default: the Dockerfile's pinned
   * official Node image; pass a local image where no registry can be reached.
   */
  baseImage?: pulumi.Input<string>;
  /** Name and tag given to the built image. Default `ballast-dataplane:latest`. */
  imageName?: pulumi.Input<string>;
}

/** The etcd cluster replicas share their configuration on (docs/replicas.md). */
export interface BalancerEtcdArgs {
  /** Client URLs of the etcd members, e.g. `["http://10.0.0.5:2379"]` (`BALLAST_ETCD_ENDPOINTS`). */
  endpoints: pulumi.Input<pulumi.Input<string>[]>;
  /** Key prefix: one balancer per prefix (`BALLAST_ETCD_PREFIX`). Default `/ballast/default`. */
  prefix?: pulumi.Input<string>;
  /** etcd user (`BALLAST_ETCD_USERNAME`). */
  username?: pulumi.Input<string>;
  /** Its password (`BALLAST_ETCD_PASSWORD`), kept secret. */
  password?: pulumi.Input<string>;
  /** PEM of the CA that signed the etcd servers' certificates (written into each container). */
  ca?: pulumi.Input<string>;
  /** PEM client certificate, for etcd's client certificate authentication. */
  cert?: pulumi.Input<string>;
  /** PEM private key of `cert` (kept secret; written into each container). */
  key?: pulumi.Input<string>;
}

/** Most replicas one Balancer runs on its host. */
export const MAX_REPLICAS = 32;

/** Args of a Balancer. */
export interface BalancerArgs {
  /** An existing data plane image to run (e.g. `ballast-dataplane:0.1.0`). When set, nothing is built. */
  image?: pulumi.Input<string>;
  /** How to build the image when `image` is not given. */
  build?: BalancerBuildArgs;
  /**
   * Listener ports to publish, each on the same port of the host (`listenAddress`). A listener
   * whose port is not published here is reachable only inside the container. Default none.
   */
  ports?: pulumi.Input<number>[];
  /** Host address the listener ports are published on. Default `0.0.0.0` (every interface). */
  listenAddress?: pulumi.Input<string>;
  /** Host port of the admin API; it is published on 127.0.0.1 only. Default 9180. */
  adminPort?: pulumi.Input<number>;
  /**
   * The admin token (at least 16 characters). Default: 32 random bytes, hex-encoded, generated once
   * per stack (a `Token` resource) and kept secret in its state.
   */
  adminToken?: pulumi.Input<string>;
  /** `BALLAST_LOG_LEVEL`: trace, debug, info, warn, error, fatal or silent. Default the image's (`info`). */
  logLevel?: pulumi.Input<string>;
  /** `BALLAST_WORKERS`: traffic worker processes; 0 runs traffic in the primary. Default: one per core of the container (0 on a single core). */
  workers?: pulumi.Input<number>;
  /** Name of the container (with replicas: `<name>-<i>`). Default: autonamed by Pulumi. */
  containerName?: pulumi.Input<string>;
  /**
   * Data plane containers on this host serving one configuration, 1 to 32. Default 1. More than
   * one needs `etcd`: the replicas run on host networking and share the listener ports through
   * SO_REUSEPORT; replica `i` answers the admin API on 127.0.0.1:`adminPort + i`. For replicas on
   * several hosts, use one Balancer (or a Kubernetes Deployment) per host on the same `etcd`.
   */
  replicas?: number;
  /**
   * Keep the configuration in etcd instead of each container's state file (`BALLAST_STORE=etcd`).
   * The containers then run on host networking (listener ports need no publishing, `ports` and
   * `listenAddress` bind them directly), and a new image starts the new containers before the old
   * ones stop: no gap in service.
   */
  etcd?: BalancerEtcdArgs;
}

/**
 * The Ballast data plane, running in Docker: the image (built or given), a container with the
 * listener ports published and the admin API on 127.0.0.1 only, a volume for its state, restart
 * policy `unless-stopped`, and a generated admin token. Resources take it as their `balancer`.
 */
export class Balancer extends pulumi.ComponentResource {
  /** URL of the admin API from this host: `http://127.0.0.1:<adminPort>`. */
  readonly adminUrl: pulumi.Output<string>;
  /** The admin token (secret). */
  readonly adminToken: pulumi.Output<string>;
  /** The image the container runs. */
  readonly image: pulumi.Output<string>;
  /** The first replica's container and state volume. */
  readonly container: docker.Container;
  readonly volume: docker.Volume;
  /** Every replica's container and state volume (one of each without `replicas`). */
  readonly containers: docker.Container[];
  readonly volumes: docker.Volume[];
  /** The admin API of every replica: writes go through any of them (resources use them in order). */
  readonly adminUrls: pulumi.Output<string[]>;

  constructor(name: string, args: BalancerArgs = {}, opts?: pulumi.ComponentResourceOptions) {
    super("ballast:index:Balancer", name, {}, opts);
    const child = { parent: this };

    const replicas = args.replicas ?? 1;
    if (!Number.isInteger(replicas) || replicas < 1 || replicas > MAX_REPLICAS) {
      throw new Error(`ballast: Balancer "${name}": replicas must be a whole number from 1 to ${MAX_REPLICAS} (got ${String(args.replicas)})`);
    }
    if (replicas > 1 && args.etcd === undefined) {
      throw new Error(`ballast: Balancer "${name}": replicas: ${replicas} needs \`etcd\` (the replicas share one configuration there; a state file is one replica's own)`);
    }
    const token = args.adminToken === undefined ? new Token(`${name}-admin-token`, {}, child).value : pulumi.secret(args.adminToken);
    this.image = args.image !== undefined ? pulumi.output(args.image) : buildImage(name, args.build ?? {}, child);
    const adminPort = pulumi.output(args.adminPort ?? CONTAINER_ADMIN_PORT);
    const listenAddress = args.listenAddress ?? "0.0.0.0";

    const common: pulumi.Input<string>[] = [`BALLAST_STATE_DIR=${STATE_DIR}`, pulumi.interpolate`BALLAST_ADMIN_TOKEN=${token}`];
    if (args.logLevel !== undefined) common.push(pulumi.interpolate`BALLAST_LOG_LEVEL=${args.logLevel}`);
    if (args.workers !== undefined) common.push(pulumi.interpolate`BALLAST_WORKERS=${args.workers}`);

    this.containers = [];
    this.volumes = [];
    const urls: pulumi.Output<string>[] = [];
    for (let i = 0; i < replicas; i++) {
      // One replica keeps its historical names, so adding `replicas` later replaces nothing.
      const suffix = replicas === 1 ? "" : `-${i}`;
      const volume = new docker.Volume(`${name}-state${suffix}`, {}, child);
      const port = adminPort.apply((p) => p + i);
      const envs = [...common];
      let networking: Pick<docker.ContainerArgs, "ports" | "networkMode">;
      let uploads: pulumi.Input<docker.types.input.ContainerUpload>[] = [];
      if (args.etcd === undefined) {
        envs.push(`BALLAST_ADMIN_ADDR=0.0.0.0:${CONTAINER_ADMIN_PORT}`);
        networking = {
          ports: [
            { internal: CONTAINER_ADMIN_PORT, external: adminPort, ip: "127.0.0.1" },
            ...(args.ports ?? []).map((p) => ({ internal: p, external: p, ip: listenAddress })),
          ],
        };
      } else {
        // Host networking: listeners bind the host's ports themselves (SO_REUSEPORT, shared by the
        // replicas), the admin API 127.0.0.1 only.
        envs.push(pulumi.interpolate`BALLAST_ADMIN_ADDR=127.0.0.1:${port}`, pulumi.interpolate`BALLAST_LISTEN_HOST=${listenAddress}`);
        envs.push(pulumi.interpolate`BALLAST_REPLICA_NAME=${name}-${i}`);
        const etcd = etcdSettings(args.etcd);
        envs.push(...etcd.envs);
        uploads = etcd.uploads;
        networking = { networkMode: "host" };
      }
      const container = new docker.Container(
        `${name}-dataplane${suffix}`,
        {
          image: this.image,
          ...(args.containerName === undefined ? {} : { name: replicas === 1 ? args.containerName : pulumi.interpolate`${args.containerName}-${i}` }),
          ...networking,
          volumes: [{ volumeName: volume.name, containerPath: STATE_DIR }],
          envs,
          ...(uploads.length > 0 ? { uploads } : {}),
          restart: "unless-stopped",
        },
        // With published ports a new container must bind the old one's host ports: delete first.
        // On etcd (host networking, ports shared) the new one starts before the old one stops.
        { ...child, deleteBeforeReplace: args.etcd === undefined },
      );
      this.containers.push(container);
      this.volumes.push(volume);
      urls.push(pulumi.interpolate`http://127.0.0.1:${port}`);
    }
    this.container = this.containers[0]!;
    this.volume = this.volumes[0]!;
    this.adminUrls = pulumi.all(urls);

    // Known at preview (no dependency on the container's outputs), so replacing the container does
    // not make every object's balancer look unknown; resources given this Balancer depend on it.
    this.adminUrl = urls[0]!;
    this.adminToken = pulumi.secret(token);
    this.registerOutputs({ adminUrl: this.adminUrl, adminUrls: this.adminUrls, adminToken: this.adminToken, image: this.image });
  }
}

/** Where a container finds the etcd TLS files a Balancer uploads into it. */
const ETCD_TLS_DIR = "/etc/ballast/etcd";

/** The environment (and uploaded PEM files) that put a data plane on `etcd`. */
function etcdSettings(etcd: BalancerEtcdArgs): { envs: pulumi.Input<string>[]; uploads: pulumi.Input<docker.types.input.ContainerUpload>[] } {
  const envs: pulumi.Input<string>[] = ["BALLAST_STORE=etcd", pulumi.output(etcd.endpoints).apply((e) => `BALLAST_ETCD_ENDPOINTS=${e.join(",")}`)];
  if (etcd.prefix !== undefined) envs.push(pulumi.interpolate`BALLAST_ETCD_PREFIX=${etcd.prefix}`);
  if (etcd.username !== undefined) envs.push(pulumi.interpolate`BALLAST_ETCD_USERNAME=${etcd.username}`);
  if (etcd.password !== undefined) envs.push(pulumi.secret(pulumi.interpolate`BALLAST_ETCD_PASSWORD=${etcd.password}`));
  const uploads: pulumi.Input<docker.types.input.ContainerUpload>[] = [];
  for (const [field, variable] of [["ca", "BALLAST_ETCD_CA"], ["cert", "BALLAST_ETCD_CERT"], ["key", "BALLAST_ETCD_KEY"]] as const) {
    const pem = etcd[field];
    if (pem === undefined) continue;
    const file = `${ETCD_TLS_DIR}/${field}.pem`;
    uploads.push({ file, content: field === "key" ? pulumi.secret(pem) : pem });
    envs.push(`${variable}=${file}`);
  }
  return { envs, uploads };
}

/**
 * The directory a Balancer builds its image from when `build.context` is not given: the root of the
 * installed `ballast` package, which ships the `Dockerfile`, `.dockerignore` and the bundle
 * (`build/image/`, `build/state/`).
 */
export function defaultBuildContext(): string {
  return packageRoot();
}

function buildImage(name: string, build: BalancerBuildArgs, opts: pulumi.CustomResourceOptions): pulumi.Output<string> {
  const context = build.context ?? defaultBuildContext();
  const image = new docker.Image(
    `${name}-image`,
    {
      imageName: build.imageName ?? "ballast-dataplane:latest",
      skipPush: true,
      build: {
        context,
        dockerfile: build.dockerfile ?? pulumi.output(context).apply((c) => path.join(c, "Dockerfile")),
        ...(build.baseImage === undefined ? {} : { args: { BASE_IMAGE: build.baseImage } }),
      },
    },
    opts,
  );
  // The digest (or local image id) changes with every rebuild, so the container follows the image.
  return pulumi.all([image.repoDigest, image.imageName]).apply(([digest, imageName]) => digest || imageName);
}

/** The root of the `ballast` package this module belongs to (the nearest package.json named ballast). */
export function packageRoot(from: string = __dirname): string {
  for (let dir = from; ; dir = path.dirname(dir)) {
    try {
      if (JSON.parse(fs.readFileSync(path.join(dir, "package.json"), "utf8")).name === "ballast") return dir;
    } catch {
      // no package.json here: keep walking up
    }
    if (path.dirname(dir) === dir) return from;
  }
}
