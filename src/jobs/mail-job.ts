import type { ContactsService } from "../domain/certificates/contacts-service.js";
import type { StoredEvent } from "../domain/events/model.js";
import { MAILED_EVENTS, noticeMail } from "../domain/events/notices.js";
import type { Job } from "../domain/jobs/ports.js";
import type { Vault } from "../domain/vaults/model.js";
import type { Mailer } from "../notify/smtp-mailer.js";

export interface MailJobDeps {
  events: (afterSeq: number, limit: number) => Promise<StoredEvent[]>;
  cursor: { get(): Promise<number>; set(seq: number): Promise<void> };
  vaults: () => Promise<Vault[]>;
  contacts: Pick<ContactsService, "get">;
  mailer: Mailer;
  vaultUrl: (name: string) => string;
  intervalMs?: number;
}

/**
 * Mails the vault's certificate contacts about near-expiry, expiry and failed renewals, in outbox
 * order and at least once: the cursor moves only past events that were mailed (or need no mail).
 */
export function createMailJob(deps: MailJobDeps): Job {
  return {
    name: "mail",
    intervalMs: deps.intervalMs ?? 60_000,
    async run(signal) {
      const byId = new Map((await deps.vaults()).map((v) => [v.id, v]));
      let cursor = await deps.cursor.get();
      let sent = 0;
      for (;;) {
        const batch = await deps.events(cursor, 200);
        if (batch.length === 0) break;
        for (const event of batch) {
          if (signal.aborted) return `sent ${sent}`;
          const vault = byId.get(event.vaultId);
          if (vault && MAILED_EVENTS.has(event.type)) {
            const contacts = await deps.contacts.get(vault).catch(() => []);
            const to = contacts.flatMap((c) => (c.email ? [c.email] : []));
            if (to.length > 0) {
              await deps.mailer.send({ to, ...noticeMail(event, deps.vaultUrl(vault.name)) });
              sent++;
            }
          }
          cursor = event.seq;
          await deps.cursor.set(cursor);
        }
      }
      return `sent ${sent}`;
    },
  };
}
