import type { CertificateSigner } from "../certificates/ports.js";
import type { VaultEvent } from "../events/model.js";
import type { Protection, PublicKeyParts } from "../keys/model.js";
import type { ProtectedKey } from "../keys/ports.js";
import type {
  CaKeyAlgorithm,
  CertificateAuthority,
  CertificateFactsLite,
  CertificateSpec,
  CertificateStatus,
  CrlEntry,
  CrlSpec,
  CsrFacts,
  IssuedCertificate,
  OcspCertId,
  OcspRequestFacts,
  OcspResponseSpec,
  RevocationReason,
  StoredCrl,
} from "./model.js";

/**
 * A CA key's signer. RSA and ECDSA keys sign a digest through `sign`; Ed25519 keys sign the
 * to-be-signed bytes themselves (RFC 8410 §6, PureEdDSA), which no digest can stand in for.
 */
export interface CaSigner extends CertificateSigner {
  signMessage(message: Buffer): Promise<Buffer>;
}

/** CA keys in the installation's key protectors (software or HSM), addressed by protection. */
export interface CaKeys {
  /** Makes a key pair inside the protector; `context` names it (and binds software sealing to it). */
  generate(algorithm: CaKeyAlgorithm, protection: Protection, context: string): Promise<ProtectedKey>;
  signer(protection: Protection, material: Buffer, context: string, publicKey: PublicKeyParts): CaSigner;
  destroy(protection: Protection, material: Buffer): Promise<void>;
}

/** X.509 work for the CA: certificates, CSRs, CRLs and OCSP messages, signed through a signer. */
export interface CaX509 {
  certificate(spec: CertificateSpec, signer: CaSigner): Promise<Buffer>;
  /** A PKCS#10 request for a CA certificate, for an external CA to sign. */
  caCsr(subject: string, signer: CaSigner): Promise<Buffer>;
  /** Reads a CSR; BadParameter when it is malformed or its signature does not verify. */
  readCsr(der: Buffer): Promise<CsrFacts>;
  readCertificate(der: Buffer): CertificateFactsLite;
  /** The SPKI DER of a public key. */
  spki(publicKey: PublicKeyParts): Buffer;
  crl(spec: CrlSpec, signer: CaSigner): Promise<Buffer>;
  /** Parses an OCSP request; undefined when it is not one (RFC 6960 malformedRequest). */
  readOcspRequest(der: Buffer): OcspRequestFacts | undefined;
  ocspResponse(spec: OcspResponseSpec, signer: CaSigner): Promise<Buffer>;
  /** The SHA-1 CertID (RFC 6960 §4.1.1) of a serial under an issuer, as RFC 5019 clients send it. */
  certId(issuer: Buffer, serial: string): OcspCertId;
  /** SHA-1 of the issuer's name and key, as OCSP CertIDs name an issuer (RFC 6960 §4.1.1). */
  issuerHashes(certificate: Buffer): {
    nameHash: Buffer;
    keyHash: Buffer;
    nameHash256: Buffer;
    keyHash256: Buffer;
  };
}

/** The URLs baked into certificates: where AIA, CRLs and OCSP answer (plain HTTP). */
export interface PkiUrls {
  caIssuers(caId: string): string;
  ocsp(): string;
  /** The full CRL for `shard` = FULL_CRL, else the shard's CRL. */
  crl(caId: string, shard: number): string;
}

export interface StatusChange {
  caId: string;
  serial: string;
  status: CertificateStatus;
  revokedAt?: Date | undefined;
  reason?: RevocationReason | undefined;
  /** Events about the vault certificate it backs, stored with the change. */
  events: VaultEvent[];
}

/**
 * What an issued certificate completes in the transaction that stores it, so that a request is
 * signed exactly once however many nodes (or retries after a crash) sign it: the first commit wins.
 */
export interface IssuedFor {
  /** An approved request, which records the certificate. */
  approvalId?: string | undefined;
  /** An ACME order being finalized, in status `from`, which becomes valid with the certificate. */
  acmeOrder?: { id: string; from: "ready" | "processing" } | undefined;
}

export interface CaStore {
  /** Conflict when the name is taken. */
  insertAuthority(ca: CertificateAuthority): Promise<void>;
  updateAuthority(ca: CertificateAuthority): Promise<void>;
  /** By id or by name (case-insensitive). */
  getAuthority(idOrName: string): Promise<CertificateAuthority | undefined>;
  listAuthorities(): Promise<CertificateAuthority[]>;
  /**
   * Stores an issued certificate with its events (the outbox), in one transaction, together with
   * what it completes (`completes`): when one of those has a certificate already, nothing is stored
   * (Conflict, reason ApprovalAlreadyIssued or AcmeOrderFinalized).
   */
  insertIssued(issued: IssuedCertificate, events: VaultEvent[], completes?: IssuedFor): Promise<void>;
  getIssued(caId: string, serial: string): Promise<IssuedCertificate | undefined>;
  /** Every CA's certificates with this serial (serials are random, so normally one). */
  findBySerial(serial: string): Promise<IssuedCertificate[]>;
  findByVaultVersion(vaultId: string, name: string, version: string): Promise<IssuedCertificate | undefined>;
  /** The certificates behind several versions of a vault's certificates, in one read (a campaign batch). */
  findByVaultVersions(
    vaultId: string,
    versions: readonly { name: string; version: string }[],
  ): Promise<IssuedCertificate[]>;
  /** A CA's issued certificates, newest first, `after` being the last serial of the previous page. */
  listIssued(caId: string, limit: number, after?: string): Promise<IssuedCertificate[]>;
  /**
   * The CRL entries of a CA's revoked and held certificates, of one shard or (FULL_CRL) all, in
   * serial order: only what a CRL lists, for a CA may have revoked a hundred thousand.
   */
  revoked(caId: string, shard: number): Promise<CrlEntry[]>;
  /**
   * Sets a certificate's status, marks the vault certificate it backs and stores the events, in one
   * transaction.
   */
  changeStatus(change: StatusChange): Promise<void>;
  /** The CA's next CRL number (RFC 5280 §5.2.3: monotonically increasing), taken atomically. */
  nextCrlNumber(caId: string): Promise<number>;
  putCrl(crl: StoredCrl): Promise<void>;
  getCrl(caId: string, shard: number): Promise<StoredCrl | undefined>;
}
