import type { Clock } from "../domain/clock.js";
import type { StoredEvent } from "../domain/events/model.js";
import type { InventoryService } from "../domain/inventory/inventory-service.js";
import type { Observation } from "../domain/inventory/observation.js";
import type { InventoryChange, InventoryFeed } from "../domain/inventory/ports.js";
import { ownerFromTags } from "../domain/inventory/terms.js";
import type { Job } from "../domain/jobs/ports.js";

/** The feed cursor's name: the last outbox sequence number applied to the inventory. */
export const OUTBOX_CURSOR = "outbox";

type Seen = Observation;

/** Key Vault names are case-insensitive, so a vault location's name is kept in lower case. */
export const vaultPrefix = (vault: string, name: string) =>
  `vault://${vault}/certificates/${name.toLowerCase()}/`;

export interface InventoryJobDeps {
  feed: InventoryFeed;
  inventory: Pick<InventoryService, "apply" | "cursor">;
  clock: Clock;
  intervalMs?: number;
  batchSize?: number;
}

/**
 * Projects what Strongroom makes into the inventory, with no scan: vault certificate versions
 * (every vault, every version), private-CA issuance, and deletions, recoveries and purges. It reads
 * the event outbox after its cursor and stores the new cursor in the same transaction as the
 * records, so each event is applied exactly once even if the process dies between batches. The
 * first run backfills everything made before the inventory existed, then starts at the outbox
 * position it read before the backfill (events during the backfill are applied again, harmlessly:
 * observing is an upsert).
 */
export function createInventoryJob({
  feed,
  inventory,
  clock,
  intervalMs = 5_000,
  batchSize = 500,
}: InventoryJobDeps): Job {
  const vaultSeen = (v: Awaited<ReturnType<InventoryFeed["vaultVersions"]>>[number], seenAt: Date): Seen => ({
    der: v.der,
    chain: v.chain,
    location: `${vaultPrefix(v.vaultName, v.name)}${v.version}`,
    source: "vault",
    seenAt,
    owner: ownerFromTags(v.tags),
  });

  async function backfill(signal: AbortSignal): Promise<number> {
    let count = 0;
    let afterSeq = 0;
    for (;;) {
      if (signal.aborted) throw signal.reason;
      const page = await feed.vaultVersions(afterSeq, batchSize);
      const live = page.filter((v) => v.der.length > 0);
      const now = clock.now();
      const seen = live.map((v) => vaultSeen(v, now));
      const gone = live
        .filter((v) => v.deleted)
        .map((v) => ({ uri: `${vaultPrefix(v.vaultName, v.name)}${v.version}`, at: now }));
      await inventory.apply(seen, { gone });
      count += seen.length;
      const last = page.at(-1);
      if (!last || page.length < batchSize) break;
      afterSeq = last.seq;
    }
    let after: string | undefined;
    do {
      if (signal.aborted) throw signal.reason;
      const page = await feed.caIssuedPage(after, batchSize);
      await inventory.apply(
        page.items.map((i) => ({
          der: i.der,
          chain: i.caCertificate ? [i.caCertificate] : [],
          location: `ca://${i.caName}/${i.serial}`,
          source: "ca" as const,
          seenAt: i.createdAt,
        })),
      );
      count += page.items.length;
      after = page.next;
    } while (after);
    return count;
  }

  async function changeOf(
    events: StoredEvent[],
  ): Promise<{ seen: Seen[]; rest: Omit<InventoryChange, "observed"> }> {
    const seen: Seen[] = [];
    const gone: NonNullable<InventoryChange["gone"]>[number][] = [];
    const revived: NonNullable<InventoryChange["revived"]>[number][] = [];
    for (const e of events) {
      if (e.type === "CertificateNewVersionCreated" || e.type === "CertificateRestored") {
        const version = await feed.vaultVersion(e.vaultId, e.objectName, e.version);
        if (version && version.der.length > 0) seen.push(vaultSeen(version, e.time));
      } else if (e.type === "CertificateDeleted" || e.type === "CertificatePurged") {
        gone.push({ uri: vaultPrefix(e.vaultName, e.objectName), prefix: true, at: e.time });
      } else if (e.type === "VaultDeleted") {
        gone.push({ uri: `vault://${e.vaultName}/`, prefix: true, at: e.time });
      } else if (e.type === "CertificateRecovered") {
        revived.push({ prefix: vaultPrefix(e.vaultName, e.objectName), at: e.time });
      } else if (e.type === "CaCertificateIssued") {
        const issued = await feed.caIssued(e.vaultId, e.version);
        if (issued)
          seen.push({
            der: issued.der,
            chain: issued.caCertificate ? [issued.caCertificate] : [],
            location: `ca://${issued.caName}/${issued.serial}`,
            source: "ca",
            seenAt: e.time,
          });
      }
    }
    return { seen, rest: { gone, revived } };
  }

  return {
    name: "inventory",
    intervalMs,
    async run(signal) {
      let cursor = await inventory.cursor(OUTBOX_CURSOR);
      let backfilled = 0;
      if (cursor === undefined) {
        const start = await feed.latestEventSeq();
        backfilled = await backfill(signal);
        await inventory.apply([], { cursor: { name: OUTBOX_CURSOR, value: start } });
        cursor = start;
      }
      let applied = 0;
      for (;;) {
        if (signal.aborted) break;
        const events = await feed.events(cursor, batchSize);
        const last = events.at(-1);
        if (!last) break;
        const { seen, rest } = await changeOf(events);
        await inventory.apply(seen, { ...rest, cursor: { name: OUTBOX_CURSOR, value: last.seq } });
        applied += events.length;
        cursor = last.seq;
        if (events.length < batchSize) break;
      }
      return backfilled > 0
        ? `backfilled ${backfilled} certificates, applied ${applied} events`
        : `applied ${applied} events`;
    },
  };
}
