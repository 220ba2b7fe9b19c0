import type { Clock } from "../domain/clock.js";
import { OBJECT_TYPE, objectEvent } from "../domain/events/model.js";
import type { Job, NoticeStore } from "../domain/jobs/ports.js";

export interface ExpiryNoticeJobDeps {
  store: NoticeStore;
  clock: Clock;
  intervalMs?: number;
}

/**
 * Raises NearExpiry once a version enters its vault's window and Expired once it has expired: each
 * once per version, however many nodes run the job and however often.
 */
export function createExpiryNoticeJob({ store, clock, intervalMs = 3_600_000 }: ExpiryNoticeJobDeps): Job {
  return {
    name: "expiry-notices",
    intervalMs,
    async run(signal) {
      const now = clock.now();
      let raised = 0;
      let after: string | undefined;
      do {
        const page = await store.findExpiring(now, 500, after);
        for (const o of page.items) {
          if (signal.aborted) return `stopped after ${raised} notices`;
          const expired = o.expiresAt.getTime() <= now.getTime();
          const objectType = OBJECT_TYPE[o.collection];
          const kind = expired ? "Expired" : "NearExpiry";
          const raisedNow = await store.raiseOnce(
            o,
            kind,
            objectEvent(`${objectType}${kind}`, { id: o.vaultId, name: o.vaultName }, objectType, o, now),
          );
          if (raisedNow) raised++;
        }
        after = page.next;
      } while (after);
      return `raised ${raised} notices`;
    },
  };
}
