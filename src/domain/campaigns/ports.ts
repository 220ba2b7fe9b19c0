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

/** How a claimed item ended. */
export type ItemOutcome =
  | { state: "done"; toVersion: string; revocation?: string | undefined; at: Date }
  | { state: "failed"; error: string; at: Date };

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
   * Claims the next pending item, or one whose claimer vanished before `staleBefore`, for this
   * node alone: the claim is a conditional update, so two nodes never hold the same item.
   */
  claim(id: string, now: Date, staleBefore: Date): Promise<CampaignItem | undefined>;
  /** Settles a claimed item. */
  settle(id: string, fingerprint: string, outcome: ItemOutcome): Promise<void>;
  /** Puts failed items back to pending; returns how many. */
  retryFailed(id: string): Promise<number>;
}
