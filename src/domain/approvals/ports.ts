import type { ApprovalRequest, ApprovalState } from "./model.js";

/** Where approval requests are kept. */
export interface ApprovalStore {
  insert(request: ApprovalRequest): Promise<void>;
  get(id: string): Promise<ApprovalRequest | undefined>;
  /** Newest first; only those in `state` when given. */
  list(options: { state?: ApprovalState | undefined; limit: number }): Promise<ApprovalRequest[]>;
  /**
   * Reads the request and writes what `change` makes of it in one transaction, the row locked against
   * another node deciding at the same time. Undefined when there is no such request.
   */
  update(
    id: string,
    change: (current: ApprovalRequest) => ApprovalRequest,
  ): Promise<ApprovalRequest | undefined>;
  /** Ids of pending requests whose expiry is at or before `now`, oldest first. */
  pendingExpired(now: Date, limit: number): Promise<string[]>;
}
