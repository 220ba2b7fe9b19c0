import type { Job } from "../domain/jobs/ports.js";
import type { RemoteVaultService } from "../domain/remote-vaults/remote-vault-service.js";

/**
 * Reads every remote vault into the inventory once an hour. A vault that cannot be read keeps the
 * locations its last good sync saw (an outage must not look like every certificate being deleted)
 * and has the failure recorded on it; the others are read regardless.
 */
export function createRemoteVaultSyncJob(
  deps: { remoteVaults: Pick<RemoteVaultService, "syncAll"> },
  intervalMs = 3_600_000,
): Job {
  return {
    name: "remote-vault-sync",
    intervalMs,
    async run(signal) {
      const results = await deps.remoteVaults.syncAll(signal);
      const failed = results.filter((r) => r.sync.status === "failed");
      const certificates = results.reduce(
        (n, r) => n + (r.sync.status === "ok" ? r.sync.certificates : 0),
        0,
      );
      const gone = results.reduce((n, r) => n + (r.sync.status === "ok" ? r.sync.gone : 0), 0);
      const summary = `${results.length - failed.length} remote vaults read, ${certificates} certificates, ${gone} gone`;
      return failed.length > 0
        ? `${summary}; ${failed.length} failed: ${failed.map((r) => `${r.name}: ${r.sync.error}`).join("; ")}`
        : summary;
    },
  };
}
