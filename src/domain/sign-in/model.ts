import type { Principal } from "../access/model.js";

/** A person who signs in to the dashboard: a principal of kind user with a unique sign-in name. */
export interface LocalUser {
  principal: Principal;
  /** Lower-cased; what the sign-in form's Username field takes. */
  username: string;
  /** Absent for a user who signs in only through single sign-on. */
  passwordHash?: string | undefined;
  passwordChangedAt?: Date | undefined;
  createdAt: Date;
}

export type SignInMethod = "password" | "oidc";

/** A dashboard session as stored: the digest of its id, never the id. */
export interface SessionRecord {
  idDigest: string;
  principalId: string;
  method: SignInMethod;
  createdAt: Date;
  lastSeenAt: Date;
}

/** A session found by its cookie, with the principal it acts for. */
export interface ActiveSession {
  record: SessionRecord;
  principal: Principal;
  /** The user's sign-in name; absent when the principal has no local user row any more. */
  username: string | undefined;
}

/** What a successful sign-in hands the browser: the cookie's value and the token its writes carry. */
export interface SignedIn {
  token: string;
  csrf: string;
  principal: Principal;
  username: string;
}

/** How long sessions live and how many failed sign-ins lock a name or an address. */
export interface SignInPolicy {
  /** A session unused for this long is over. */
  idleMs: number;
  /** A session is over this long after sign-in, however busy. */
  absoluteMs: number;
  /** Failed sign-ins for one user name, within `failureWindowMs`, that lock it. */
  userFailures: number;
  /** Failed sign-ins from one client address, within `failureWindowMs`, that lock it. */
  addressFailures: number;
  failureWindowMs: number;
  lockoutMs: number;
}

export const DEFAULT_SIGN_IN_POLICY: SignInPolicy = Object.freeze({
  idleMs: 30 * 60_000,
  absoluteMs: 12 * 3_600_000,
  userFailures: 5,
  addressFailures: 20,
  failureWindowMs: 15 * 60_000,
  lockoutMs: 15 * 60_000,
});
