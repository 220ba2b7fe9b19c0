import type { Principal } from "../access/model.js";
import type { SecretHasher } from "../access/ports.js";
import type { Clock } from "../clock.js";
import { badParameter, DomainError } from "../errors.js";
import { newId } from "../ids.js";
import type { LocalUser } from "./model.js";
import type { UserStore } from "./ports.js";

export interface UserServiceDeps {
  users: UserStore;
  hasher: SecretHasher;
  clock: Clock;
  /** Called after a removal, so cached rights of the removed principal go at once. */
  onChange: () => Promise<void>;
}

export type UserService = ReturnType<typeof createUserService>;

/** Long enough that the lockout, not the guesser's patience, is what stops an online attack. */
export const MIN_PASSWORD_LENGTH = 12;
const MAX_PASSWORD_LENGTH = 1024;
const USERNAME = /^[a-z0-9][a-z0-9._@-]{0,63}$/;

/** Sign-in names compare without case: "Alice" and "alice" are one user. */
export const normalUsername = (username: string): string => username.trim().toLowerCase();

function validUsername(username: string): string {
  const name = normalUsername(username);
  if (!USERNAME.test(name)) {
    throw badParameter(
      `"${username}" is not a user name: use 1 to 64 letters, digits, '.', '_', '@' or '-', starting with a letter or digit`,
    );
  }
  return name;
}

function validPassword(password: string): string {
  // Scrypt stretches whatever it is given; a megabyte of "password" would only cost the server.
  if ([...password].length < MIN_PASSWORD_LENGTH || password.length > MAX_PASSWORD_LENGTH) {
    throw badParameter(
      `The password must be ${MIN_PASSWORD_LENGTH} to ${MAX_PASSWORD_LENGTH} characters long`,
    );
  }
  return password;
}

const noSuchUser = (username: string) =>
  new DomainError("NotFound", `No user is named ${username}`, { reason: "UserNotFound" });

/** Local users of the dashboard: principals of kind user that sign in with a name and a password. */
export function createUserService({ users, hasher, clock, onChange }: UserServiceDeps) {
  async function find(username: string): Promise<LocalUser> {
    const user = await users.findByUsername(normalUsername(username));
    if (!user) throw noSuchUser(username);
    return user;
  }

  async function insert(username: string, passwordHash: string | undefined): Promise<LocalUser> {
    const now = clock.now();
    const principal: Principal = {
      id: newId(),
      clientId: newId(),
      displayName: username,
      kind: "user",
      enabled: true,
      createdAt: now,
    };
    const user: LocalUser = {
      principal,
      username,
      passwordHash,
      passwordChangedAt: passwordHash === undefined ? undefined : now,
      createdAt: now,
    };
    await users.insert(user);
    return user;
  }

  return {
    find,
    list: () => users.list(),

    /**
     * Creates a user, a principal like any other for role assignments. Without a password the user
     * can sign in only through single sign-on.
     */
    async create(username: string, password?: string): Promise<LocalUser> {
      const name = validUsername(username);
      const hash = password === undefined ? undefined : await hasher.hash(validPassword(password));
      return insert(name, hash);
    },

    /** Replaces a user's password; every session the user had ends with the old one. */
    async setPassword(username: string, password: string): Promise<LocalUser> {
      const user = await find(username);
      const hash = await hasher.hash(validPassword(password));
      const at = clock.now();
      if (!(await users.setPassword(user.principal.id, hash, at))) throw noSuchUser(username);
      return { ...user, passwordHash: hash, passwordChangedAt: at };
    },

    async remove(username: string): Promise<void> {
      const user = await find(username);
      if (!(await users.remove(user.principal.id))) throw noSuchUser(username);
      await onChange();
    },

    /**
     * The user a single-sign-on identity names: an existing user of that name, or, when the
     * installation provisions users, a new one without a password. Refused otherwise, so an
     * identity provider cannot mint principals here unless it is told it may.
     */
    async forSignOn(username: string, provision: boolean): Promise<LocalUser> {
      const name = validUsername(username);
      const existing = await users.findByUsername(name);
      if (existing) return existing;
      if (!provision) {
        throw new DomainError(
          "Forbidden",
          `The identity provider signed in "${name}", who is not a user here; an administrator must create the user first`,
          { reason: "UserNotProvisioned" },
        );
      }
      try {
        return await insert(name, undefined);
      } catch (error) {
        // Two first sign-ins of one person on two nodes: the other made the user.
        const made = await users.findByUsername(name);
        if (made) return made;
        throw error;
      }
    },
  };
}
