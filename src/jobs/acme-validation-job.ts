import type { AcmeServerService } from "../domain/acme-server/acme-server-service.js";
import type { AcmeServerStore } from "../domain/acme-server/ports.js";
import { type AuditScope, inAuditScope } from "../domain/audit/audit-scope.js";
import type { AuditService } from "../domain/audit/audit-service.js";
import type { Clock } from "../domain/clock.js";
import { newId } from "../domain/ids.js";
import type { Job } from "../domain/jobs/ports.js";

export interface AcmeValidationJob extends Job {
  /** Validates what is waiting now, in this process, without waiting for the schedule. */
  kick(): void;
}

/**
 * Validates ACME challenges that clients said are ready. A challenge POST kicks the node that took
 * it; the schedule picks up challenges whose node died mid-validation once their lease runs out, and
 * forgets expired nonces. Challenges are claimed through the database, so each is validated once.
 */
export function createAcmeValidationJob(
  deps: {
    acme: Pick<AcmeServerService, "validatePending">;
    store: Pick<AcmeServerStore, "purgeNonces">;
    clock: Clock;
    /** Where a kicked round that changed something records its outcome. */
    audit: Pick<AuditService, "record">;
    onError: (error: unknown) => void;
  },
  intervalMs = 5_000,
): AcmeValidationJob {
  let running: Promise<number> | undefined;
  let again = false;

  async function drain(): Promise<number> {
    let total = 0;
    do {
      again = false;
      for (let n = await deps.acme.validatePending(); n > 0; n = await deps.acme.validatePending())
        total += n;
    } while (again);
    return total;
  }

  function once(): Promise<number> {
    if (running) {
      again = true;
      return running;
    }
    running = drain().finally(() => {
      running = undefined;
    });
    return running;
  }

  return {
    name: "acme-validation",
    intervalMs,
    kick() {
      // A kick comes from a challenge request, whose audit scope would otherwise carry on into
      // this work after the request was answered: the round is the job's own, as the schedule's are.
      const base = {
        requestId: newId(),
        principalId: "system:acme-validation",
        operation: "job acme-validation",
        clientAddress: "local",
      };
      const scope: AuditScope = {
        entry: () => ({ ...base, time: deps.clock.now(), outcome: "pending", status: 0 }),
        intents: 0,
      };
      inAuditScope(scope, once)
        .then(async (validated) => {
          if (scope.intents > 0)
            await deps.audit.record({
              ...base,
              time: deps.clock.now(),
              outcome: "success",
              status: 0,
              detail: `${validated} challenges validated`,
            });
        })
        .catch(deps.onError);
    },
    async run() {
      const validated = await once();
      const purged = await deps.store.purgeNonces(deps.clock.now());
      return `${validated} challenges validated, ${purged} expired nonces forgotten`;
    },
  };
}
