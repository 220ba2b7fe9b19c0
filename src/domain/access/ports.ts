import type {
  AccessPolicy,
  AccessTokenClaims,
  ClientCertificateRecord,
  ClientSecretRecord,
  FederatedCredential,
  Principal,
  RoleAssignment,
  RoleDefinition,
  VaultAccessSettings,
} from "./model.js";

/** A principal with every credential it may sign in with. */
export interface PrincipalCredentials {
  principal: Principal;
  secrets: ClientSecretRecord[];
  certificates: ClientCertificateRecord[];
  federated: FederatedCredential[];
}

export interface PrincipalStore {
  /** Stores a principal with its first client secret (none for groups), in one transaction. */
  insert(principal: Principal, secret?: ClientSecretRecord): Promise<void>;
  findByClientId(clientId: string): Promise<PrincipalCredentials | undefined>;
  findById(id: string): Promise<PrincipalCredentials | undefined>;
  list(): Promise<Principal[]>;
  /** Replaces the display name and enabled flag. */
  update(principal: Principal): Promise<void>;
  /** Removes the principal with its credentials, memberships, assignments and policies. */
  remove(id: string): Promise<void>;
  addSecret(secret: ClientSecretRecord): Promise<void>;
  /** False when no such secret belongs to the principal. */
  removeSecret(principalId: string, secretId: string): Promise<boolean>;
  addCertificate(certificate: ClientCertificateRecord): Promise<void>;
  removeCertificate(principalId: string, certificateId: string): Promise<boolean>;
  /** Throws Conflict when the principal already has a federated credential of that name. */
  addFederated(credential: FederatedCredential): Promise<void>;
  removeFederated(principalId: string, credentialId: string): Promise<boolean>;
}

/** Everything that decides what one principal may do, read together. */
export interface GrantSources {
  principal: Principal;
  /** Groups the principal is a direct member of. */
  groups: Principal[];
  /** Assignments to the principal and to its groups. */
  assignments: RoleAssignment[];
  /** Access policies naming the principal or its groups. */
  policies: AccessPolicy[];
}

export interface AccessStore {
  grantSources(principalId: string): Promise<GrantSources | undefined>;
  customRoles(): Promise<RoleDefinition[]>;
  /** Throws Conflict when the name is taken. */
  insertRole(role: RoleDefinition): Promise<void>;
  /** Refuses (Conflict) while assignments use the role. */
  removeRole(id: string): Promise<boolean>;
  /** Throws Conflict when the same role is already assigned to the principal at that scope. */
  insertAssignment(assignment: RoleAssignment): Promise<void>;
  removeAssignment(id: string): Promise<boolean>;
  listAssignments(filter: { principalId?: string | undefined }): Promise<RoleAssignment[]>;
  addMember(groupId: string, memberId: string): Promise<void>;
  removeMember(groupId: string, memberId: string): Promise<boolean>;
  members(groupId: string): Promise<string[]>;
  putPolicy(policy: AccessPolicy): Promise<void>;
  removePolicy(vaultId: string, principalId: string): Promise<boolean>;
  policies(vaultId: string): Promise<AccessPolicy[]>;
  vaultAccess(vaultId: string): Promise<VaultAccessSettings | undefined>;
  putVaultAccess(vaultId: string, settings: VaultAccessSettings): Promise<void>;
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

/** The unverified header and claims of a JWT, to find which credential should verify it. */
export interface AssertionPeek {
  header: { alg?: string; kid?: string; x5t?: string; "x5t#S256"?: string };
  claims: { iss?: string; sub?: string; aud?: string | string[]; exp?: number; jti?: string };
}

/** Verifies client assertions: JWTs signed by a registered certificate or by an external issuer. */
export interface AssertionVerifier {
  /** Header and claims without verifying anything; undefined when it is no JWT. */
  peek(assertion: string): AssertionPeek | undefined;
  /** True when `assertion` is signed by the certificate's key and its claims hold at `now`. */
  verifyWithCertificate(
    assertion: string,
    der: Buffer,
    expected: { issuer: string; subject: string; audiences: readonly string[]; now: Date },
  ): Promise<boolean>;
  /** True when `assertion` is signed by a key of the issuer (pinned or discovered) and its claims hold. */
  verifyFederated(
    assertion: string,
    expected: {
      issuer: string;
      subject: string;
      audiences: readonly string[];
      jwks?: { keys: unknown[] } | undefined;
      now: Date;
    },
  ): Promise<boolean>;
}

/** Reads a certificate's thumbprints and validity, so the domain never parses X.509 itself. */
export interface CertificateInspector {
  /** Accepts PEM or DER; throws when it is neither. */
  inspect(encoded: Buffer): { der: Buffer; thumbprintSha1: string; thumbprintSha256: string; notAfter: Date };
}
