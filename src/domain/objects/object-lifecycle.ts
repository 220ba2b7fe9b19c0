import type { Clock } from "../clock.js";
import { badParameter, DomainError } from "../errors.js";
import { isObjectName, isVersion } from "../ids.js";
import { type Page, pageLimit } from "../paging.js";
import type { Sealer } from "../sealing/ports.js";
import { validateTags } from "../tags.js";
import type { Vault } from "../vaults/model.js";
import type { DeletedObject, VersionedObject } from "./model.js";
import type { VersionedStore } from "./ports.js";

const DAY_MS = 86_400_000;

/** Refuses a validity window that closes before it opens. */
export function checkValidityWindow(a: {
  notBefore?: Date | null | undefined;
  expiresAt?: Date | null | undefined;
}): void {
  if (a.notBefore && a.expiresAt && a.notBefore.getTime() > a.expiresAt.getTime()) {
    throw badParameter("attributes.nbf must not be later than attributes.exp");
  }
}

/** The attribute changes every collection's update takes: absent keeps a value, null clears a date. */
export interface AttributeChanges {
  tags?: Record<string, string> | undefined;
  enabled?: boolean | undefined;
  notBefore?: Date | null | undefined;
  expiresAt?: Date | null | undefined;
}

/** Applies attribute changes to a version, validated, stamped with `now`. */
export function withAttributeChanges<V extends VersionedObject>(
  version: V,
  changes: AttributeChanges,
  now: Date,
): V {
  const next: V = {
    ...version,
    ...(changes.tags !== undefined && { tags: validateTags(changes.tags) }),
    ...(changes.enabled !== undefined && { enabled: changes.enabled }),
    ...(changes.notBefore !== undefined && { notBefore: changes.notBefore ?? undefined }),
    ...(changes.expiresAt !== undefined && { expiresAt: changes.expiresAt ?? undefined }),
    updatedAt: now,
  };
  checkValidityWindow(next);
  return next;
}

/** Opens a backup blob sealed under `context`, with a message that says why it may not open. */
export function openBackup<T>(sealer: Sealer, context: string, blob: Uint8Array): T {
  try {
    return JSON.parse(sealer.open(blob, context).toString("utf8")) as T;
  } catch (cause) {
    throw new DomainError(
      "BadParameter",
      "The backup blob is corrupt or was made by an installation with a different master key",
      {
        cause,
      },
    );
  }
}

/**
 * A direct change to the key or secret of certificate `name`, which only the certificate may make.
 * Without `operation`: the certificate took the name while the change was being made.
 */
export function managedByCertificate(Noun: string, name: string, operation?: string): DomainError {
  const object = `${Noun.toLowerCase()} ${name}`;
  const refused = operation
    ? `Operation "${operation}" is not allowed on ${object}: its lifetime is managed by certificate ${name}`
    : `A new version cannot be added to ${object}: its lifetime is managed by certificate ${name}, created meanwhile`;
  return new DomainError(
    "Forbidden",
    `${refused}; use the certificates API for certificate ${name} instead.`,
    {
      reason: `${Noun}ManagedByKeyVault`,
    },
  );
}

/** Key Vault's refusal to reuse the name of a deleted object before it is recovered or purged. */
export const deletedButRecoverable = (noun: string, name: string) =>
  new DomainError(
    "Conflict",
    `${noun} ${name} is currently in a deleted but recoverable state, and its name cannot be reused; in this state, the ${noun.toLowerCase()} can only be recovered or purged.`,
    { reason: "ObjectIsDeletedButRecoverable" },
  );

export interface ObjectLifecycleDeps<V extends VersionedObject, S extends V> {
  store: VersionedStore<V, S>;
  clock: Clock;
  /** "secret", "key", "certificate": how messages name the object. */
  noun: string;
  /** Key Vault's not-found code for the collection, e.g. "SecretNotFound". */
  notFoundCode: string;
}

/**
 * What every versioned collection does alike, with Key Vault's messages: names, paging, lookup,
 * soft delete, recovery and the purge-protection refusal.
 */
/** What a purge removed: the object as it was deleted, and the payload of every version. */
export interface Purged<V> {
  deleted: DeletedObject<V>;
  payloads: Buffer[];
}

