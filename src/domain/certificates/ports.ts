import type { ApprovalChange } from "../approvals/ports.js";
import type { DomainError } from "../errors.js";
import type { VaultEvent } from "../events/model.js";
import type { SignatureAlgorithm } from "../keys/algorithms.js";
import type { ImportJwk, PublicKeyParts, StoredKeyVersion } from "../keys/model.js";
import type { VersionedStore } from "../objects/ports.js";
import type { StoredSecretVersion } from "../secrets/model.js";
import type { Vault } from "../vaults/model.js";
import type {
  CertificateIssuer,
  CertificateOperation,
  CertificatePolicy,
  CertificateVersion,
  ChainVerdict,
  Contact,
  KeyUsage,
  OperationStatus,
  SubjectAlternativeNames,
} from "./model.js";

/** Signs for a certificate or CSR with a key its protector holds. */
export interface CertificateSigner {
  publicKey: PublicKeyParts;
  sign(alg: SignatureAlgorithm, digest: Buffer): Promise<Buffer>;
}

export interface CertificateFacts {
  subject: string;
  issuer: string;
  serialNumber: string;
  notBefore: Date;
  notAfter: Date;
  publicKey: PublicKeyParts;
  thumbprint: Buffer;
}

/** A certificate with its chain in order, and what storing it as a vault version needs of it. */
export interface ReadChain {
  leaf: Buffer;
  chain: Buffer[];
  verdict: ChainVerdict;
  facts: Pick<CertificateFacts, "notBefore" | "notAfter" | "thumbprint">;
}

/** What a certificate says of the policy it was issued under, as Key Vault reports it on import. */
export interface CertificateProfile {
  sans: SubjectAlternativeNames;
  ekus: string[];
  keyUsage: KeyUsage[];
  /** Whole months from notBefore to notAfter, rounded, within the policy's 1 to 1200. */
  validityMonths: number;
  ca: boolean;
}

/** X.509 and PKCS#10 work: building, reading and ordering certificates. */
export interface X509Factory {
  selfSigned(policy: CertificatePolicy, signer: CertificateSigner, now: Date): Promise<Buffer>;
  csr(policy: CertificatePolicy, signer: CertificateSigner): Promise<Buffer>;
  /** Facts of one DER certificate; throws BadParameter on anything else. */
  inspect(der: Buffer): CertificateFacts;
  /** The SANs, EKUs, key usage, validity and CA flag of one DER certificate. */
  profile(der: Buffer): CertificateProfile;
  /**
   * Puts certificates in order, leaf first, each followed by its issuer (certificates off that path
   * last), and says whether the chain ends in a self-signed root or which issuer is missing.
   */
  orderChain(certs: Buffer[]): { leaf: Buffer; chain: Buffer[]; verdict: ChainVerdict };
  /**
   * What orderChain and inspect say of a certificate this installation's CA has just signed with the
   * given validity, under its chain (the CA first), without reading the certificate back: the CA
   * knows both, and its own signature needs no checking. The verdict is the CA chain's.
   */
  signedHere(leaf: Buffer, issuerChain: Buffer[], validity: { notBefore: Date; notAfter: Date }): ReadChain;
  /** The public key a PKCS#10 request carries. */
  csrPublicKey(csr: Buffer): PublicKeyParts;
  /** Reads merge input leniently: DER, PEM text, or base64 text of either (keyvault-api.md §2). */
  readCertificate(bytes: Buffer): Buffer[];
}

/** A key and certificates from an imported file; the key is plaintext PKCS#8 only in memory. */
export interface KeyAndCertificates {
  pkcs8?: Buffer | undefined;
  certificates: Buffer[];
}

export interface CertificateBundleCodec {
  /** PKCS#12 (any PBE Key Vault's clients use: PBES2/AES, 3DES, RC2); BadParameter on a wrong password. */
  parsePfx(bytes: Buffer, password: string | undefined): KeyAndCertificates;
  /**
   * PEM with a PKCS#8 or traditional key, encrypted (with `password`) or not, and certificates in any
   * order; BadParameter (reason WrongPassword) when an encrypted key does not open with it.
   */
  parsePem(text: string, password?: string | undefined): KeyAndCertificates;
  buildPfx(pkcs8: Buffer | undefined, certificates: Buffer[]): Promise<Buffer>;
  /** A private key as a JWK, with its public members, for a key protector to take in. */
  pkcs8ToJwk(pkcs8: Buffer): ImportJwk;
  buildPem(pkcs8: Buffer | undefined, certificates: Buffer[]): string;
}

export interface NewVersionState {
  deleted: boolean;
  policy: CertificatePolicy | undefined;
  operationStatus: OperationStatus | undefined;
}

/** Everything one issued certificate version writes, stored in one transaction. */
export interface IssuedVersion {
  certificate: CertificateVersion;
  key: StoredKeyVersion;
  secret: StoredSecretVersion;
  policy: CertificatePolicy;
  /** The operation to record as completed, for created and merged certificates. */
  operation?: CertificateOperation | undefined;
  /** Events to store in the same transaction (the outbox). */
  events?: VaultEvent[] | undefined;
}

