import type { DeletedObject, VersionedObject } from "../objects/model.js";
import type { Tags } from "../tags.js";

/**
 * One immutable version of a secret; only its attributes, content type and tags may change. A
 * `managed` secret backs a certificate and is changed through the certificate.
 */
export interface SecretVersion extends VersionedObject {
  contentType?: string | undefined;
  /** The key backing the same certificate version, for managed secrets. */
  keyId?: string | undefined;
}

/** A version as stored: the value only sealed. */
export interface StoredSecretVersion extends SecretVersion {
  sealedValue: Buffer;
}

export type DeletedSecret = DeletedObject<SecretVersion>;

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
