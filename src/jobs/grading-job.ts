import type { Clock } from "../domain/clock.js";
import type { Job } from "../domain/jobs/ports.js";
import type { GradingProgress, GradingService } from "../domain/rules/grading-service.js";

const DAY_MS = 86_400_000;

export const gradingSummary = (p: GradingProgress) =>
  `${p.mode === "full" ? "full grading" : "changed records"}: ${p.graded} graded, ${p.opened} findings opened, ${p.resolved} resolved`;

/**
 * Keeps the inventory's findings current: everything after a rule change, the records the inventory
 * queued otherwise, and everything once a day, since expiry and revocation change with time and not
 * with any record. The scheduler's lease keeps it to one node.
 */
export function createGradingJob(
  deps: { grading: Pick<GradingService, "grade" | "gradeAll">; clock: Clock },
  intervalMs = 60_000,
): Job {
  let lastFullAt: number | undefined;
  return {
    name: "grading",
    intervalMs,
    async run(signal) {
      const now = deps.clock.now().getTime();
      const progress =
        lastFullAt === undefined || now - lastFullAt >= DAY_MS
          ? await deps.grading.gradeAll(signal)
          : await deps.grading.grade(signal);
      if (progress.mode === "full" && !signal.aborted) lastFullAt = now;
      return gradingSummary(progress);
    },
  };
}
