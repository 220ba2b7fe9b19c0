import { alertDigestMail } from "../domain/alerts/digest.js";
import type { SettingsStore } from "../domain/bootstrap/ports.js";
import type { ContactsService } from "../domain/certificates/contacts-service.js";
import type { StoredEvent } from "../domain/events/model.js";
import type { Mailer } from "../domain/events/ports.js";
import type { Job } from "../domain/jobs/ports.js";
import type { Vault } from "../domain/vaults/model.js";
import { eventCursorAt } from "./event-cursor.js";

export interface AlertDigestJobDeps {
  events: {
    after(afterSeq: number, limit: number): Promise<StoredEvent[]>;
    latestSeq(): Promise<number>;
  };
  settings: Pick<SettingsStore, "get" | "put" | "putIfAbsent">;
  vaults: () => Promise<Vault[]>;
  contacts: Pick<ContactsService, "get">;
  mailer: Mailer;
  intervalMs?: number;
}

const CURSOR_SETTING = "alert-digest-cursor";
const looksLikeMail = (s: string | undefined): s is string => s !== undefined && /^[^@\s]+@[^@\s]+$/.test(s);

/**
 * Mails each recipient one digest of the alert changes since the last round: the certificate's
 * inventory owner contact and its vault's certificate contacts. The cursor moves only after every
 * digest of the round went out, so a refused mail is sent again next round (at least once).
 */
export function createAlertDigestJob(deps: AlertDigestJobDeps): Job {
  const { settings, events } = deps;
  const cursorAt = () => eventCursorAt(settings, events, CURSOR_SETTING);
  return {
    name: "alert-digest",
    intervalMs: deps.intervalMs ?? 900_000,
    async run(signal) {
      const start = await cursorAt();
      const byRecipient = new Map<string, StoredEvent[]>();
      const vaults = new Map((await deps.vaults()).map((v) => [v.name.toLowerCase(), v]));
      const vaultContacts = new Map<string, string[]>();
      let cursor = start;
      for (;;) {
        const batch = await events.after(cursor, 500);
        const last = batch.at(-1);
        if (!last) break;
        for (const e of batch) {
          if (!e.alert) continue;
          const to = new Set<string>();
          if (looksLikeMail(e.alert.ownerContact)) to.add(e.alert.ownerContact);
          const vault = e.alert.vaultName ? vaults.get(e.alert.vaultName.toLowerCase()) : undefined;
          if (vault) {
            if (!vaultContacts.has(vault.name)) {
              const contacts = await deps.contacts.get(vault).catch(() => []);
              vaultContacts.set(
                vault.name,
                contacts.flatMap((c) => (c.email ? [c.email] : [])),
              );
            }
            for (const m of vaultContacts.get(vault.name) ?? []) to.add(m);
          }
          for (const r of to) byRecipient.set(r, [...(byRecipient.get(r) ?? []), e]);
        }
        cursor = last.seq;
      }
      let sent = 0;
      for (const [to, list] of byRecipient) {
        if (signal.aborted) return `sent ${sent} digests, stopped`;
        await deps.mailer.send({ to: [to], ...alertDigestMail(list) });
        sent++;
      }
      if (cursor !== start) await settings.put(CURSOR_SETTING, String(cursor));
      return `sent ${sent} digests`;
    },
  };
}
