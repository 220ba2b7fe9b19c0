import type { ApprovalService } from "../domain/approvals/approval-service.js";
import type { Job } from "../domain/jobs/ports.js";

/**
 * Marks requests whose approvers did not decide in time expired. Reads already treat them as expired;
 * the job records it, so lists by state and the requests' audit trail say so too.
 */
export function createApprovalExpiryJob({
  approvals,
  intervalMs = 60_000,
}: {
  approvals: Pick<ApprovalService, "expireDue">;
  intervalMs?: number;
}): Job {
  return {
    name: "approval-expiry",
    intervalMs,
    async run() {
      let expired = 0;
      for (let batch = await approvals.expireDue(); batch.length > 0; batch = await approvals.expireDue())
        expired += batch.length;
      return `expired ${expired}`;
    },
  };
}
