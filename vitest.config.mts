import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["test/**/*.test.ts"],
    // Real sockets, real processes: generous per-test time, but every test bounds its own loops.
    testTimeout: 60_000,
    hookTimeout: 120_000,
    // Two cores: run files in parallel, but not so many that timing-based tests starve.
    maxWorkers: 2,
    reporters: process.env.CI ? ["default"] : ["default"],
  },
});
