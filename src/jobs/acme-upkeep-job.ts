import type { Job } from "../domain/jobs/ports.js";

export interface AcmeUpkeepJobDeps {
  /** Asks ACME CAs for the renewal windows (RFC 9773) whose check time has come. */
  refreshRenewalInfo: () => Promise<{ checked: number; failed: number }>;
  /** Takes down the challenges of orders whose operation was cancelled or deleted. */
  sweepAbandonedOrders: () => Promise<number>;
  intervalMs?: number;
}

/** ACME housekeeping: renewal windows that AutoRenew reads, and challenges nobody will finish. */
export function createAcmeUpkeepJob({
  refreshRenewalInfo,
  sweepAbandonedOrders,
  intervalMs = 15 * 60_000,
}: AcmeUpkeepJobDeps): Job {
  return {
    name: "acme-upkeep",
    intervalMs,
    async run() {
      const swept = await sweepAbandonedOrders();
      const { checked, failed } = await refreshRenewalInfo();
      return `renewal info checked ${checked}, failed ${failed}; abandoned orders cleaned ${swept}`;
    },
  };
}
