import type { Tags } from "../tags.js";

export interface SecretAttributes {
  enabled: boolean;
  notBefore?: Date | undefined;
  expiresAt?: Date | undefined;
}

/** One immutable version of a secret; only its attributes, content type and tags may change. */
export interface SecretVersion extends SecretAttributes {
  vaultId: string;
  name: string;
  version: string;
  contentType?: string | undefined;
  tags: Tags;
  /** Set for the secret that backs a certificate; such secrets are changed through the certificate. */
  managed: boolean;
  /** The key backing the same certificate version, for managed secrets. */
  keyId?: string | undefined;
  createdAt: Date;
  updatedAt: Date;
}

/** A version as stored: the value only sealed. */
export interface StoredSecretVersion extends SecretVersion {
  sealedValue: Buffer;
}

export interface DeletedSecret {
  latest: SecretVersion;
  deletedAt: Date;
  scheduledPurgeAt: Date;
}

export interface SecretInput {
  value: string;
  contentType?: string | undefined;
  tags?: Tags | undefined;
  enabled?: boolean | undefined;
  notBefore?: Date | undefined;
  expiresAt?: Date | undefined;
}

export interface SecretUpdate {
  contentType?: string | undefined;
  tags?: Tags | undefined;
  enabled?: boolean | undefined;
  notBefore?: Date | null | undefined;
  expiresAt?: Date | null | undefined;
}

/** Key Vault's limit on a secret value: 25 KiB of UTF-8. */
export const MAX_SECRET_BYTES = 25 * 1024;
export const MAX_CONTENT_TYPE_LENGTH = 255;
