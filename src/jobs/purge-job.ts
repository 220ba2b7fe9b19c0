import type { CertificateService } from "../domain/certificates/certificate-service.js";
import type { DuePurge, Job } from "../domain/jobs/ports.js";
import type { KeyService } from "../domain/keys/key-service.js";
import type { SecretService } from "../domain/secrets/secret-service.js";
import type { Vault } from "../domain/vaults/model.js";

export interface PurgeJobDeps {
  findDue: (limit: number) => Promise<DuePurge[]>;
  vaults: () => Promise<Vault[]>;
  secrets: Pick<SecretService, "purgeDue">;
  keys: Pick<KeyService, "purgeDue">;
  certificates: Pick<CertificateService, "purgeDue">;
  intervalMs?: number;
  batchSize?: number;
}

/**
 * Purges soft-deleted objects whose retention has ended, purge protection or not (it only forbids
 * purging early). Certificates go first, since purging one takes its key and secret with it. One
 * object that fails does not stop the others.
 */
export function createPurgeJob(deps: PurgeJobDeps): Job {
  const batchSize = deps.batchSize ?? 500;
  return {
    name: "purge",
    intervalMs: deps.intervalMs ?? 3_600_000,
    async run(signal) {
      const byId = new Map((await deps.vaults()).map((v) => [v.id, v]));
      const order = { certificates: 0, keys: 1, secrets: 2 } as const;
      let purged = 0;
      const failures: string[] = [];
      for (;;) {
        const due = (await deps.findDue(batchSize)).sort((a, b) => order[a.collection] - order[b.collection]);
        let progressed = false;
        for (const item of due) {
          if (signal.aborted) return `stopped after purging ${purged}`;
          const vault = byId.get(item.vaultId);
          if (!vault) continue;
          try {
            const service =
              item.collection === "certificates"
                ? deps.certificates
                : item.collection === "keys"
                  ? deps.keys
                  : deps.secrets;
            if (await service.purgeDue(vault, item.name)) {
              purged++;
              progressed = true;
            }
          } catch (error) {
            failures.push(`${vault.name}/${item.collection}/${item.name}: ${(error as Error).message}`);
          }
        }
        if (due.length < batchSize || !progressed) break;
      }
      return failures.length === 0
        ? `purged ${purged}`
        : `purged ${purged}; failed ${failures.length}: ${failures.join("; ")}`;
    },
  };
}
