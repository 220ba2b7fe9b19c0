import type { Clock } from "../clock.js";
import { DomainError } from "../errors.js";
import { newId } from "../ids.js";
import type { CertificateRequestFacts, EntryPoint, RuleScope } from "../rules/issuance-gate.js";
import { type ApprovalRequest, type ApprovalState, castVote, effectiveState, expire } from "./model.js";
import type { ApprovalStore } from "./ports.js";
import { type ApprovalRequirement, strictestRequirement } from "./requirement.js";

export interface ApprovalServiceDeps {
  store: ApprovalStore;
  clock: Clock;
  /** How long a request waits for its approvers before it fails. */
  expiresAfterMs: number;
}

export interface HoldInput {
  entry: EntryPoint;
  scope: RuleScope;
  requester: string;
  facts: CertificateRequestFacts;
  /** The requirements the rules apply here; the strictest one the request meets decides. */
  requirements: readonly ApprovalRequirement[];
  payload: unknown;
}

/** What an entry point needs to hold requests: the service, and the requirements the rules apply. */
export interface ApprovalGate {
  service: Pick<ApprovalService, "propose" | "get">;
  requirements: (entry: EntryPoint, scope: RuleScope) => Promise<readonly ApprovalRequirement[]>;
}

export interface ApprovalService {
  /**
   * Holds the request back when `requirement` matches it: returns the stored approval request, or
   * undefined when the request may go ahead at once.
   */
  hold(input: HoldInput): Promise<ApprovalRequest | undefined>;
  /**
   * The approval request `hold` would store, not stored: for an entry point whose store writes it
   * in the same transaction as the request it holds.
   */
  propose(input: HoldInput): ApprovalRequest | undefined;
  get(id: string): Promise<ApprovalRequest>;
  list(options?: {
    state?: ApprovalState | undefined;
    limit?: number | undefined;
  }): Promise<ApprovalRequest[]>;
  approve(id: string, principalId: string, reason?: string): Promise<ApprovalRequest>;
  deny(id: string, principalId: string, reason: string): Promise<ApprovalRequest>;
  /** Marks pending requests past their expiry expired; returns them. */
  expireDue(limit?: number): Promise<ApprovalRequest[]>;
}

const notFound = (id: string) =>
  new DomainError("NotFound", `Approval request ${id} not found`, { reason: "ApprovalNotFound" });

const summaryOf = (facts: CertificateRequestFacts): string => {
  const names = facts.sans.map((s) => s.value);
  return names.length > 0 ? `${facts.subject} (${names.join(", ")})` : facts.subject;
};

export function createApprovalService({
  store,
  clock,
  expiresAfterMs,
}: ApprovalServiceDeps): ApprovalService {
  async function decide(id: string, vote: Parameters<typeof castVote>[1]): Promise<ApprovalRequest> {
    const updated = await store.update(id, (current) => castVote(current, vote));
    if (!updated) throw notFound(id);
    return updated;
  }

  function propose({ entry, scope, requester, facts, requirements, payload }: HoldInput) {
    const held = strictestRequirement(requirements, entry, facts);
    if (!held) return undefined;
    const { requirement, because } = held;
    const now = clock.now();
    return {
      id: newId(),
      entry,
      scope,
      requester,
      summary: summaryOf(facts),
      because,
      required: requirement.approvals,
      state: "pending",
      votes: [],
      payload,
      createdAt: now,
      expiresAt: new Date(now.getTime() + expiresAfterMs),
    } satisfies ApprovalRequest;
  }

  return {
    propose,

    async hold(input) {
      const request = propose(input);
      if (request) await store.insert(request);
      return request;
    },

    async get(id) {
      const request = await store.get(id);
      if (!request) throw notFound(id);
      return { ...request, state: effectiveState(request, clock.now()) };
    },

    async list(options = {}) {
      const now = clock.now();
      const items = await store.list({ state: options.state, limit: options.limit ?? 100 });
      return items.map((r) => ({ ...r, state: effectiveState(r, now) }));
    },

    approve(id, principalId, reason) {
      return decide(id, { principalId, decision: "approve", reason, at: clock.now() });
    },

    deny(id, principalId, reason) {
      return decide(id, { principalId, decision: "deny", reason, at: clock.now() });
    },

    async expireDue(limit = 100) {
      const now = clock.now();
      const expired: ApprovalRequest[] = [];
      for (const id of await store.pendingExpired(now, limit)) {
        // Another node may have expired or decided it since the read: only this node's change counts.
        let changed = false;
        const updated = await store.update(id, (current) => {
          const next = expire(current, now);
          changed = next !== current;
          return next;
        });
        if (updated && changed) expired.push(updated);
      }
      return expired;
    },
  };
}
