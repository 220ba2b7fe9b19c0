import type { Page, PageRequest } from "../paging.js";
import type { DeletedSecret, SecretVersion, StoredSecretVersion } from "./model.js";

export interface SecretStore {
  /**
   * Adds a version and makes it the latest, creating the secret on first use. Throws Conflict
   * (ObjectIsDeletedButRecoverable) while a deleted secret of that name awaits recovery or purge.
   */
  addVersion(version: StoredSecretVersion): Promise<void>;
  /** The latest version of a secret that is not deleted. */
  findLatest(vaultId: string, name: string): Promise<StoredSecretVersion | undefined>;
  /** One version of a secret that is not deleted. */
  findVersion(vaultId: string, name: string, version: string): Promise<StoredSecretVersion | undefined>;
  /** Replaces the mutable fields (attributes, content type, tags, updatedAt) of one version. */
  updateVersion(version: SecretVersion): Promise<void>;
  /** The latest version of each live secret, ordered by name. */
  listLatest(vaultId: string, page: PageRequest): Promise<Page<SecretVersion>>;
  /** Every version of one live secret, oldest first. */
  listVersions(vaultId: string, name: string, page: PageRequest): Promise<Page<SecretVersion>>;
  /** Marks a live secret deleted; undefined when there is none. */
  softDelete(
    vaultId: string,
    name: string,
    deletedAt: Date,
    scheduledPurgeAt: Date,
  ): Promise<DeletedSecret | undefined>;
  findDeleted(vaultId: string, name: string): Promise<DeletedSecret | undefined>;
  listDeleted(vaultId: string, page: PageRequest): Promise<Page<DeletedSecret>>;
  /** Brings a deleted secret back; undefined when there was no deleted secret of that name. */
  recover(vaultId: string, name: string): Promise<SecretVersion | undefined>;
  /** Removes a deleted secret and all its versions for good; false when there was none. */
  purge(vaultId: string, name: string): Promise<boolean>;
  /** All versions of a live secret, oldest first, with sealed values, for backup. */
  allVersions(vaultId: string, name: string): Promise<StoredSecretVersion[]>;
  /** Inserts a whole secret from a backup; Conflict when the name exists, live or deleted. */
  restore(versions: StoredSecretVersion[]): Promise<void>;
}
