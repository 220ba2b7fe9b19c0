import type { ApprovalChange } from "../approvals/ports.js";
import type { SubjectAltName } from "../inventory/model.js";
import type {
  EnrollmentKeyType,
  EnrollmentKind,
  EnrollmentProfile,
  ScepTransaction,
  ScepTransactionStatus,
} from "./model.js";

export interface EnrollmentStore {
  /** Conflict when the label is taken for this kind. */
  insertProfile(profile: EnrollmentProfile): Promise<void>;
  getProfile(kind: EnrollmentKind, label: string): Promise<EnrollmentProfile | undefined>;
  listProfiles(kind: EnrollmentKind): Promise<EnrollmentProfile[]>;
  /** Removes a profile with its challenges and transactions; false when there was none. */
  deleteProfile(kind: EnrollmentKind, label: string): Promise<boolean>;
  insertChallenge(profileId: string, hash: string, createdAt: Date, expiresAt: Date): Promise<void>;
  /** Marks an unused, unexpired challenge used; false when there is no such challenge. */
  consumeChallenge(profileId: string, hash: string, now: Date): Promise<boolean>;
  getTransaction(profileId: string, transactionId: string): Promise<ScepTransaction | undefined>;
  /**
   * Inserts or replaces a transaction's state; with `approval`, stores the approval request that
   * holds it in the same transaction.
   */
  putTransaction(transaction: ScepTransaction, approval?: ApprovalChange): Promise<void>;
  /**
   * Takes an approved request to sign it until `leaseUntil` (pending → approved): true for one
   * caller, and again for another once the lease has run out (its holder died before storing).
   */
  takeTransaction(profileId: string, transactionId: string, now: Date, leaseUntil: Date): Promise<boolean>;
  /** Moves a transaction from one status to another: true for one caller only. */
  moveTransaction(
    profileId: string,
    transactionId: string,
    from: ScepTransactionStatus,
    to: ScepTransactionStatus,
  ): Promise<boolean>;
}

/** Key facts read from a subject public key, in the terms issuance rules judge. */
export interface PublicKeyFacts {
  keyType: string;
  keySize?: number | undefined;
  curve?: string | undefined;
}

/** What enrollment needs from the crypto layer. */
export interface EnrollmentCrypto {
  /** Algorithm and size of an SPKI. */
  keyFacts(spki: Buffer): PublicKeyFacts;
  /** A fresh key pair as PKCS#8 and a PKCS#10 request for it (subject `subject`). */
  newKeyWithCsr(algorithm: EnrollmentKeyType, subject: string): Promise<{ pkcs8: Buffer; csr: Buffer }>;
  /**
   * RFC 7030 §4.5.2 CsrAttrs DER asking for a key type (with its signature algorithm) and an
   * extensionRequest with these EKUs; undefined when there is nothing to ask for.
   */
  csrAttributes(keyType: EnrollmentKeyType | undefined, ekus: string[]): Buffer | undefined;
  /** The subject alternative names of a certificate. */
  certificateNames(der: Buffer): SubjectAltName[];
  /** SHA-256 hex of a DER certificate. */
  fingerprint(der: Buffer): string;
  /** SHA-256 hex of a challenge password. */
  hashChallenge(password: string): string;
  /** A random one-time password, printable. */
  newChallenge(): string;
}

/** RFC 8894 §3.2.1.2 messageType values of requests this server answers. */
export type ScepMessageType = "PKCSReq" | "RenewalReq" | "CertPoll" | "GetCert" | "GetCRL";

/** RFC 8894 §3.2.1.4 failInfo. */
export type ScepFailInfo = "badAlg" | "badMessageCheck" | "badRequest" | "badTime" | "badCertId";

/** A SCEP pkiMessage as read: its signed attributes, and the envelope's content when it opened. */
export interface ScepRequest {
  messageType: ScepMessageType | string;
  transactionId: string;
  senderNonce: Buffer;
  /** The certificate that signed the message: self-signed for PKCSReq, the current one for renewal. */
  signerCertificate: Buffer;
  /** Hash name the client signed with (`SHA-256`), mirrored in the reply. */
  digest: string;
  /** Content-encryption algorithm OID the client chose, mirrored in the reply. */
  cipher: string;
  /** Set when the signature or the envelope failed: the reply is a FAILURE with this failInfo. */
  problem?: ScepFailInfo | undefined;
  /** PKCSReq and RenewalReq: the PKCS#10 request. */
  csr?: Buffer | undefined;
  /** The challengePassword attribute of the request (RFC 2985 §5.4.1), when it has one. */
  challengePassword?: string | undefined;
}

export type ScepReply =
  | { status: "SUCCESS"; certificates: Buffer[] }
  | { status: "FAILURE"; failInfo: ScepFailInfo }
  | { status: "PENDING" };

/** The RA's identity for one request: its certificate and its key as PKCS#8. */
export interface RaIdentity {
  certificate: Buffer;
  pkcs8: Buffer;
}

/** SCEP's CMS messages (RFC 8894 §3): reading pkiMessages, making CertReps and certs-only bundles. */
export interface ScepCodec {
  /** BadParameter when the bytes are not a signed pkiMessage at all (no CertRep can answer it). */
  readRequest(der: Buffer, ra: RaIdentity): Promise<ScepRequest>;
  /** A CertRep for `request`, signed by the RA, the certificates encrypted to the requester. */
  reply(request: ScepRequest, reply: ScepReply, ra: RaIdentity): Promise<Buffer>;
}
