import { type RunEnd, type RunReporter, runTlsScan } from "../discovery/scan-runner.js";
import type { DiscoveryService } from "../domain/discovery/discovery-service.js";
import type { ScanRun } from "../domain/discovery/model.js";
import type { Job } from "../domain/jobs/ports.js";

/**
 * A run's lease: renewed with every batch of results, so a node that dies mid-scan hands the run
 * to another within this long, and that one resumes where the results stop.
 */
export const RUN_LEASE_MS = 60_000;

type Discovery = Pick<
  DiscoveryService,
  "claim" | "renewLease" | "doneLocations" | "knownNames" | "record" | "complete" | "fireDueSchedules"
>;

/** Reports a run the server scans itself straight to the discovery service. */
export function serviceReporter(discovery: Discovery, run: ScanRun, owner: string): RunReporter {
  return {
    knownNames: (hosts) => discovery.knownNames(hosts),
    doneLocations: () => discovery.doneLocations(run.id),
    async record(results, total) {
      if (results.length > 0) await discovery.record(run, results, total);
      return discovery.renewLease(run.id, owner, RUN_LEASE_MS);
    },
    complete: async () => {
      await discovery.complete(run);
    },
  };
}

/** Claims and scans the server's queued runs (those with no agent) one after another. */
export async function drainServerRuns(discovery: Discovery, owner: string, signal?: AbortSignal) {
  const ended: Record<RunEnd | "failed", number> = { completed: 0, cancelled: 0, stopped: 0, failed: 0 };
  while (!signal?.aborted) {
    const run = await discovery.claim(undefined, owner, RUN_LEASE_MS);
    if (!run) break;
    if (run.spec.kind !== "tls") {
      await discovery.complete(run, { error: "the server scans networks only; file scans run on agents" });
      ended.failed++;
      continue;
    }
    try {
      ended[await runTlsScan(run.spec, serviceReporter(discovery, run, owner), signal)]++;
    } catch (error) {
      // One run that breaks (a database error mid-scan) is recorded as failed; the queue goes on.
      await discovery.complete(run, { error: (error as Error).message });
      ended.failed++;
    }
  }
  return ended;
}

/** Queues the runs schedules are due for, then scans every queued server run. */
export function createDiscoveryJob(deps: { discovery: Discovery; owner: string }, intervalMs = 2000): Job {
  return {
    name: "discovery",
    intervalMs,
    async run(signal) {
      const fired = await deps.discovery.fireDueSchedules();
      const ended = await drainServerRuns(deps.discovery, deps.owner, signal);
      return `${fired} scheduled runs queued, ${ended.completed} completed, ${ended.cancelled} cancelled, ${ended.failed} failed`;
    },
  };
}
