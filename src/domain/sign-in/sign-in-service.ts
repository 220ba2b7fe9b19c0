import { randomBytes } from "node:crypto";
import type { Principal } from "../access/model.js";
import type { SecretHasher } from "../access/ports.js";
import type { Clock } from "../clock.js";
import { DomainError } from "../errors.js";
import type { ActiveSession, LocalUser, SignedIn, SignInMethod, SignInPolicy } from "./model.js";
import type { SessionStore, SessionTokens, SignInFailureStore, UserStore } from "./ports.js";
import { normalUsername } from "./user-service.js";

export interface SignInServiceDeps {
  users: Pick<UserStore, "findByUsername">;
  sessions: SessionStore;
  failures: SignInFailureStore;
  tokens: SessionTokens;
  hasher: SecretHasher;
  clock: Clock;
  policy: SignInPolicy;
}

export type SignInService = ReturnType<typeof createSignInService>;

/**
 * A session's last use is written at most this often: a dashboard makes several calls a second,
 * and the idle timeout is minutes long, so a write per call would buy nothing.
 */
const TOUCH_EVERY_MS = 60_000;

const wrongCredentials = () =>
  new DomainError("Unauthorized", "The username or password is wrong.", { reason: "SignInFailed" });

const lockedOut = (until: Date) =>
  new DomainError(
    "Throttled",
    `Too many failed sign-ins: signing in is locked until ${until.toISOString()}.`,
    { reason: "LockedOut" },
  );

export const userKey = (username: string) => `user:${normalUsername(username)}`;
export const addressKey = (address: string) => `address:${address}`;

/** Password sign-in with lockout, and the sessions every dashboard request is checked against. */
export function createSignInService(deps: SignInServiceDeps) {
  const { users, sessions, failures, tokens, hasher, clock, policy } = deps;
  // Checked against when the name is unknown, so that a wrong name costs what a wrong password does
  // and the answer's timing does not tell which names exist.
  let decoy: Promise<string> | undefined;

  async function start(principal: Principal, username: string, method: SignInMethod): Promise<SignedIn> {
    const token = tokens.issue();
    const now = clock.now();
    await sessions.insert({
      idDigest: tokens.digest(token) as string,
      principalId: principal.id,
      method,
      createdAt: now,
      lastSeenAt: now,
    });
    return { token, csrf: tokens.csrf(token), principal, username };
  }

  return {
    /**
     * Signs a local user in with a password. Failures count against the name and the client
     * address; once either reaches its limit, sign-in from it is refused, right password or not,
     * until the lockout ends.
     */
    async signInWithPassword(username: string, password: string, address: string): Promise<SignedIn> {
      const keys = [userKey(username), addressKey(address)];
      const now = clock.now();
      const locked = await failures.lockedUntil(keys, now);
      if (locked) throw lockedOut(locked);
      const user = await users.findByUsername(normalUsername(username));
      decoy ??= hasher.hash(randomBytes(16).toString("hex"));
      const hash = user?.passwordHash ?? (await decoy);
      const matches = await hasher.verify(password, hash);
      if (!user?.passwordHash || !matches || !user.principal.enabled) {
        const newlyLocked = await failures.recordFailure(
          [
            { key: keys[0] as string, limit: policy.userFailures },
            { key: keys[1] as string, limit: policy.addressFailures },
          ],
          now,
          policy,
        );
        if (newlyLocked.length > 0) throw lockedOut(new Date(now.getTime() + policy.lockoutMs));
        throw wrongCredentials();
      }
      await failures.clear(keys[0] as string);
      return start(user.principal, user.username, "password");
    },

    /** A session for a user whom single sign-on has already proven. */
    async signInAs(user: LocalUser, method: SignInMethod): Promise<SignedIn> {
      if (!user.principal.enabled) {
        throw new DomainError("Unauthorized", `The user ${user.username} is disabled.`, {
          reason: "PrincipalDisabled",
        });
      }
      return start(user.principal, user.username, method);
    },

    /**
     * The live session a cookie names: undefined when the token is not this installation's, unknown,
     * signed out, idle for too long, past its absolute lifetime, or its principal is disabled.
     */
    async session(token: string): Promise<ActiveSession | undefined> {
      const digest = tokens.digest(token);
      if (!digest) return undefined;
      const found = await sessions.find(digest);
      if (!found) return undefined;
      const nowMs = clock.now().getTime();
      const { createdAt, lastSeenAt } = found.record;
      if (
        nowMs - lastSeenAt.getTime() >= policy.idleMs ||
        nowMs - createdAt.getTime() >= policy.absoluteMs ||
        !found.principal.enabled
      ) {
        await sessions.remove(digest);
        return undefined;
      }
      if (nowMs - lastSeenAt.getTime() >= TOUCH_EVERY_MS) await sessions.touch(digest, new Date(nowMs));
      return found;
    },

    csrf: (token: string) => tokens.csrf(token),
    csrfMatches: (token: string, presented: string) => tokens.csrfMatches(token, presented),

    async signOut(token: string): Promise<void> {
      const digest = tokens.digest(token);
      if (digest) await sessions.remove(digest);
    },
  };
}
