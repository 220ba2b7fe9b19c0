import type { KeyUsage, SubjectAlternativeNames } from "../certificates/model.js";
import type { CertificateSigner } from "../certificates/ports.js";
import type { Protection, PublicKeyParts } from "../keys/model.js";

/**
 * CA key types. Ed25519 (RFC 8410) is for CAs only: Key Vault keys stay RSA, EC or oct, so vault
 * certificates have RSA or EC keys, which an Ed25519 CA signs like any other.
 */
export const CA_KEY_ALGORITHMS = [
  "EC-P256",
  "EC-P384",
  "RSA-2048",
  "RSA-3072",
  "RSA-4096",
  "Ed25519",
] as const;
export type CaKeyAlgorithm = (typeof CA_KEY_ALGORITHMS)[number];

/** RFC 5280 §5.3.1 CRLReason codes (removeFromCRL is the un-hold, not a reason to revoke with). */
export const REVOCATION_REASONS = {
  unspecified: 0,
  keyCompromise: 1,
  cACompromise: 2,
  affiliationChanged: 3,
  superseded: 4,
  cessationOfOperation: 5,
  certificateHold: 6,
  privilegeWithdrawn: 9,
  aACompromise: 10,
} as const;
export type RevocationReason = keyof typeof REVOCATION_REASONS;

/** RFC 5280 §4.2.1.10 subtrees: DNS names, IP ranges in CIDR, e-mail boxes or domains, URI hosts. */
export interface NameSubtrees {
  dns: string[];
  ip: string[];
  email: string[];
  uri: string[];
}

export interface NameConstraints {
  permitted: NameSubtrees;
  excluded: NameSubtrees;
}

export type CaStatus = "active" | "awaitingCertificate";

/** A delegated OCSP responder's key and certificate (RFC 6960 §4.2.2.2), renewed before it expires. */
export interface OcspResponder {
  certificate: Buffer;
  keyMaterial: Buffer;
  publicKey: PublicKeyParts;
  /** Part of the key's protector context, so each renewal seals a fresh key under its own name. */
  generation: number;
  notAfter: Date;
  /**
   * The previous generation's key, kept one more generation: nodes that still hold the previous
   * responder (they reload CAs every minute) keep signing with it until they do.
   */
  retiredKeyMaterial?: Buffer | undefined;
}

/** A root or intermediate CA of this installation; its key never leaves its protector. */
export interface CertificateAuthority {
  id: string;
  name: string;
  kind: "root" | "intermediate";
  status: CaStatus;
  /** The CA of this installation that signed it; absent for roots and externally signed intermediates. */
  parentId?: string | undefined;
  subject: string;
  keyAlgorithm: CaKeyAlgorithm;
  protection: Protection;
  publicKey: PublicKeyParts;
  keyMaterial: Buffer;
  /** DER, once signed. */
  certificate?: Buffer | undefined;
  /** The issuers above it, nearest first, up to the root. */
  chain: Buffer[];
  /** The PKCS#10 request an external CA signs; kept until the certificate is imported. */
  csr?: Buffer | undefined;
  pathLength?: number | undefined;
  nameConstraints?: NameConstraints | undefined;
  /** Certificate policy OIDs put into the CA's certificate and everything it issues. */
  policies: string[];
  /** How many CRL shards its certificates are spread over (1: one full CRL only). */
  crlShards: number;
  notAfter?: Date | undefined;
  responder?: OcspResponder | undefined;
  createdAt: Date;
  updatedAt: Date;
}

export type CertificateStatus = "good" | "revoked" | "hold";

/** Where an issued certificate lives in a vault, when a vault policy asked for it. */
export interface VaultLink {
  vaultId: string;
  vaultName: string;
  name: string;
  version: string;
}

