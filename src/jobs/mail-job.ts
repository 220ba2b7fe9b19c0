import { approvalMail } from "../domain/approvals/approval-mail.js";
import type { SettingsStore } from "../domain/bootstrap/ports.js";
import type { ContactsService } from "../domain/certificates/contacts-service.js";
import type { StoredEvent } from "../domain/events/model.js";
import { MAILED_EVENTS, noticeMail } from "../domain/events/notices.js";
import type { Mailer } from "../domain/events/ports.js";
import type { Job } from "../domain/jobs/ports.js";
import type { Vault } from "../domain/vaults/model.js";
import { eventCursorAt } from "./event-cursor.js";

export interface MailJobDeps {
  events: {
    /** Events after `afterSeq`, oldest first. */
    after(afterSeq: number, limit: number): Promise<StoredEvent[]>;
    /** The newest event's sequence number, 0 when there is none. */
    latestSeq(): Promise<number>;
  };
  /** Where the cursor is kept, shared by every node. */
  settings: Pick<SettingsStore, "get" | "put" | "putIfAbsent">;
  vaults: () => Promise<Vault[]>;
  contacts: Pick<ContactsService, "get">;
  mailer: Mailer;
  vaultUrl: (name: string) => string;
  /** Who hears of every approval request held and decided, besides its vault's certificate contacts. */
  approvalMailTo?: readonly string[];
  intervalMs?: number;
}

const CURSOR_SETTING = "mail-cursor";

/**
 * Mails the vault's certificate contacts about near-expiry, expiry and failed renewals, and the
 * approvers' addresses (with a vault's contacts) about approval requests held and decided, in outbox
 * order and at least once: the cursor moves only past events that were mailed (or need no mail).
 */
export function createMailJob(deps: MailJobDeps): Job {
  const { settings, events } = deps;
  const cursorAt = () => eventCursorAt(settings, events, CURSOR_SETTING);
  return {
    name: "mail",
    intervalMs: deps.intervalMs ?? 60_000,
    async run(signal) {
      const byId = new Map((await deps.vaults()).map((v) => [v.id, v]));
      let cursor = await cursorAt();
      let sent = 0;
      for (;;) {
        const batch = await events.after(cursor, 200);
        if (batch.length === 0) break;
        for (const event of batch) {
          if (signal.aborted) return `sent ${sent}`;
          const vault = byId.get(event.vaultId);
          const contacts = async () =>
            vault
              ? (await deps.contacts.get(vault).catch(() => [])).flatMap((c) => (c.email ? [c.email] : []))
              : [];
          const approval = approvalMail(event);
          if (approval) {
            const to = [...new Set([...(deps.approvalMailTo ?? []), ...(await contacts())])];
            if (to.length > 0) {
              await deps.mailer.send({ to, ...approval });
              sent++;
            }
          } else if (vault && MAILED_EVENTS.has(event.type)) {
            const to = await contacts();
            if (to.length > 0) {
              await deps.mailer.send({ to, ...noticeMail(event, deps.vaultUrl(vault.name)) });
              sent++;
            }
          }
          cursor = event.seq;
          await settings.put(CURSOR_SETTING, String(cursor));
        }
      }
      return `sent ${sent}`;
    },
  };
}
