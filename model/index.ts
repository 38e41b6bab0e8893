/** The Ballast model: zod schemas, inferred types, limits and replace-on-change lists. Imports zod only. */
export * from "./common";
export * from "./issues";
export * from "./backend-service";
export * from "./health-check";
export * from "./server-group";
export * from "./listener";
export * from "./kinds";
