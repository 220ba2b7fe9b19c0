import type { InventoryRecord } from "../inventory/model.js";
import type { CampaignItem } from "./model.js";

const VAULT_LOCATION = /^vault:\/\/([^/]+)\/certificates\/([^/]+)\/([^/?#]+)$/;

/**
 * What a campaign does to one inventory record. A certificate live in a vault of this installation
 * gets a new version there; anything else (seen on a server, in a file, in another vault, or signed
 * by the private CA for a key Strongroom never held) is a task listing where it is in use.
 */
export function planItem(campaignId: string, record: InventoryRecord): CampaignItem {
  const live = record.locations.filter((l) => !l.goneAt);
  const base = {
    campaignId,
    fingerprint: record.fingerprintSha256,
    subject: record.subject,
    state: "pending" as const,
    attempts: 0,
  };
  for (const location of live) {
    const match = VAULT_LOCATION.exec(location.uri);
    if (match) {
      const [, vaultName, certificateName, fromVersion] = match as unknown as [
        string,
        string,
        string,
        string,
      ];
      return {
        ...base,
        action: "new-version",
        vaultName,
        certificateName,
        fromVersion,
        locations: [location.uri],
      };
    }
  }
  return { ...base, action: "task", state: "task", locations: live.map((l) => l.uri) };
}

/**
 * One new version per vault certificate. When the selection holds several versions of one (two
 * signed by a compromised CA, say), the newest gets the new version and the others are `revoke-old`:
 * giving each its own would make the certificate a new version per old one.
 */
export function oneNewVersionEach(
  planned: readonly { item: CampaignItem; notBefore: Date }[],
): CampaignItem[] {
  const newest = new Map<string, { item: CampaignItem; notBefore: Date }>();
  const key = (item: CampaignItem) => `${item.vaultName?.toLowerCase()}/${item.certificateName}`;
  for (const p of planned) {
    if (p.item.action !== "new-version") continue;
    const seen = newest.get(key(p.item));
    if (!seen || p.notBefore > seen.notBefore) newest.set(key(p.item), p);
  }
  return planned.map(({ item }) =>
    item.action === "new-version" && newest.get(key(item))?.item !== item
      ? { ...item, action: "revoke-old" }
      : item,
  );
}
