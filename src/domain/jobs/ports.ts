import type { CertificatePolicy } from "../certificates/model.js";
import type { VaultEvent } from "../events/model.js";
import type { RotationPolicy } from "../keys/model.js";

/** A unit of scheduled work, run by whichever node holds its lease. */
export interface Job {
  readonly name: string;
  readonly intervalMs: number;
  /** Does one round of work; returns a short summary for logs and the CLI. */
  run(signal: AbortSignal): Promise<string>;
}

/** Leases make sure one node at a time runs a job, however many share the database. */
export interface LeaseStore {
  /** Takes or renews the lease of `job` for `owner` until `until`; false while another owner holds it. */
  acquire(job: string, owner: string, now: Date, until: Date): Promise<boolean>;
  release(job: string, owner: string): Promise<void>;
}

/** Soft-deleted objects whose retention has ended, oldest first. */
export interface DuePurge {
  vaultId: string;
  collection: "secrets" | "keys" | "certificates";
  name: string;
}

/** The latest version of a live object that expires within its vault's near-expiry window. */
export interface ExpiringObject {
  vaultId: string;
  vaultName: string;
  collection: "secrets" | "keys" | "certificates";
  name: string;
  version: string;
  notBefore?: Date | undefined;
  expiresAt: Date;
  nearExpiryDays: number;
}

export interface NoticeStore {
  /** Latest versions of live objects expiring before `now` plus their vault's window. */
  findExpiring(now: Date, limit: number, after?: string): Promise<{ items: ExpiringObject[]; next?: string }>;
  /**
   * Records that notice `kind` went out for this version and stores its event, in one transaction;
   * false when it had gone out already (on this node or another).
   */
  raiseOnce(o: ExpiringObject, kind: string, event: VaultEvent): Promise<boolean>;
}

/** A certificate whose latest version's policy asks for AutoRenew. */
export interface RenewalCandidate {
  vaultId: string;
  name: string;
  version: string;
  notBefore: Date;
  expiresAt: Date;
  policy: CertificatePolicy;
}

/** Claims make renewals idempotent: one claim per certificate version being renewed. */
export interface RenewalStore {
  candidates(limit: number, after?: string): Promise<{ items: RenewalCandidate[]; next?: string }>;
  /**
   * Claims the renewal of `fromVersion`: true for a first claim, a failed one whose retry time has
   * come, or one whose claimer vanished before `staleBefore`; false while it is done or in hand.
   */
  claim(
    vaultId: string,
    name: string,
    fromVersion: string,
    now: Date,
    staleBefore: Date,
  ): Promise<{ attempts: number; requestId?: string | undefined } | undefined>;
  /** Records that the renewal waits on operation `requestId`, which its issuer completes later. */
  awaiting(vaultId: string, name: string, fromVersion: string, requestId: string): Promise<void>;
  complete(vaultId: string, name: string, fromVersion: string): Promise<void>;
  /** Records a failure and when to try again, with its event in the same transaction. */
  fail(
    vaultId: string,
    name: string,
    fromVersion: string,
    error: string,
    retryAt: Date,
    event: VaultEvent,
  ): Promise<void>;
}

/** A live key with a rotation policy, as of its latest version. */
export interface RotationCandidate {
  vaultId: string;
  name: string;
  version: string;
  createdAt: Date;
  expiresAt?: Date | undefined;
  policy: RotationPolicy;
}
