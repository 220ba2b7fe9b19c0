import type { VaultEvent } from "../events/model.js";
import type { Page, PageRequest } from "../paging.js";
import type { DeletedObject, VersionedObject } from "./model.js";

/**
 * Named objects with immutable versions, soft delete, recovery and purge: the storage contract that
 * secrets, keys and certificates share. `S` is a version with its sealed payload, `V` without.
 */
export interface VersionedStore<V extends VersionedObject, S extends V> {
  /**
   * Adds a version and makes it the latest, creating the object on first use. Throws Conflict
   * (ObjectIsDeletedButRecoverable) while a deleted object of that name awaits recovery or purge,
   * and Forbidden when a version no certificate manages would go over a certificate's key or secret.
   */
  addVersion(version: S, events?: VaultEvent[]): Promise<void>;
  /** The latest version of an object that is not deleted. */
  findLatest(vaultId: string, name: string): Promise<S | undefined>;
  /** One version of an object that is not deleted. */
  findVersion(vaultId: string, name: string, version: string): Promise<S | undefined>;
  /** Replaces the mutable fields (everything but the payload) of one version. */
  updateVersion(version: V): Promise<void>;
  /** The latest version of each live object, ordered by name. */
  listLatest(vaultId: string, page: PageRequest): Promise<Page<V>>;
  /** Every version of one live object, oldest first. */
  listVersions(vaultId: string, name: string, page: PageRequest): Promise<Page<V>>;
  /** Marks a live object deleted; undefined when there is none. */
  softDelete(
    vaultId: string,
    name: string,
    deletedAt: Date,
    scheduledPurgeAt: Date,
  ): Promise<DeletedObject<V> | undefined>;
  findDeleted(vaultId: string, name: string): Promise<DeletedObject<V> | undefined>;
  listDeleted(vaultId: string, page: PageRequest): Promise<Page<DeletedObject<V>>>;
  /** Brings a deleted object back; undefined when there was no deleted object of that name. */
  recover(vaultId: string, name: string): Promise<V | undefined>;
  /** Removes a deleted object and all its versions; returns their payloads, undefined when there was none. */
  purgeVersions(vaultId: string, name: string): Promise<Buffer[] | undefined>;
  /** All versions of a live object, oldest first, with payloads, for backup. */
  allVersions(vaultId: string, name: string): Promise<S[]>;
  /** Inserts a whole object from a backup; Conflict when the name exists, live or deleted. */
  restore(versions: S[]): Promise<void>;
}
