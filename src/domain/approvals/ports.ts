import type { VaultEvent } from "../events/model.js";
import type { ApprovalRequest, ApprovalState } from "./model.js";

/**
 * An approval request as a change leaves it, with the events that announce it: written in the
 * transaction of the change that caused it, by this store or by the store of the held operation.
 */
export interface ApprovalChange {
  request: ApprovalRequest;
  events: VaultEvent[];
}

/** Where approval requests are kept. */
export interface ApprovalStore {
  /** Stores a new request with its events, in one transaction. */
  insert(change: ApprovalChange): Promise<void>;
  get(id: string): Promise<ApprovalRequest | undefined>;
  /** Newest first; only those in `state` when given. */
  list(options: { state?: ApprovalState | undefined; limit: number }): Promise<ApprovalRequest[]>;
  /**
   * Reads the request and writes what `change` makes of it, with its events, in one transaction, the
   * row locked against another node deciding at the same time. Undefined when there is no such request.
   */
  update(
    id: string,
    change: (current: ApprovalRequest) => ApprovalChange,
  ): Promise<ApprovalRequest | undefined>;
  /** Ids of pending requests whose expiry is at or before `now`, oldest first. */
  pendingExpired(now: Date, limit: number): Promise<string[]>;
}

/** The names role assignments use for the vaults and CAs approval requests are scoped to. */
export interface ApprovalScopeNames {
  vault(id: string): Promise<{ id: string; name: string } | undefined>;
  ca(id: string): Promise<{ id: string; name: string } | undefined>;
}
