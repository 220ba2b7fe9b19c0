import type { Logger } from "pino";
import type { Clock } from "../domain/clock.js";
import type { Job, LeaseStore } from "../domain/jobs/ports.js";

export interface SchedulerDeps {
  jobs: readonly Job[];
  leases: LeaseStore;
  clock: Clock;
  /** This node's name in lease rows. */
  owner: string;
  logger: Pick<Logger, "debug" | "info" | "warn" | "error">;
}

export type Scheduler = ReturnType<typeof createScheduler>;

/**
 * Runs each job every `intervalMs` on whichever node takes its lease first. The lease outlives one
 * run by a full interval, so a node that dies mid-run blocks the job for at most that long.
 */
export function createScheduler({ jobs, leases, clock, owner, logger }: SchedulerDeps) {
  const timers = new Map<string, NodeJS.Timeout>();
  const running = new Map<string, Promise<string | undefined>>();
  const abort = new AbortController();

  async function runOnce(name: string): Promise<string | undefined> {
    const job = jobs.find((j) => j.name === name);
    if (!job) throw new Error(`No job named ${name}; jobs: ${jobs.map((j) => j.name).join(", ")}`);
    const inFlight = running.get(name);
    if (inFlight) return inFlight;
    const run = (async () => {
      const now = clock.now();
      if (!(await leases.acquire(name, owner, now, new Date(now.getTime() + 2 * job.intervalMs))))
        return undefined;
      try {
        const summary = await job.run(abort.signal);
        // Idle rounds (every count zero) every few seconds would drown the log.
        if (/[1-9]/.test(summary)) logger.info({ job: name, summary }, "job ran");
        else logger.debug({ job: name, summary }, "job ran");
        return summary;
      } finally {
        await leases.release(name, owner);
      }
    })();
    running.set(name, run);
    try {
      return await run;
    } finally {
      running.delete(name);
    }
  }

  return {
    runOnce,
    start() {
      for (const job of jobs) {
        const tick = () =>
          runOnce(job.name).catch((error: unknown) =>
            logger.error({ err: error, job: job.name }, "job failed"),
          );
        timers.set(job.name, setInterval(tick, job.intervalMs).unref());
      }
    },
    async stop() {
      for (const timer of timers.values()) clearInterval(timer);
      timers.clear();
      abort.abort();
      await Promise.allSettled(running.values());
    },
  };
}