/** A certificate a CA of this installation signed: the inventory and the revocation source. */
export interface IssuedCertificate {
  caId: string;
  /** Lower-case hex of the serial number, without leading zero bytes. */
  serial: string;
  subject: string;
  notBefore: Date;
  notAfter: Date;
  der: Buffer;
  shard: number;
  status: CertificateStatus;
  revokedAt?: Date | undefined;
  reason?: RevocationReason | undefined;
  vault?: VaultLink | undefined;
  createdAt: Date;
}

/** Shard number of the CRL that lists every revoked certificate of a CA. */
export const FULL_CRL = -1;

export interface StoredCrl {
  caId: string;
  /** FULL_CRL or 0…crlShards-1. */
  shard: number;
  number: number;
  thisUpdate: Date;
  nextUpdate: Date;
  der: Buffer;
}

/** What goes into a certificate a CA signs. */
export interface CertificateSpec {
  serial: string;
  subject: string;
  /** The subject's DER as a CSR carried it: copied as it is rather than re-encoded from `subject`. */
  subjectDer?: Buffer | undefined;
  notBefore: Date;
  notAfter: Date;
  /** SPKI DER of the subject's key. */
  publicKey: Buffer;
  /** Absent for the self-signed root, whose issuer is itself. */
  issuer?: { certificate: Buffer } | undefined;
  ca?: { pathLength?: number | undefined; nameConstraints?: NameConstraints | undefined } | undefined;
  keyUsage: KeyUsage[];
  ekus: string[];
  sans: SubjectAlternativeNames;
  policies: string[];
  urls?: { caIssuers: string; ocsp: string; crl: string } | undefined;
  /** RFC 6960 §4.2.2.2.1 id-pkix-ocsp-nocheck, for delegated responders. */
  ocspNoCheck?: boolean | undefined;
}

/** A public key as node:crypto describes it: `rsa`, `ec`, `ed25519`…, with its size or curve. */
export interface PublicKeyDetails {
  type: string | undefined;
  modulusLength?: number | undefined;
  namedCurve?: string | undefined;
}

export interface CsrFacts {
  subject: string;
  subjectDer: Buffer;
  publicKey: Buffer;
  sans: SubjectAlternativeNames;
  /**
   * The key as the signature check read it, so that judging it (key facts for rules and profiles)
   * does not parse the SPKI again; absent where the CSR was checked another way.
   */
  key?: PublicKeyDetails | undefined;
}

export interface CertificateFactsLite {
  subject: string;
  issuer: string;
  serial: string;
  notBefore: Date;
  notAfter: Date;
  publicKey: Buffer;
}

/** A revoked or held certificate as a CRL lists it (RFC 5280 §5.1.2.6). */
export interface CrlEntry {
  serial: string;
  revokedAt: Date;
  reason: RevocationReason;
}

export interface CrlSpec {
  issuer: Buffer;
  number: number;
  thisUpdate: Date;
  nextUpdate: Date;
  entries: CrlEntry[];
  /** RFC 5280 §5.2.5: the URL a shard is served at, so a shard CRL is never taken for a full one. */
  distributionPoint?: string | undefined;
}

/** One CertID of an OCSP request (RFC 6960 §4.1.1). */
export interface OcspCertId {
  hashAlgorithm: string;
  issuerNameHash: Buffer;
  issuerKeyHash: Buffer;
  serial: string;
  /** The CertID's DER, echoed in the response. */
  der: Buffer;
}

export interface OcspRequestFacts {
  certIds: OcspCertId[];
  nonce?: Buffer | undefined;
}

export interface OcspSingle {
  certId: OcspCertId;
  status: CertificateStatus | "unknown";
  revokedAt?: Date | undefined;
  reason?: RevocationReason | undefined;
}

export interface OcspResponseSpec {
  responderCertificate: Buffer;
  producedAt: Date;
  thisUpdate: Date;
  nextUpdate: Date;
  responses: OcspSingle[];
  nonce?: Buffer | undefined;
}

export type { CertificateSigner };
