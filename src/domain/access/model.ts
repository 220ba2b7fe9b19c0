/** Groups hold no credentials; their role assignments and access policies apply to their members. */
export type PrincipalKind = "servicePrincipal" | "user" | "group";

export interface Principal {
  /** Object id (`oid` in tokens). */
  id: string;
  /** Application id (`appid` / `client_id`). */
  clientId: string;
  displayName: string;
  kind: PrincipalKind;
  enabled: boolean;
  createdAt: Date;
}

/** A client secret as stored: only a salted hash and a short hint to recognise it by. */
export interface ClientSecretRecord {
  id: string;
  principalId: string;
  hash: string;
  hint: string;
  expiresAt?: Date | undefined;
  createdAt: Date;
}

/** A certificate registered on a principal for the client-assertion flow; only its public part is kept. */
export interface ClientCertificateRecord {
  id: string;
  principalId: string;
  /** Hex SHA-1 and SHA-256 of the DER: the `x5t` and `x5t#S256` an assertion names it by. */
  thumbprintSha1: string;
  thumbprintSha256: string;
  der: Buffer;
  /** The certificate's notAfter, or an earlier expiry chosen when it was added. */
  expiresAt: Date;
  createdAt: Date;
}

/**
 * Trust in an external OpenID Connect issuer (workload identity): a token from `issuer` with this
 * `subject` and one of `audiences` may be exchanged for one of ours.
 */
export interface FederatedCredential {
  id: string;
  principalId: string;
  name: string;
  issuer: string;
  subject: string;
  audiences: string[];
  /** A static JWK Set; without one, the keys are fetched from the issuer's discovery document. */
  jwks?: { keys: unknown[] } | undefined;
  createdAt: Date;
}

/** An Azure-style role: what it grants (with `*` wildcards) minus what it excludes. */
export interface RoleDefinition {
  id: string;
  name: string;
  description: string;
  builtIn: boolean;
  actions: string[];
  notActions: string[];
  dataActions: string[];
  notDataActions: string[];
  /** When a custom role was defined; built-in roles have none. */
  createdAt?: Date | undefined;
}

/** A role granted to a principal (or group) at `/`, `/vaults/{v}` or `/vaults/{v}/{collection}/{name}`. */
export interface RoleAssignment {
  id: string;
  principalId: string;
  roleId: string;
  scope: string;
  createdAt: Date;
}

/** Per-principal permission lists of a vault in access-policy mode. */
export interface AccessPolicy {
  vaultId: string;
  principalId: string;
  keys: string[];
  secrets: string[];
  certificates: string[];
}

/** How a vault decides: RBAC or access policies, and from which client addresses. */
export interface VaultAccessSettings {
  enableRbacAuthorization: boolean;
  /** CIDR ranges or addresses allowed to reach the vault; empty allows every address. */
  ipRules: string[];
}

export const DEFAULT_VAULT_ACCESS: VaultAccessSettings = Object.freeze({
  enableRbacAuthorization: true,
  ipRules: [],
});

/** Who is calling, as proven by a verified access token. */
export interface Caller {
  principalId: string;
  clientId: string;
  tenantId: string;
}

export interface AccessTokenClaims {
  iss: string;
  aud: string;
  sub: string;
  oid: string;
  appid: string;
  tid: string;
  iat: number;
  nbf: number;
  exp: number;
}

export interface IssuedToken {
  accessToken: string;
  expiresInSeconds: number;
}
