import { describe, expect, test } from "vitest";
import { createScheduler, schedulerNames } from "../../../dataplane/scheduler/registry";
import { SmoothWrr } from "../../../dataplane/scheduler/smooth-wrr";
import { WeightedLeastConn } from "../../../dataplane/scheduler/weighted-least-conn";
import { WeightedRendezvous } from "../../../dataplane/scheduler/weighted-rendezvous";
import { Scheduler } from "../../../model";

describe("createScheduler", () => {
  test("builds one scheduler per configured name, each a fresh instance", () => {
    expect(createScheduler("wrr")).toBeInstanceOf(SmoothWrr);
    expect(createScheduler("wlc")).toBeInstanceOf(WeightedLeastConn);
    expect(createScheduler("source-ip")).toBeInstanceOf(WeightedRendezvous);
    expect(createScheduler("wrr")).not.toBe(createScheduler("wrr"));
  });

  test("knows every scheduler the model allows", () => {
    expect([...schedulerNames].sort()).toEqual([...Scheduler.options].sort());
  });
});
