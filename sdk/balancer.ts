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
  /** Name of the container. Default: autonamed by Pulumi. */
  containerName?: pulumi.Input<string>;
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
  readonly container: docker.Container;
  readonly volume: docker.Volume;

  constructor(name: string, args: BalancerArgs = {}, opts?: pulumi.ComponentResourceOptions) {
    super("ballast:index:Balancer", name, {}, opts);
    const child = { parent: this };

    const token = args.adminToken === undefined ? new Token(`${name}-admin-token`, {}, child).value : pulumi.secret(args.adminToken);
    this.image = args.image !== undefined ? pulumi.output(args.image) : buildImage(name, args.build ?? {}, child);
    this.volume = new docker.Volume(`${name}-state`, {}, child);

    const adminPort = pulumi.output(args.adminPort ?? CONTAINER_ADMIN_PORT);
    const listenAddress = args.listenAddress ?? "0.0.0.0";
    const ports: pulumi.Input<docker.types.input.ContainerPort>[] = [
      { internal: CONTAINER_ADMIN_PORT, external: adminPort, ip: "127.0.0.1" },
      ...(args.ports ?? []).map((p) => ({ internal: p, external: p, ip: listenAddress })),
    ];
    const envs: pulumi.Input<string>[] = [
      `BALLAST_ADMIN_ADDR=0.0.0.0:${CONTAINER_ADMIN_PORT}`,
      `BALLAST_STATE_DIR=${STATE_DIR}`,
      pulumi.interpolate`BALLAST_ADMIN_TOKEN=${token}`,
    ];
    if (args.logLevel !== undefined) envs.push(pulumi.interpolate`BALLAST_LOG_LEVEL=${args.logLevel}`);
    if (args.workers !== undefined) envs.push(pulumi.interpolate`BALLAST_WORKERS=${args.workers}`);

    this.container = new docker.Container(
      `${name}-dataplane`,
      {
        image: this.image,
        ...(args.containerName === undefined ? {} : { name: args.containerName }),
        ports,
        volumes: [{ volumeName: this.volume.name, containerPath: STATE_DIR }],
        envs,
        restart: "unless-stopped",
      },
      // A new container must bind the same host ports as the old one: delete first.
      { ...child, deleteBeforeReplace: true },
    );

    // Known at preview (no dependency on the container's outputs), so replacing the container does
    // not make every object's balancer look unknown; resources given this Balancer depend on it.
    this.adminUrl = pulumi.interpolate`http://127.0.0.1:${adminPort}`;
    this.adminToken = pulumi.secret(token);
    this.registerOutputs({ adminUrl: this.adminUrl, adminToken: this.adminToken, image: this.image });
  }
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
