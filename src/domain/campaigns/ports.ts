import type { IssuedCertificate } from "../ca/model.js";
import type { StatusChange } from "../ca/ports.js";
import type { IssuedVersion } from "../certificates/ports.js";
import type { VaultEvent } from "../events/model.js";
import type { Campaign, CampaignItem, CampaignState } from "./model.js";

/** Counts of a campaign's items by state, and when the first and last were done. */
export interface ItemCounts {
  pending: number;
  claimed: number;
  done: number;
  failed: number;
  task: number;
  firstDoneAt?: Date | undefined;
  lastDoneAt?: Date | undefined;
}

/** What an item's new version stores with its outcome, all in the batch's one transaction. */
export interface ItemWrites {
  version: IssuedVersion;
  /** The CA's record of the new certificate. */
  record: { issued: IssuedCertificate; events: VaultEvent[] };
  /** The old certificate's revocation, when the campaign revokes and it was not revoked yet. */
  revocation?: StatusChange | undefined;
}

/** How a claimed item ended. */
export type ItemOutcome =
  | {
      state: "done";
      /** Absent for `revoke-old`, which makes no version. */
      toVersion?: string | undefined;
      revocation?: string | undefined;
      at: Date;
      /** Absent when the version was made outside the batch (an issuer that answers later). */
      writes?: ItemWrites | undefined;
    }
  | { state: "failed"; error: string; at: Date };

export interface SettledItem {
  item: CampaignItem;
  outcome: ItemOutcome;
}

/** Items one attempt holds: only a commit with its token settles them. */
export interface Claim {
  token: string;
  items: CampaignItem[];
}

export interface CampaignStore {
  /** Stores the campaign and its items in one transaction. */
  create(campaign: Campaign, items: readonly CampaignItem[]): Promise<void>;
  find(id: string): Promise<Campaign | undefined>;
  findByName(name: string): Promise<Campaign | undefined>;
  list(): Promise<Campaign[]>;
  /** Moves the campaign from one of `from` to `to`; false when it was in none of them. */
  transition(id: string, from: readonly CampaignState[], to: CampaignState, at: Date): Promise<boolean>;
  items(id: string, limit: number, after?: string): Promise<{ items: CampaignItem[]; next?: string }>;
  counts(id: string): Promise<ItemCounts>;
  /**
   * Claims up to `limit` items, pending ones or those whose claim was taken before `staleBefore` (on
   * the database's clock) by an attempt that died, under a new token, in one statement: two nodes
   * never hold the same item (PostgreSQL skips rows another node is claiming).
   */
  claim(id: string, limit: number, now: Date, staleBefore: Date): Promise<Claim>;
  /**
   * Settles claimed items and stores what each one's writes hold, in one transaction with one audit
   * row per item. Conflict (reason ClaimLost) and nothing stored when the token no longer holds
   * every one of them: their claim went stale and another attempt has them.
   */
  commit(id: string, token: string, settled: readonly SettledItem[]): Promise<void>;
  /** Puts failed items back to pending; returns how many. */
  retryFailed(id: string): Promise<number>;
}
