import type { Logger } from "pino";
import { type AuditScope, inAuditScope } from "../domain/audit/audit-scope.js";
import type { AuditService } from "../domain/audit/audit-service.js";
import type { Clock } from "../domain/clock.js";
import { newId } from "../domain/ids.js";
import type { Job, LeaseStore } from "../domain/jobs/ports.js";

export interface SchedulerDeps {
  jobs: readonly Job[];
  leases: LeaseStore;
  clock: Clock;
  /** This node's name in lease rows. */
  owner: string;
  logger: Pick<Logger, "debug" | "info" | "warn" | "error">;
  /** Where a run that changed something records its outcome, as `system:<job>`. */
  audit?: Pick<AuditService, "record">;
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
export function createScheduler({
  jobs,
  leases,
  clock,
  owner,
  logger,
  audit,
  random = Math.random,
}: SchedulerDeps) {
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
        const summary = await runAudited(job);
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

  /**
   * Runs the job as `system:<name>`: each change it makes commits with an intent row, and a run that
   * made any ends with a row of its outcome. Idle rounds write nothing.
   */
  async function runAudited(job: Job): Promise<string> {
    const requestId = newId();
    const base = {
      requestId,
      principalId: `system:${job.name}`,
      operation: `job ${job.name}`,
      clientAddress: "local",
    };
    const scope: AuditScope = {
      entry: () => ({ ...base, time: clock.now(), outcome: "pending", status: 0 }),
      intents: 0,
    };
    try {
      const summary = await inAuditScope(scope, () => job.run(abort.signal));
      if (scope.intents > 0) {
        await audit?.record({ ...base, time: clock.now(), outcome: "success", status: 0, detail: summary });
      }
      return summary;
    } catch (error) {
      if (scope.intents > 0) {
        await audit?.record({
          ...base,
          time: clock.now(),
          outcome: "failure",
          status: 0,
          detail: (error as Error).message.slice(0, 500),
        });
      }
      throw error;
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
