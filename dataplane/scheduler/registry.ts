import type { Scheduler as SchedulerName } from "../../model";
import type { Scheduler } from "./scheduler";
import { SmoothWrr } from "./smooth-wrr";
import { WeightedLeastConn } from "./weighted-least-conn";
import { WeightedRendezvous } from "./weighted-rendezvous";

/**
 * Builds a scheduler from its configured name. Each call returns a fresh instance with its own
 * state (wrr's running weights), so each service owns one.
 */

/**
 * What schedulers may be given from outside. The three current algorithms need nothing (no clock,
 * no randomness: rendezvous hashing is deterministic on purpose); the parameter exists so a future
 * scheduler that does (e.g. power-of-two-choices) is built the same way with its dependency injected.
 */
export interface SchedulerDeps {
  readonly random?: () => number;
}

const factories: Readonly<Record<SchedulerName, (deps: SchedulerDeps) => Scheduler>> = {
  wrr: () => new SmoothWrr(),
  wlc: () => new WeightedLeastConn(),
  "source-ip": () => new WeightedRendezvous(),
};

export function createScheduler(name: SchedulerName, deps: SchedulerDeps = {}): Scheduler {
  const factory = factories[name];
  if (!factory) throw new Error(`unknown scheduler ${String(name)}`);
  return factory(deps);
}

export const schedulerNames = Object.keys(factories) as SchedulerName[];
