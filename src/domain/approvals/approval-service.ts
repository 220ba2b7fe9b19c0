import type { Clock } from "../clock.js";
import { DomainError } from "../errors.js";
import { newId } from "../ids.js";
import type { CertificateRequestFacts, EntryPoint, RuleScope } from "../rules/issuance-gate.js";
import { approvalEvent } from "./approval-events.js";
import {
  type ApprovalRequest,
  type ApprovalState,
  castVote,
  effectiveState,
  expire,
  withdraw,
} from "./model.js";
import type { ApprovalChange, ApprovalScopeNames, ApprovalStore } from "./ports.js";
import { type ApprovalRequirement, strictestRequirement } from "./requirement.js";

export interface ApprovalServiceDeps {
  store: ApprovalStore;
  clock: Clock;
  /** How long a request waits for its approvers before it fails. */
  expiresAfterMs: number;
  /** Names the vault and CA of a request's scope, for its events and its approvers' role scopes. */
  names?: ApprovalScopeNames | undefined;
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
  service: Pick<ApprovalService, "prepare" | "get">;
  requirements: (entry: EntryPoint, scope: RuleScope) => Promise<readonly ApprovalRequirement[]>;
}

export interface ApprovalService {
  /**
   * Holds the request back when `requirement` matches it: returns the stored approval request, or
   * undefined when the request may go ahead at once.
   */
  hold(input: HoldInput): Promise<ApprovalRequest | undefined>;
  /**
   * The request `hold` would store, with its event, not yet stored: the entry point writes it in the
   * transaction that stores the operation it holds, so neither exists without the other.
   */
  prepare(input: HoldInput): Promise<ApprovalChange | undefined>;
  /**
   * The cancellation of a pending request whose held operation is gone, not yet stored: the entry
   * point writes it with the operation's cancellation or deletion. Undefined once it was decided.
   */
  withdrawal(id: string, why: string): Promise<ApprovalChange | undefined>;
  /**
   * The role assignment scopes whose approver may decide the request: the installation, and its vault
   * (and certificate) or its CA.
   */
  approverScopes(request: ApprovalRequest): Promise<string[]>;
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

const noNames: ApprovalScopeNames = { vault: async () => undefined, ca: async () => undefined };

/** The certificate a Key Vault entry point holds, named in its payload. */
const heldCertificate = (request: ApprovalRequest): string | undefined => {
  const payload = request.payload as { name?: unknown } | null;
  return request.entry.startsWith("keyvault-") && typeof payload?.name === "string"
    ? payload.name
    : undefined;
};

export function createApprovalService({
  store,
  clock,
  expiresAfterMs,
  names = noNames,
}: ApprovalServiceDeps): ApprovalService {
  const vaultOf = (request: ApprovalRequest) =>
    request.scope.vaultId ? names.vault(request.scope.vaultId) : Promise.resolve(undefined);

  /** The request as `next` leaves it, announced when that decided it. */
  const decided = (
    current: ApprovalRequest,
    next: ApprovalRequest,
    vault: Awaited<ReturnType<typeof vaultOf>>,
  ) => ({
    request: next,
    events: next.state !== current.state ? [approvalEvent("ApprovalDecided", next, clock.now(), vault)] : [],
  });

  async function decide(id: string, vote: Parameters<typeof castVote>[1]): Promise<ApprovalRequest> {
    const before = await store.get(id);
    if (!before) throw notFound(id);
    const vault = await vaultOf(before);
    const updated = await store.update(id, (current) => decided(current, castVote(current, vote), vault));
    if (!updated) throw notFound(id);
    return updated;
  }

  async function prepare({ entry, scope, requester, facts, requirements, payload }: HoldInput) {
    const held = strictestRequirement(requirements, entry, facts);
    if (!held) return undefined;
    const { requirement, because } = held;
    const now = clock.now();
    const request: ApprovalRequest = {
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
    };
    const vault = await vaultOf(request);
    return { request, events: [approvalEvent("ApprovalRequested", request, now, vault)] };
  }

  return {
    prepare,

    async hold(input) {
      const change = await prepare(input);
      if (!change) return undefined;
      await store.insert(change);
      return change.request;
    },

    async withdrawal(id, why) {
      const current = await store.get(id);
      if (current?.state !== "pending") return undefined;
      return decided(current, withdraw(current, clock.now(), why), await vaultOf(current));
    },

    async approverScopes(request) {
      const scopes = ["/"];
      const vault = await vaultOf(request);
      if (vault) {
        const at = `/vaults/${vault.name.toLowerCase()}`;
        scopes.push(at);
        const certificate = heldCertificate(request);
        if (certificate) scopes.push(`${at}/certificates/${certificate.toLowerCase()}`);
      }
      const ca = request.scope.caId ? await names.ca(request.scope.caId) : undefined;
      if (ca) scopes.push(`/cas/${ca.name.toLowerCase()}`);
      return scopes;
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
        const before = await store.get(id);
        const vault = before && (await vaultOf(before));
        // Another node may have expired or decided it since the read: only this node's change counts.
        let changed = false;
        const updated = await store.update(id, (current) => {
          const next = expire(current, now);
          changed = next !== current;
          return decided(current, next, vault);
        });
        if (updated && changed) expired.push(updated);
      }
      return expired;
    },
  };
}
