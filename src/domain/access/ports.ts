import type { AccessTokenClaims, ClientSecretRecord, Principal } from "./model.js";

export interface PrincipalStore {
  /** Stores a principal with its first client secret, in one transaction. */
  insert(principal: Principal, secret: ClientSecretRecord): Promise<void>;
  findByClientId(
    clientId: string,
  ): Promise<{ principal: Principal; secrets: ClientSecretRecord[] } | undefined>;
  list(): Promise<Principal[]>;
}

/** Slow, salted one-way hashing of client secrets. */
export interface SecretHasher {
  hash(secret: string): Promise<string>;
  verify(secret: string, hash: string): Promise<boolean>;
}

/** Signs and verifies this installation's access tokens. */
export interface TokenSigner {
  sign(claims: AccessTokenClaims): Promise<string>;
  /** The claims of a token this installation signed and that is valid now; undefined otherwise. */
  verify(
    token: string,
    expected: { issuer: string; audiences: readonly string[]; now: Date },
  ): Promise<AccessTokenClaims | undefined>;
}
