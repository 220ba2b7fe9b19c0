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
  /** A number in [0, 1) that spreads first runs; Math.random unless a test fixes it. */
  random?: () => number;
}

/**
 * Each job first runs within this long of start (or within its interval when shorter): work that
 * fell due while the server was down must not wait a whole interval (10 minutes for renewals), and
 * the jitter keeps nodes restarted together from all reaching for the same leases at once.
 */
export const FIRST_RUN_WITHIN_MS = 30_000;

export type Scheduler = ReturnType<typeof createScheduler>;

/**
 * Runs each job soon after start, then every `intervalMs`, on whichever node takes its lease first. The lease outlives one
 * run by a full interval, so a node that dies mid-run blocks the job for at most that long.
 */
export function createScheduler({ jobs, leases, clock, owner, logger, random = Math.random }: SchedulerDeps) {
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
        const delayMs = Math.floor(random() * Math.min(FIRST_RUN_WITHIN_MS, job.intervalMs));
        const first = setTimeout(() => {
          timers.set(job.name, setInterval(tick, job.intervalMs).unref());
          void tick();
        }, delayMs).unref();
        timers.set(job.name, first);
      }
    },
    async stop() {
      // clearTimeout clears intervals too: one timer per job, whichever stage it is in.
      for (const timer of timers.values()) clearTimeout(timer);
      timers.clear();
      abort.abort();
      await Promise.allSettled(running.values());
    },
  };
}
