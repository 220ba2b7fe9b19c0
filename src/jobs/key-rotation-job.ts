import type { Clock } from "../domain/clock.js";
import { objectEvent } from "../domain/events/model.js";
import type { Job, NoticeStore, RenewalStore, RotationCandidate } from "../domain/jobs/ports.js";
import { addDuration, type KeyService } from "../domain/keys/key-service.js";
import type { LifetimeAction } from "../domain/keys/model.js";
import type { Vault } from "../domain/vaults/model.js";
import { retryDelayMs } from "./renewal-job.js";

export interface KeyRotationJobDeps {
  candidates: () => Promise<RotationCandidate[]>;
  /** Claims per key version, so a rotation happens once however many nodes run the job. */
  claims: RenewalStore;
  notices: Pick<NoticeStore, "raiseOnce">;
  keys: Pick<KeyService, "rotate" | "get">;
  vaults: () => Promise<Vault[]>;
  clock: Clock;
  intervalMs?: number;
}

/** When an action of a rotation policy falls due for a version; undefined when it cannot (no expiry). */
export function rotationDueAt(
  action: LifetimeAction,
  createdAt: Date,
  expiresAt: Date | undefined,
): Date | undefined {
  if (action.timeAfterCreate) return addDuration(createdAt, action.timeAfterCreate);
  if (action.timeBeforeExpiry && expiresAt) {
    const span = addDuration(expiresAt, action.timeBeforeExpiry).getTime() - expiresAt.getTime();
    return new Date(expiresAt.getTime() - span);
  }
  return undefined;
}

/**
 * Carries out key rotation policies: Rotate makes a new version (as the rotate operation does,
 * with the policy's expiryTime); Notify raises KeyNearExpiry once per version.
 */
export function createKeyRotationJob(deps: KeyRotationJobDeps): Job {
  return {
    name: "key-rotation",
    intervalMs: deps.intervalMs ?? 600_000,
    async run(signal) {
      const now = deps.clock.now();
      const byId = new Map((await deps.vaults()).map((v) => [v.id, v]));
      let rotated = 0;
      let failed = 0;
      for (const c of await deps.candidates()) {
        if (signal.aborted) break;
        const vault = byId.get(c.vaultId);
        if (!vault) continue;
        for (const action of c.policy.lifetimeActions ?? []) {
          const due = rotationDueAt(action, c.createdAt, c.expiresAt);
          if (!due || due.getTime() > now.getTime()) continue;
          if (action.action === "Notify") {
            await deps.notices.raiseOnce(
              {
                vaultId: vault.id,
                vaultName: vault.name,
                collection: "keys",
                name: c.name,
                version: c.version,
                expiresAt: c.expiresAt ?? now,
                nearExpiryDays: 0,
              },
              "RotationNotify",
              objectEvent("KeyNearExpiry", vault, "Key", c, now),
            );
            continue;
          }
          const claim = await deps.claims.claim(
            vault.id,
            c.name,
            c.version,
            now,
            new Date(now.getTime() - 600_000),
          );
          if (!claim) continue;
          try {
            if ((await deps.keys.get(vault, c.name)).version === c.version) {
              await deps.keys.rotate(vault, c.name);
              rotated++;
            }
            await deps.claims.complete(vault.id, c.name, c.version);
          } catch (error) {
            failed++;
            await deps.claims.fail(
              vault.id,
              c.name,
              c.version,
              (error as Error).message,
              new Date(now.getTime() + retryDelayMs(claim.attempts)),
              objectEvent(
                "KeyNearExpiry",
                vault,
                "Key",
                c,
                now,
                `rotation failed: ${(error as Error).message}`,
              ),
            );
          }
        }
      }
      return `rotated ${rotated}, failed ${failed}`;
    },
  };
}
