import type { Job } from "../domain/jobs/ports.js";

/** Asks ACME CAs for the renewal windows (RFC 9773) whose check time has come; AutoRenew reads them. */
export function createAcmeRenewalInfoJob({
  refresh,
  intervalMs = 15 * 60_000,
}: {
  refresh: () => Promise<{ checked: number; failed: number }>;
  intervalMs?: number;
}): Job {
  return {
    name: "acme-renewal-info",
    intervalMs,
    async run() {
      const { checked, failed } = await refresh();
      return `checked ${checked}, failed ${failed}`;
    },
  };
}
