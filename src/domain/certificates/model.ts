import type { CurveName } from "../keys/model.js";
import type { DeletedObject, VersionedObject } from "../objects/model.js";

export type CertificateContentType = "application/x-pkcs12" | "application/x-pem-file";
export type LifetimeActionType = "AutoRenew" | "EmailContacts";

/** RFC 5280 §4.2.1.3 key usages, with Key Vault's spellings. */
export const KEY_USAGES = [
  "digitalSignature",
  "nonRepudiation",
  "keyEncipherment",
  "dataEncipherment",
  "keyAgreement",
  "keyCertSign",
  "cRLSign",
  "encipherOnly",
  "decipherOnly",
] as const;
export type KeyUsage = (typeof KEY_USAGES)[number];

export interface SubjectAlternativeNames {
  dnsNames: string[];
  emails: string[];
  upns: string[];
  uris: string[];
  ipAddresses: string[];
}

export interface LifetimeAction {
  lifetimePercentage?: number | undefined;
  daysBeforeExpiry?: number | undefined;
  action: LifetimeActionType;
}

/** A certificate's policy, complete: every field Key Vault defaults is filled in. */
export interface CertificatePolicy {
  key: {
    kty: "RSA" | "RSA-HSM" | "EC" | "EC-HSM";
    keySize?: number | undefined;
    curve?: CurveName | undefined;
    exportable: boolean;
    reuseKey: boolean;
  };
  contentType: CertificateContentType;
  subject: string;
  sans: SubjectAlternativeNames;
  ekus: string[];
  keyUsage: KeyUsage[];
  validityMonths: number;
  ca: boolean;
  lifetimeActions: LifetimeAction[];
  issuer: {
    name: string;
    certificateType?: string | undefined;
    certificateTransparency?: boolean | undefined;
  };
  enabled: boolean;
  createdAt?: Date | undefined;
  updatedAt?: Date | undefined;
}

/** One version of a certificate: the leaf and the chain above it, leaf first. */
export interface CertificateVersion extends VersionedObject {
  /** DER of the leaf. */
  cer: Buffer;
  /** DER of the issuers above the leaf, nearest first. */
  chain: Buffer[];
  /** SHA-1 of the leaf's DER. */
  thumbprint: Buffer;
  contentType: CertificateContentType;
  /** Whether the chain reaches a self-signed root, and which issuer is missing when it does not. */
  chainVerdict: ChainVerdict;
  /** Set when the private CA that issued it revoked it (RFC 5280 reason); absent while it is good. */
  revocation?: { reason: string; revokedAt: Date } | undefined;
}

export type ChainVerdict =
  | { complete: true }
  | {
      complete: false;
      /** The issuer name the chain stops at. */
      missingIssuer: string;
      /** A certificate with that name was given, but its key did not sign the one below it. */
      signatureFails?: true;
    };

export type StoredCertificateVersion = CertificateVersion;
/** A deleted certificate; with its policy where the service reads one, as Key Vault returns it. */
export type DeletedCertificate = DeletedObject<CertificateVersion> & {
  policy?: CertificatePolicy | undefined;
};

export type OperationStatus = "inProgress" | "completed" | "failed" | "cancelled";

/** The pending certificate operation Key Vault keeps per certificate (the latest one). */
export interface CertificateOperation {
  vaultId: string;
  name: string;
  requestId: string;
  status: OperationStatus;
  statusDetails?: string | undefined;
  issuerName: string;
  csr: Buffer;
  cancellationRequested: boolean;
  error?: { code: string; message: string } | undefined;
  policy: CertificatePolicy;
  tags: Record<string, string>;
  /** The version the completed operation produced. */
  targetVersion?: string | undefined;
  /** The `enabled` the create asked for, which the version takes when the operation completes. */
  versionEnabled?: boolean | undefined;
  /** The protector material of the key made for this request, until the request completes. */
  keyMaterial?: Buffer | undefined;
  keyVersion: string;
  createdAt: Date;
  updatedAt: Date;
  /** The approval request a create that the rules hold waits for. */
  approvalId?: string | undefined;
  /** Set once the held create was approved and handed to its issuer. */
  approvalReleased?: boolean | undefined;
}

export interface CertificateIssuer {
  vaultId: string;
  name: string;
  provider: string;
  accountId?: string | undefined;
  /** Sealed; never returned. */
  sealedPassword?: Buffer | undefined;
  organizationId?: string | undefined;
  administrators: { firstName?: string; lastName?: string; email?: string; phone?: string }[];
  enabled: boolean;
  createdAt: Date;
  updatedAt: Date;
}

export interface Contact {
  email?: string | undefined;
  name?: string | undefined;
  phone?: string | undefined;
}
