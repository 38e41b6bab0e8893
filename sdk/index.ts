/**
 * Ballast's Pulumi sdk: the public entry. One resource class per kind of object on a balancer, and
 * the `Balancer` component that runs the data plane in Docker.
 */
export { Balancer, defaultBuildContext, type BalancerArgs, type BalancerBuildArgs } from "./balancer";
export { BackendService, type BackendServiceArgs, type CookiePersistenceArgs, type SourceIpPersistenceArgs } from "./backend-service";
export { HealthCheck, type HealthCheckArgs } from "./health-check";
export { Listener, type ListenerArgs, type CertificateArgs, type AccessLogArgs } from "./listener";
export { ServerGroup, type ServerArgs, type ServerGroupArgs } from "./server-group";
export { Token, type TokenArgs } from "./token";
export type { BalancerConnectionArgs, CommonArgs } from "./common";
