export type EnrollmentKind = "est" | "scep";

/** Key types a profile may require of its clients' requests, and that serverkeygen makes. */
export const ENROLLMENT_KEY_TYPES = [
  "RSA-2048",
  "RSA-3072",
  "RSA-4096",
  "EC-P256",
  "EC-P384",
  "EC-P521",
] as const;
export type EnrollmentKeyType = (typeof ENROLLMENT_KEY_TYPES)[number];

/** The RA identity of a SCEP profile: clients encrypt requests to it and verify replies by it. */
export interface RegistrationAuthority {
  certificate: Buffer;
  /** PKCS#8 DER of the RA key, sealed under the master key with context `scep-ra/<profile id>`. */
  sealedKey: Buffer;
}

/** An EST or SCEP front end of one private CA, addressed by its label. */
export interface EnrollmentProfile {
  id: string;
  kind: EnrollmentKind;
  label: string;
  caId: string;
  validityDays: number;
  /** Dotted OIDs of the extended key usages every certificate gets. */
  ekus: string[];
  /** EST: client ids that may enroll with HTTP Basic; empty lets any enabled principal. */
  principals: string[];
  /** Every request waits for one approver, on top of what the approval rules ask. */
  approval: boolean;
  /**
   * The key type requests must carry; EST's csrattrs asks for it (RFC 7030 §4.5). Any key the rules
   * accept when absent.
   */
  keyType?: EnrollmentKeyType | undefined;
  ra?: RegistrationAuthority | undefined;
  createdAt: Date;
}

/** `approved`: taken by the node signing it once its approval was granted. */
export type ScepTransactionStatus = "pending" | "approved" | "issued" | "rejected";

/** A SCEP request as its transactionID names it (RFC 8894 §3.2.1.1). */
export interface ScepTransaction {
  profileId: string;
  transactionId: string;
  status: ScepTransactionStatus;
  /**
   * SHA-256 hex of the certificate that signed the request. Clients derive transactionIDs from the
   * key (RFC 8894 §3.2.1.1), so a renewal that keeps its key reuses the ID; it is told apart from a
   * retransmission by its signer, the certificate being renewed.
   */
  requester: string;
  /** The PKCS#10 request, kept so a pending request can be signed once approved. */
  csr: Buffer;
  caId?: string | undefined;
  serial?: string | undefined;
  /** The approval request holding a pending request. */
  approvalId?: string | undefined;
  createdAt: Date;
  updatedAt: Date;
}

/** Who enrolls: recorded as the actor of the audit row of the issuance. */
export interface EnrollmentActor {
  /** A principal's id when it authenticated with its credentials. */
  principalId?: string | undefined;
  clientId?: string | undefined;
  /** `tls:<serial>` for a client certificate, `scep:<transactionID>` for a SCEP client. */
  description: string;
}
