/** RFC 8555 §9.7.7 identifier types, with RFC 8738 `ip`. */
export type IdentifierType = "dns" | "ip";

export interface Identifier {
  type: IdentifierType;
  value: string;
}

export const CHALLENGE_TYPES = ["http-01", "dns-01", "tls-alpn-01"] as const;
export type ChallengeType = (typeof CHALLENGE_TYPES)[number];

/** An RFC 8555 §6.7 problem, as stored on a failed challenge or order. */
export interface AcmeProblem {
  /** The ACME error type without its `urn:ietf:params:acme:error:` prefix, e.g. `connection`. */
  type: string;
  detail: string;
  status: number;
}

/**
 * One ACME server: a directory at `/acme/{name}/directory`, issuing from one CA with one certificate
 * profile. Its name is also the draft-ietf-acme-profiles profile named in the directory `meta`.
 */
export interface AcmeProfile {
  id: string;
  name: string;
  /** The private CA that signs, by id. */
  caId: string;
  description: string;
  validityDays: number;
  /** Dotted OIDs; serverAuth unless the profile says otherwise. */
  ekus: string[];
  /** Key types a CSR may carry: `RSA`, `EC`, `Ed25519`. */
  keyTypes: string[];
  /** Smallest RSA modulus accepted. */
  minRsaBits: number;
  /** Whether new accounts must carry an External Account Binding (RFC 8555 §7.3.4). */
  eabRequired: boolean;
  /** ARI (RFC 9773): the suggested window starts and ends at these fractions of the lifetime, in percent. */
  renewalWindowStartPercent: number;
  renewalWindowEndPercent: number;
  /** New orders one account may place per hour. */
  ordersPerAccountPerHour: number;
  /** Orders naming one identifier, across accounts, per hour. */
  ordersPerIdentifierPerHour: number;
  /**
   * Whether a new order reuses the account's valid authorization for an identifier instead of asking
   * for a new validation (as Boulder does).
   */
  authzReuse: boolean;
  /** A valid authorization is reused only if it was validated within this many hours. */
  authzReuseMaxAgeHours: number;
  /** Whether a pending authorization (made within the max age) is reused too. */
  pendingAuthzReuse: boolean;
  createdAt: Date;
  updatedAt: Date;
}

/** An EAB key made with the CLI; its HMAC key is stored only sealed and binds one account. */
export interface EabKey {
  keyId: string;
  profileId: string;
  sealedHmacKey: Buffer;
  accountId?: string | undefined;
  createdAt: Date;
}

/** The reuse settings of profiles made before they existed, and the defaults of new ones. */
export const AUTHZ_REUSE_DEFAULTS = {
  authzReuse: true,
  authzReuseMaxAgeHours: 24 * 7,
  pendingAuthzReuse: false,
} as const satisfies Pick<AcmeProfile, "authzReuse" | "authzReuseMaxAgeHours" | "pendingAuthzReuse">;

export type AccountStatus = "valid" | "deactivated" | "revoked";

export interface AcmeAccount {
  id: string;
  profileId: string;
  /** RFC 7638 thumbprint of `jwk`: one account per key and profile. */
  thumbprint: string;
  jwk: Record<string, unknown>;
  contacts: string[];
  status: AccountStatus;
  eabKeyId?: string | undefined;
  createdAt: Date;
}

export type OrderStatus = "pending" | "ready" | "processing" | "valid" | "invalid";
export type AuthorizationStatus = "pending" | "valid" | "invalid" | "deactivated" | "expired" | "revoked";
export type ChallengeStatus = "pending" | "processing" | "valid" | "invalid";

export interface AcmeChallenge {
  id: string;
  authzId: string;
  type: ChallengeType;
  token: string;
  status: ChallengeStatus;
  validatedAt?: Date | undefined;
  error?: AcmeProblem | undefined;
}

export interface AcmeAuthorization {
  id: string;
  orderId: string;
  accountId: string;
  identifier: Identifier;
  wildcard: boolean;
  status: AuthorizationStatus;
  expiresAt: Date;
  challenges: AcmeChallenge[];
}

export interface AcmeOrder {
  id: string;
  profileId: string;
  accountId: string;
  status: OrderStatus;
  identifiers: Identifier[];
  authzIds: string[];
  expiresAt: Date;
  notBefore?: Date | undefined;
  notAfter?: Date | undefined;
  error?: AcmeProblem | undefined;
  /** The issued certificate's serial (lower-case hex), issued by the profile's CA. */
  certificateSerial?: string | undefined;
  /** ARI (RFC 9773 §5): the certID of the certificate this order replaces. */
  replaces?: string | undefined;
  /** The approval request holding the order's finalize, while or since it held it. */
  approvalId?: string | undefined;
  /** The CSR of a finalize held for approval, signed once approved. */
  heldCsr?: Buffer | undefined;
  createdAt: Date;
}

/** A validation's outcome: the problem that failed it, none when the challenge is met. */
export interface ValidationOutcome {
  error?: AcmeProblem | undefined;
}

/** A challenge claimed for validation, with what the validator needs. */
export interface ClaimedChallenge {
  challenge: AcmeChallenge;
  identifier: Identifier;
  /** The account key's thumbprint, for the key authorization (RFC 8555 §8.1). */
  thumbprint: string;
}
