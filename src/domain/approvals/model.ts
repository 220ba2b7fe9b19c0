import { DomainError } from "../errors.js";
import type { EntryPoint, RuleScope } from "../rules/issuance-gate.js";

/**
 * A request held back until enough approvers agree: a certificate create, a CA sign, an ACME finalize.
 * The entry point keeps what it needs to finish the request in `payload` and completes it once the
 * request is approved.
 */
export const APPROVAL_STATES = ["pending", "approved", "denied", "expired", "cancelled"] as const;
export type ApprovalState = (typeof APPROVAL_STATES)[number];

export interface ApprovalVote {
  principalId: string;
  decision: "approve" | "deny";
  reason?: string | undefined;
  at: Date;
}

export interface ApprovalRequest {
  id: string;
  entry: EntryPoint;
  scope: RuleScope;
  /** The principal who asked; never one of its approvers. */
  requester: string;
  /** What a person deciding reads: the subject and names asked for. */
  summary: string;
  /** Why approval is needed: the conditions that matched. */
  because: string[];
  /** How many distinct approvers must agree. */
  required: number;
  state: ApprovalState;
  votes: ApprovalVote[];
  /** The entry point's own data to finish the request with (JSON-serialisable). */
  payload: unknown;
  /** The denier's reason, or why the request expired or was cancelled. */
  outcome?: string | undefined;
  /**
   * The certificate a released CA sign produced, recorded with it in one transaction so a request
   * is signed once however many pollers and nodes see it approved.
   */
  issued?: { caId: string; serial: string } | undefined;
  createdAt: Date;
  expiresAt: Date;
  decidedAt?: Date | undefined;
}

/** The state a request is in at `now`: a pending request past its expiry has expired. */
export function effectiveState(request: ApprovalRequest, now: Date): ApprovalState {
  return request.state === "pending" && now.getTime() >= request.expiresAt.getTime()
    ? "expired"
    : request.state;
}

/**
 * Records one approver's decision and returns the request as it becomes. One denial decides; approvals
 * decide once `required` distinct approvers have agreed. Throws when the voter asked for the request
 * itself, has already voted, or the request is no longer pending.
 */
export function castVote(request: ApprovalRequest, vote: ApprovalVote): ApprovalRequest {
  const state = effectiveState(request, vote.at);
  if (state !== "pending")
    throw new DomainError(
      "Conflict",
      `Approval request ${request.id} is ${state}: it takes no more decisions`,
      {
        reason: "ApprovalDecided",
      },
    );
  if (vote.principalId === request.requester)
    throw new DomainError("Forbidden", "A requester cannot approve or deny their own request", {
      reason: "SelfApproval",
    });
  if (request.votes.some((v) => v.principalId === vote.principalId))
    throw new DomainError(
      "Conflict",
      `${vote.principalId} has already decided on approval request ${request.id}`,
      {
        reason: "AlreadyVoted",
      },
    );
  if (vote.decision === "deny" && !vote.reason?.trim())
    throw new DomainError("BadParameter", "A denial needs a reason: the requester reads it in the failure");
  const votes = [...request.votes, vote];
  if (vote.decision === "deny")
    return { ...request, votes, state: "denied", outcome: vote.reason, decidedAt: vote.at };
  const approvals = votes.filter((v) => v.decision === "approve").length;
  return approvals >= request.required
    ? { ...request, votes, state: "approved", decidedAt: vote.at }
    : { ...request, votes };
}

/** A pending request past its expiry, marked expired; any other request unchanged. */
export function expire(request: ApprovalRequest, now: Date): ApprovalRequest {
  if (effectiveState(request, now) !== "expired" || request.state === "expired") return request;
  return {
    ...request,
    state: "expired",
    outcome: `Approval request expired at ${request.expiresAt.toISOString()} without enough approvals`,
    decidedAt: now,
  };
}

/**
 * A pending request withdrawn because the operation it holds is gone (cancelled, deleted); any other
 * request unchanged, since what was decided stays decided.
 */
export function withdraw(request: ApprovalRequest, at: Date, why: string): ApprovalRequest {
  if (request.state !== "pending") return request;
  return { ...request, state: "cancelled", outcome: why, decidedAt: at };
}

/**
 * Why a held request will not go ahead, in the words its requester reads, with the code its
 * surface reports: the denier and their reason, the expiry, or the cancellation.
 */
export function refusalOf(request: ApprovalRequest): { code: string; message: string } {
  if (request.state === "denied") {
    const denier = request.votes.find((v) => v.decision === "deny");
    return {
      code: "ApprovalDenied",
      message: `Approval request ${request.id} was denied by ${denier?.principalId ?? "an approver"}: ${request.outcome ?? denier?.reason ?? ""}`,
    };
  }
  if (request.state === "cancelled")
    return {
      code: "ApprovalCancelled",
      message: `Approval request ${request.id} was cancelled: ${request.outcome ?? ""}`,
    };
  return {
    code: "ApprovalExpired",
    message: `Approval request ${request.id} expired at ${request.expiresAt.toISOString()} without enough approvals`,
  };
}

/** The request as approvers see it (API, CLI, events); the entry point's payload stays inside. */
export const approvalData = (a: ApprovalRequest) => ({
  id: a.id,
  entry: a.entry,
  scope: a.scope,
  requester: a.requester,
  summary: a.summary,
  because: a.because,
  required: a.required,
  state: a.state,
  votes: a.votes.map((v) => ({ ...v, at: v.at.toISOString() })),
  outcome: a.outcome,
  createdAt: a.createdAt.toISOString(),
  expiresAt: a.expiresAt.toISOString(),
  decidedAt: a.decidedAt?.toISOString(),
  issued: a.issued,
});

export type ApprovalEventData = ReturnType<typeof approvalData>;
