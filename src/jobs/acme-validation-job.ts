import type { AcmeServerService } from "../domain/acme-server/acme-server-service.js";
import type { ClaimedChallenge, ValidationOutcome } from "../domain/acme-server/model.js";
import type { AcmeServerStore } from "../domain/acme-server/ports.js";
import { type AuditScope, inAuditScope } from "../domain/audit/audit-scope.js";
import type { AuditService } from "../domain/audit/audit-service.js";
import type { Clock } from "../domain/clock.js";
import { newId } from "../domain/ids.js";
import type { Job } from "../domain/jobs/ports.js";

export interface AcmeValidationJob extends Job {
  /**
   * Records the outcome of a challenge this node started (and holds the lease of) once its
   * validation, under way in this process, comes to one.
   */
  kick(challenge: ClaimedChallenge, outcome: Promise<ValidationOutcome>): void;
}

/**
 * Finishes ACME validations that outlasted their challenge POST. The node that took the POST
 * records the outcome under the lease it took with it; the schedule picks up challenges whose node
 * died mid-validation once their lease runs out, and forgets expired nonces. Challenges are claimed
 * through the database, so each is validated once.
 */
export function createAcmeValidationJob(
  deps: {
    acme: Pick<AcmeServerService, "validatePending" | "validate">;
    store: Pick<AcmeServerStore, "purgeNonces">;
    clock: Clock;
    /** Where a kicked round that changed something records its outcome. */
    audit: Pick<AuditService, "record">;
    onError: (error: unknown) => void;
  },
  intervalMs = 5_000,
): AcmeValidationJob {
  return {
    name: "acme-validation",
    intervalMs,
    kick(challenge, outcome) {
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
      inAuditScope(scope, () => deps.acme.validate(challenge, outcome))
        .then(async () => {
          if (scope.intents > 0)
            await deps.audit.record({
              ...base,
              time: deps.clock.now(),
              outcome: "success",
              status: 0,
              detail: `challenge ${challenge.challenge.id} validated`,
            });
        })
        .catch(deps.onError);
    },
    async run() {
      let validated = 0;
      for (let n = await deps.acme.validatePending(); n > 0; n = await deps.acme.validatePending())
        validated += n;
      const purged = await deps.store.purgeNonces(deps.clock.now());
      return `${validated} challenges validated, ${purged} expired nonces forgotten`;
    },
  };
}
