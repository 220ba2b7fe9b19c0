import type { Tags } from "../tags.js";

/** What every versioned vault object (secret, key, certificate) has, whatever else it holds. */
export interface VersionedObject {
  vaultId: string;
  name: string;
  version: string;
  tags: Tags;
  enabled: boolean;
  notBefore?: Date | undefined;
  expiresAt?: Date | undefined;
  managed: boolean;
  createdAt: Date;
  updatedAt: Date;
}

export interface DeletedObject<V> {
  latest: V;
  deletedAt: Date;
  scheduledPurgeAt: Date;
}

export type Collection = "secrets" | "keys" | "certificates";
