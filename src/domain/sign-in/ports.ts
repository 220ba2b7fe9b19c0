import type { ActiveSession, LocalUser, SessionRecord } from "./model.js";

export interface UserStore {
  /** Stores the principal and its sign-in name in one transaction; Conflict when the name is taken. */
  insert(user: LocalUser): Promise<void>;
  findByUsername(username: string): Promise<LocalUser | undefined>;
  list(): Promise<LocalUser[]>;
  /** Replaces the password hash and ends the user's sessions, together; false when no such user. */
  setPassword(principalId: string, passwordHash: string, at: Date): Promise<boolean>;
  /** Removes the user's principal with its assignments, memberships and sessions; false when none. */
  remove(principalId: string): Promise<boolean>;
}

export interface SessionStore {
  insert(session: SessionRecord): Promise<void>;
  /** The session with this id digest and its principal, whatever its age. */
  find(idDigest: string): Promise<ActiveSession | undefined>;
  /** Moves the session's last use forward. */
  touch(idDigest: string, at: Date): Promise<void>;
  remove(idDigest: string): Promise<void>;
}

export interface SignInFailureStore {
  /** The latest lock among `keys` still in force at `now`; undefined when none is locked. */
  lockedUntil(keys: readonly string[], now: Date): Promise<Date | undefined>;
  /**
   * Counts one failure against each key in one transaction, starting a key's count afresh once its
   * window has passed, and locks a key whose count reaches its limit. Returns the keys it locked.
   */
  recordFailure(
    keys: readonly { key: string; limit: number }[],
    now: Date,
    window: { failureWindowMs: number; lockoutMs: number },
  ): Promise<string[]>;
  /** Forgets a key's failures (a user who signed in). */
  clear(key: string): Promise<void>;
}

/**
 * Session ids, their digests and the values derived from them, under a key of this installation:
 * a token minted by another installation has no digest here.
 */
export interface SessionTokens {
  /** A fresh, unguessable session id naming this installation. */
  issue(): string;
  /** The keyed digest stored for a session id; undefined when the id is not this installation's. */
  digest(token: string): string | undefined;
  /** The anti-forgery token of a session, derived from its id, so nothing more is stored. */
  csrf(token: string): string;
  /** Whether `presented` is the session's anti-forgery token, compared in constant time. */
  csrfMatches(token: string, presented: string): boolean;
  /** A single-sign-on state value carrying its issue time; its nonce and PKCE verifier derive from it. */
  issueState(now: Date): string;
  /** When a state value this installation issued was issued; undefined for a forged one. */
  stateIssuedAt(state: string): Date | undefined;
  /** The OpenID Connect nonce bound to a state value. */
  nonce(state: string): string;
  /** The PKCE code verifier of a state value and its S256 challenge (RFC 7636 §4.1, §4.2). */
  pkce(state: string): { verifier: string; challenge: string };
}

/** An OpenID Connect provider, as a relying party using the authorization code flow sees it. */
export interface OpenIdProvider {
  /** Where to send the browser (OpenID Connect Core §3.1.2.1), PKCE S256 included. */
  authorizationUrl(request: { state: string; nonce: string; codeChallenge: string }): Promise<string>;
  /**
   * Redeems an authorization code at the token endpoint and returns the ID token's claims once its
   * signature (the provider's JWKS), issuer, audience, expiry and nonce are verified.
   */
  redeem(request: { code: string; codeVerifier: string; nonce: string }): Promise<Record<string, unknown>>;
}
