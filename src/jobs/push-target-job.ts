import type { PushTargetService } from "../domain/deployments/push-target-service.js";
import type { Job } from "../domain/jobs/ports.js";

/**
 * Brings every push target up to its certificate's newest version. It runs every few seconds on
 * one node at a time (the scheduler's lease), so a renewal reaches the other vault within moments
 * and no version is imported twice; an idle round is one read per target.
 */
export function createPushTargetJob(
  deps: { pushTargets: Pick<PushTargetService, "pushDue"> },
  intervalMs = 5_000,
): Job {
  return {
    name: "push-targets",
    intervalMs,
    async run(signal) {
      const { pushed, failed, inSync } = await deps.pushTargets.pushDue(signal);
      return `${pushed} pushed, ${failed} failed, ${inSync} in sync`;
    },
  };
}
