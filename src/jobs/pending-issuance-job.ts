import type { CertificateService } from "../domain/certificates/certificate-service.js";
import type { Job } from "../domain/jobs/ports.js";
import type { Vault } from "../domain/vaults/model.js";

export interface PendingIssuanceJobDeps {
  /** Operations in progress with a named issuer (not Unknown), oldest first. */
  pending: (limit: number) => Promise<{ vaultId: string; name: string }[]>;
  certificates: Pick<CertificateService, "advance">;
  vaults: () => Promise<Vault[]>;
  intervalMs?: number;
}

/**
 * Moves operations that an issuer left pending (an ACME CA validating) on, one step per round,
 * so a create returns at once and completes when the CA is done; the certificate service stores
 * the result through the same path as an immediate issuance. One failing operation does not stop
 * the others.
 */
export function createPendingIssuanceJob({
  pending,
  certificates,
  vaults,
  intervalMs = 5_000,
}: PendingIssuanceJobDeps): Job {
  return {
    name: "pending-issuance",
    intervalMs,
    async run(signal) {
      const items = await pending(200);
      if (items.length === 0) return "issued 0, failed 0, pending 0, errors 0";
      const byId = new Map((await vaults()).map((v) => [v.id, v]));
      const counts = { issued: 0, failed: 0, pending: 0, errors: 0 };
      for (const item of items) {
        if (signal.aborted) break;
        const vault = byId.get(item.vaultId);
        if (!vault) continue;
        try {
          const operation = await certificates.advance(vault, item.name);
          if (operation?.status === "completed") counts.issued++;
          else if (operation?.status === "failed") counts.failed++;
          else counts.pending++;
        } catch {
          // Left in progress: the next round tries again.
          counts.errors++;
        }
      }
      return `issued ${counts.issued}, failed ${counts.failed}, pending ${counts.pending}, errors ${counts.errors}`;
    },
  };
}