/** The key side of certificates, served by the key service with the same protectors and contexts. */
export interface CertificateKeys {
  /**
   * Makes a key for certificate `name`, version `version`, per the policy's key properties; an HSM
   * key under `hsmId` when given (an id its caller recorded first, see destroyUnstored).
   */
  generate(
    vault: Vault,
    name: string,
    version: string,
    policy: CertificatePolicy,
    hsmId?: Buffer,
  ): Promise<StoredKeyVersion>;
  /** Takes in an imported private key as the key of certificate `name`, version `version`. */
  importKey(
    vault: Vault,
    name: string,
    version: string,
    jwk: ImportJwk,
    policy: CertificatePolicy,
  ): Promise<StoredKeyVersion>;
  signer(vault: Vault, key: StoredKeyVersion): CertificateSigner;
  /** The private key as PKCS#8 when it may leave (exportable software key); undefined otherwise. */
  exportable(vault: Vault, key: StoredKeyVersion, policy: CertificatePolicy): Promise<Buffer | undefined>;
  destroy(key: StoredKeyVersion): Promise<void>;
  /**
   * Destroys the HSM keys made under these ids by an attempt that died before it stored them; an id
   * under which no key was made is nothing to do. Only for ids no stored version holds.
   */
  destroyUnstored(hsmIds: readonly Buffer[]): Promise<void>;
  /** Every version of a certificate's key, with material, oldest first. */
  versions(vault: Vault, name: string): Promise<StoredKeyVersion[]>;
  /** The private key as PKCS#8 for a sealed backup blob; BadParameter for keys that never leave an HSM. */
  exportForBackup(vault: Vault, key: StoredKeyVersion): Promise<Buffer>;
}

export interface CertificateStore extends VersionedStore<CertificateVersion, CertificateVersion> {
  /**
   * Stores a certificate version with its backing key and secret (same name and version) and its
   * policy; Conflict when a key or secret of that name exists that no certificate manages.
   */
  addIssued(issued: IssuedVersion): Promise<void>;
  /**
   * Inserts a whole certificate from a backup, and stores `events`; Conflict when the name is taken
   * in any of the three collections.
   */
  restoreIssued(versions: IssuedVersion[], events: readonly VaultEvent[]): Promise<void>;
  /** Conflict when a key or secret of that name exists that no certificate manages. */
  refuseUnmanagedNamesake(vaultId: string, name: string): Promise<void>;
  /**
   * Soft-deletes the certificate and its backing key and secret together, and withdraws the approval
   * request its pending operation waits for, when given.
   */
  softDeleteWithBacking(
    vaultId: string,
    name: string,
    deletedAt: Date,
    purgeAt: Date,
    events?: VaultEvent[],
    withdrawal?: ApprovalChange,
  ): Promise<boolean>;
  /** Recovers the certificate and its backing key and secret together. */
  recoverWithBacking(vaultId: string, name: string, events?: VaultEvent[]): Promise<boolean>;
  /**
   * Purges the certificate, its backing key and secret and its operation; returns every key
   * version and the operation, whose key material (HSM objects included) is then destroyed.
   */
  purgeWithBacking(
    vaultId: string,
    name: string,
    events?: VaultEvent[],
  ): Promise<{ keys: StoredKeyVersion[]; operation: CertificateOperation | undefined } | undefined>;
  /**
   * Replaces a version's mutable fields, sets its backing key and secret versions' `enabled` to the
   * certificate's, and stores the policy when given, in one transaction.
   */
  updateIssued(certificate: CertificateVersion, policy?: CertificatePolicy): Promise<void>;
  getPolicy(vaultId: string, name: string): Promise<CertificatePolicy | undefined>;
  /** The policy of a deleted certificate, kept until it is purged. */
  getDeletedPolicy(vaultId: string, name: string): Promise<CertificatePolicy | undefined>;
  putPolicy(vaultId: string, name: string, policy: CertificatePolicy): Promise<void>;
  getOperation(vaultId: string, name: string): Promise<CertificateOperation | undefined>;
  /**
   * What Key Vault's rules for a new version look at, read together: whether the name is deleted,
   * the live certificate's policy, and its operation's status.
   */
  newVersionState(vaultId: string, name: string): Promise<NewVersionState>;
  /**
   * newVersionState of many names at once (a campaign batch), by name key, each with the Conflict
   * that refuseUnmanagedNamesake would throw for it.
   */
  newVersionStates(
    vaultId: string,
    names: readonly string[],
  ): Promise<Map<string, NewVersionState & { unmanagedNamesake?: DomainError }>>;
  /**
   * Inserts or replaces the certificate's operation, with the approval change it comes with in the
   * same transaction: the new request a held create waits for, or the withdrawal of that request.
   */
  putOperation(operation: CertificateOperation, approval?: ApprovalChange): Promise<void>;
  /** Deletes the certificate's operation, withdrawing the approval request it waits for when given. */
  deleteOperation(vaultId: string, name: string, withdrawal?: ApprovalChange): Promise<boolean>;
  listOperations(vaultId: string): Promise<CertificateOperation[]>;
  listIssuers(vaultId: string): Promise<CertificateIssuer[]>;
  getIssuer(vaultId: string, name: string): Promise<CertificateIssuer | undefined>;
  putIssuer(issuer: CertificateIssuer): Promise<void>;
  deleteIssuer(vaultId: string, name: string): Promise<boolean>;
  getContacts(vaultId: string): Promise<Contact[] | undefined>;
  putContacts(vaultId: string, contacts: Contact[] | undefined): Promise<void>;
}