export function createObjectLifecycle<V extends VersionedObject, S extends V>(
  deps: ObjectLifecycleDeps<V, S>,
) {
  const { store, clock, noun, notFoundCode } = deps;
  const Noun = noun.charAt(0).toUpperCase() + noun.slice(1);

  const notFound = (name: string) =>
    new DomainError(
      "NotFound",
      `A ${noun} with (name/id) ${name} was not found in this key vault. If you recently deleted this ${noun} you may be able to recover it using the correct recovery command.`,
      { reason: notFoundCode },
    );
  const deletedNotFound = (name: string) =>
    new DomainError("NotFound", `Deleted ${Noun} not found: ${name}`, { reason: notFoundCode });

  function checkName(name: string): void {
    if (!isObjectName(name)) {
      throw badParameter(
        `The ${noun} name "${name}" is invalid: use 1-127 characters of letters, digits and '-'`,
      );
    }
  }

  function pageRequest(after: string | undefined, maxResults: number | undefined) {
    return { limit: pageLimit(maxResults), ...(after !== undefined && { after }) };
  }

  async function getDeleted(vault: Vault, name: string): Promise<DeletedObject<V>> {
    checkName(name);
    const deleted = await store.findDeleted(vault.id, name);
    if (!deleted) throw deletedNotFound(name);
    return deleted;
  }

  /** The deleted object, when purging it is allowed; Forbidden while purge protection is on. */
  async function checkPurgeAllowed(vault: Vault, name: string): Promise<DeletedObject<V>> {
    const deleted = await getDeleted(vault, name);
    if (vault.purgeProtection) {
      throw new DomainError(
        "Forbidden",
        `Operation "purge" is not allowed because purge protection is enabled for this vault. The ${noun} ${name} will be purged automatically after its retention period, on ${deleted.scheduledPurgeAt.toISOString()}.`,
        { reason: "PurgeProtected" },
      );
    }
    return deleted;
  }

  /**
   * A certificate's key and secret change only with the certificate, in its transactions: a version
   * made, deleted or purged beside it would leave a certificate without its key or secret, or a key
   * version no certificate manages, which makes every later version of the certificate a conflict.
   * Reading them, and using the key, stays allowed.
   */
  function refuseManaged(version: Pick<VersionedObject, "name" | "managed">, operation: string): void {
    if (version.managed) throw managedByCertificate(Noun, version.name, operation);
  }

  /** The deleted object when its retention has ended; undefined when it is not deleted or not yet due. */
  async function dueForPurge(vault: Vault, name: string): Promise<DeletedObject<V> | undefined> {
    const deleted = await store.findDeleted(vault.id, name);
    return deleted && deleted.scheduledPurgeAt.getTime() <= clock.now().getTime() ? deleted : undefined;
  }

  return {
    notFound,
    deletedNotFound,
    checkName,
    refuseManaged,

    /** Refuses a new version over an object that a certificate manages, before anything is made for it. */
    async refuseIfManaged(vault: Vault, name: string, operation: string): Promise<void> {
      const latest = await store.findLatest(vault.id, name);
      if (latest) refuseManaged(latest, operation);
    },

    /** The latest version, or the named one, of a live object, with its payload. */
    async find(vault: Vault, name: string, version?: string): Promise<S> {
      checkName(name);
      if (version && !isVersion(version))
        throw badParameter(`The version "${version}" is not a 32-digit hexadecimal version`);
      const found = version
        ? await store.findVersion(vault.id, name, version)
        : await store.findLatest(vault.id, name);
      if (!found) throw notFound(name);
      return found;
    },

    list(vault: Vault, after: string | undefined, maxResults: number | undefined): Promise<Page<V>> {
      return store.listLatest(vault.id, pageRequest(after, maxResults));
    },

    async listVersions(
      vault: Vault,
      name: string,
      after: string | undefined,
      maxResults: number | undefined,
    ) {
      checkName(name);
      const page = await store.listVersions(vault.id, name, pageRequest(after, maxResults));
      if (page.items.length === 0 && after === undefined) throw notFound(name);
      return page;
    },

    /** Soft delete: the object stays recoverable for the vault's retention period. */
    async remove(vault: Vault, name: string): Promise<DeletedObject<V>> {
      checkName(name);
      const latest = await store.findLatest(vault.id, name);
      if (!latest) throw notFound(name);
      refuseManaged(latest, "delete");
      const now = clock.now();
      const purgeAt = new Date(now.getTime() + vault.softDeleteRetentionDays * DAY_MS);
      const deleted = await store.softDelete(vault.id, name, now, purgeAt);
      if (!deleted) throw notFound(name);
      return deleted;
    },

    getDeleted,

    listDeleted(vault: Vault, after: string | undefined, maxResults: number | undefined) {
      return store.listDeleted(vault.id, pageRequest(after, maxResults));
    },

    async recover(vault: Vault, name: string): Promise<V> {
      checkName(name);
      const deleted = await store.findDeleted(vault.id, name);
      if (deleted) refuseManaged(deleted.latest, "recover");
      const recovered = await store.recover(vault.id, name);
      if (!recovered) throw deletedNotFound(name);
      return recovered;
    },

    checkPurgeAllowed,

    dueForPurge,

    /**
     * Purges a deleted object whose retention has ended, purge protection or not; undefined when it
     * is not deleted, its time has not come, or a certificate manages it (its purge takes the object).
     */
    async purgeDue(vault: Vault, name: string): Promise<Purged<V> | undefined> {
      const found = await dueForPurge(vault, name);
      const deleted = found?.latest.managed ? undefined : found;
      const payloads = deleted && (await store.purgeVersions(vault.id, name));
      return deleted && payloads ? { deleted, payloads } : undefined;
    },

    /** Removes a deleted object's rows, unless purge protection forbids it. */
    async purge(vault: Vault, name: string): Promise<Purged<V>> {
      const deleted = await checkPurgeAllowed(vault, name);
      refuseManaged(deleted.latest, "purge");
      const payloads = await store.purgeVersions(vault.id, name);
      if (!payloads) throw deletedNotFound(name);
      return { deleted, payloads };
    },
  };
}
