import type { AlertService } from "../domain/alerts/alert-service.js";
import type { Job } from "../domain/jobs/ports.js";

/**
 * Reconciles alerts with the conditions true now. It runs after the inventory job has had a chance
 * to project new versions, so a renewal resolves its expiring alert within one interval of both.
 */
export function createAlertJob({
  alerts,
  intervalMs = 60_000,
}: {
  alerts: Pick<AlertService, "evaluate">;
  intervalMs?: number;
}): Job {
  return {
    name: "alerts",
    intervalMs,
    async run() {
      const { opened, escalated, resolved } = await alerts.evaluate();
      return `opened ${opened}, escalated ${escalated}, resolved ${resolved}`;
    },
  };
}
