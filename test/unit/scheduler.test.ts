import pino from "pino";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import type { Job, LeaseStore } from "../../src/domain/jobs/ports.js";
import { createScheduler, FIRST_RUN_WITHIN_MS } from "../../src/jobs/scheduler.js";

/** Leases in memory, with the same rules as the SQL store: one owner until `until` has passed. */
function memoryLeases(): LeaseStore {
  const held = new Map<string, { owner: string; until: number }>();
  return {
    async acquire(job, owner, now, until) {
      const lease = held.get(job);
      if (lease && lease.owner !== owner && lease.until > now.getTime()) return false;
      held.set(job, { owner, until: until.getTime() });
      return true;
    },
    async release(job, owner) {
      if (held.get(job)?.owner === owner) held.delete(job);
    },
  };
}

const TEN_MINUTES = 600_000;

describe("scheduler", () => {
  beforeEach(() => {
    vi.useFakeTimers({ now: new Date("2026-12-01T00:00:00Z") });
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  function scheduled(random: () => number, intervalMs = TEN_MINUTES) {
    const runs: number[] = [];
    const job: Job = {
      name: "renewals",
      intervalMs,
      async run() {
        runs.push(Date.now());
        return "renewed 0";
      },
    };
    const scheduler = createScheduler({
      jobs: [job],
      leases: memoryLeases(),
      clock: { now: () => new Date() },
      owner: "node-a",
      logger: pino({ level: "silent" }),
      random,
    });
    return { scheduler, runs, startedAt: Date.now() };
  }

  it("runs a job soon after start instead of after its first interval", async () => {
    const { scheduler, runs, startedAt } = scheduled(() => 0.5);
    scheduler.start();
    await vi.advanceTimersByTimeAsync(FIRST_RUN_WITHIN_MS);
    expect(runs).toEqual([startedAt + FIRST_RUN_WITHIN_MS / 2]);
    await scheduler.stop();
  });

  it("spreads first runs by its jitter, never beyond the bound", async () => {
    const { scheduler, runs, startedAt } = scheduled(() => 0.999_999);
    scheduler.start();
    await vi.advanceTimersByTimeAsync(FIRST_RUN_WITHIN_MS - 2);
    expect(runs).toEqual([]);
    await vi.advanceTimersByTimeAsync(2);
    expect(runs).toHaveLength(1);
    expect(runs[0] as number).toBeLessThan(startedAt + FIRST_RUN_WITHIN_MS);
    await scheduler.stop();
  });

  it("then runs it on its interval", async () => {
    const { scheduler, runs, startedAt } = scheduled(() => 0);
    scheduler.start();
    await vi.advanceTimersByTimeAsync(2 * TEN_MINUTES);
    expect(runs).toEqual([startedAt, startedAt + TEN_MINUTES, startedAt + 2 * TEN_MINUTES]);
    await scheduler.stop();
  });

  it("starts a job with a short interval within that interval", async () => {
    const { scheduler, runs, startedAt } = scheduled(() => 0.5, 4_000);
    scheduler.start();
    await vi.advanceTimersByTimeAsync(2_000);
    expect(runs).toEqual([startedAt + 2_000]);
    await scheduler.stop();
  });

  it("runs nothing more once stopped, whether before or after the first run", async () => {
    const early = scheduled(() => 0.5);
    early.scheduler.start();
    await early.scheduler.stop();
    const late = scheduled(() => 0);
    late.scheduler.start();
    await vi.advanceTimersByTimeAsync(1);
    await late.scheduler.stop();
    await vi.advanceTimersByTimeAsync(3 * TEN_MINUTES);
    expect(early.runs).toEqual([]);
    expect(late.runs).toHaveLength(1);
  });
});
