import type { Clock } from "../clock.js";
import { badParameter, DomainError } from "../errors.js";
import { isObjectName, isVersion, newVersion } from "../ids.js";
import { MAX_PAGE_SIZE, type Page } from "../paging.js";
import type { Sealer } from "../sealing/ports.js";
import { validateTags } from "../tags.js";
import type { Vault } from "../vaults/model.js";
import {
  type DeletedSecret,
  MAX_CONTENT_TYPE_LENGTH,
  MAX_SECRET_BYTES,
  type SecretInput,
  type SecretUpdate,
  type SecretVersion,
  type StoredSecretVersion,
} from "./model.js";
import type { SecretStore } from "./ports.js";

export interface SecretServiceDeps {
  store: SecretStore;
  sealer: Sealer;
  clock: Clock;
}

export type SecretService = ReturnType<typeof createSecretService>;

const DAY_MS = 86_400_000;
const BACKUP_CONTEXT = "backup/secret/v1";

/** Associated data binding a sealed value to its row; names are case-insensitive, as in Key Vault. */
const sealContext = (vaultId: string, name: string, version: string) =>
  `secret/${vaultId}/${name.toLowerCase()}/${version}`;

interface BackupVersion {
  version: string;
  value: string;
  contentType?: string | undefined;
  tags: Record<string, string>;
  enabled: boolean;
  notBefore?: number | undefined;
  expiresAt?: number | undefined;
  createdAt: number;
  updatedAt: number;
}

interface BackupDocument {
  kind: "secret";
  name: string;
  versions: BackupVersion[];
}

export const secretNotFound = (name: string) =>
  new DomainError(
    "NotFound",
    `A secret with (name/id) ${name} was not found in this key vault. If you recently deleted this secret you may be able to recover it using the correct recovery command.`,
    { reason: "SecretNotFound" },
  );

const deletedSecretNotFound = (name: string) =>
  new DomainError("NotFound", `Deleted Secret not found: ${name}`, { reason: "SecretNotFound" });

function checkName(name: string): void {
  if (!isObjectName(name)) {
    throw badParameter(
      `The secret name "${name}" is invalid: use 1-127 characters of letters, digits and '-'`,
    );
  }
}

function checkVersion(version: string): void {
  if (!isVersion(version))
    throw badParameter(`The version "${version}" is not a 32-digit hexadecimal version`);
}

function checkContentType(contentType: string | undefined): void {
  if (contentType !== undefined && contentType.length > MAX_CONTENT_TYPE_LENGTH) {
    throw badParameter(`contentType must be at most ${MAX_CONTENT_TYPE_LENGTH} characters`);
  }
}

function checkValidityWindow(notBefore: Date | undefined | null, expiresAt: Date | undefined | null): void {
  if (notBefore && expiresAt && notBefore.getTime() > expiresAt.getTime()) {
    throw badParameter("attributes.nbf must not be later than attributes.exp");
  }
}

function withoutSealed({ sealedValue: _sealed, ...version }: StoredSecretVersion): SecretVersion {
  return version;
}

export function createSecretService({ store, sealer, clock }: SecretServiceDeps) {
  async function findStored(vault: Vault, name: string, version?: string): Promise<StoredSecretVersion> {
    checkName(name);
    if (version) checkVersion(version);
    const found = version
      ? await store.findVersion(vault.id, name, version)
      : await store.findLatest(vault.id, name);
    if (!found) throw secretNotFound(name);
    return found;
  }

  function pageSize(maxResults: number | undefined): number {
    if (maxResults === undefined) return MAX_PAGE_SIZE;
    if (!Number.isInteger(maxResults) || maxResults < 1 || maxResults > MAX_PAGE_SIZE) {
      throw badParameter(`maxresults must be an integer from 1 to ${MAX_PAGE_SIZE}`);
    }
    return maxResults;
  }

  return {
    async set(vault: Vault, name: string, input: SecretInput): Promise<SecretVersion> {
      checkName(name);
      if (typeof input.value !== "string") throw badParameter("value must be a string");
      const bytes = Buffer.from(input.value, "utf8");
      if (bytes.length > MAX_SECRET_BYTES) {
        throw badParameter(
          `The secret value is ${bytes.length} bytes; the limit is ${MAX_SECRET_BYTES} bytes`,
        );
      }
      checkContentType(input.contentType);
      checkValidityWindow(input.notBefore, input.expiresAt);
      const now = clock.now();
      const version = newVersion();
      const stored: StoredSecretVersion = {
        vaultId: vault.id,
        name,
        version,
        contentType: input.contentType,
        tags: validateTags(input.tags),
        enabled: input.enabled ?? true,
        notBefore: input.notBefore,
        expiresAt: input.expiresAt,
        managed: false,
        createdAt: now,
        updatedAt: now,
        sealedValue: sealer.seal(bytes, sealContext(vault.id, name, version)),
      };
      await store.addVersion(stored);
      return withoutSealed(stored);
    },

    /** The secret and its value; a disabled version's value is refused, as Key Vault does. */
    async get(
      vault: Vault,
      name: string,
      version?: string,
    ): Promise<{ secret: SecretVersion; value: string }> {
      const stored = await findStored(vault, name, version);
      if (!stored.enabled) {
        throw new DomainError("Forbidden", "Operation get is not allowed on a disabled secret.", {
          reason: "SecretDisabled",
        });
      }
      const value = sealer.open(stored.sealedValue, sealContext(vault.id, stored.name, stored.version));
      return { secret: withoutSealed(stored), value: value.toString("utf8") };
    },

    async update(vault: Vault, name: string, version: string | undefined, changes: SecretUpdate) {
      const stored = await findStored(vault, name, version);
      if (stored.managed) {
        throw new DomainError(
          "Forbidden",
          `Secret ${name} backs a certificate; update the certificate instead`,
          { reason: "ManagedSecret" },
        );
      }
      checkContentType(changes.contentType);
      const next: SecretVersion = {
        ...withoutSealed(stored),
        ...(changes.contentType !== undefined && { contentType: changes.contentType }),
        ...(changes.tags !== undefined && { tags: validateTags(changes.tags) }),
        ...(changes.enabled !== undefined && { enabled: changes.enabled }),
        ...(changes.notBefore !== undefined && { notBefore: changes.notBefore ?? undefined }),
        ...(changes.expiresAt !== undefined && { expiresAt: changes.expiresAt ?? undefined }),
        updatedAt: clock.now(),
      };
      checkValidityWindow(next.notBefore, next.expiresAt);
      await store.updateVersion(next);
      return next;
    },

    list(
      vault: Vault,
      after: string | undefined,
      maxResults: number | undefined,
    ): Promise<Page<SecretVersion>> {
      return store.listLatest(vault.id, {
        limit: pageSize(maxResults),
        ...(after !== undefined && { after }),
      });
    },

    async listVersions(
      vault: Vault,
      name: string,
      after: string | undefined,
      maxResults: number | undefined,
    ) {
      checkName(name);
      const limit = pageSize(maxResults);
      const page = await store.listVersions(vault.id, name, { limit, ...(after !== undefined && { after }) });
      if (page.items.length === 0 && after === undefined && !(await store.findLatest(vault.id, name))) {
        throw secretNotFound(name);
      }
      return page;
    },

    async remove(vault: Vault, name: string): Promise<DeletedSecret> {
      checkName(name);
      const now = clock.now();
      const purgeAt = new Date(now.getTime() + vault.softDeleteRetentionDays * DAY_MS);
      const deleted = await store.softDelete(vault.id, name, now, purgeAt);
      if (!deleted) throw secretNotFound(name);
      return deleted;
    },

    async getDeleted(vault: Vault, name: string): Promise<DeletedSecret> {
      checkName(name);
      const deleted = await store.findDeleted(vault.id, name);
      if (!deleted) throw deletedSecretNotFound(name);
      return deleted;
    },

    listDeleted(vault: Vault, after: string | undefined, maxResults: number | undefined) {
      return store.listDeleted(vault.id, {
        limit: pageSize(maxResults),
        ...(after !== undefined && { after }),
      });
    },

    async recover(vault: Vault, name: string): Promise<SecretVersion> {
      checkName(name);
      const recovered = await store.recover(vault.id, name);
      if (!recovered) throw deletedSecretNotFound(name);
      return recovered;
    },

    async purge(vault: Vault, name: string): Promise<void> {
      checkName(name);
      if (vault.purgeProtection) {
        const deleted = await store.findDeleted(vault.id, name);
        if (!deleted) throw deletedSecretNotFound(name);
        throw new DomainError(
          "Forbidden",
          `Operation "purge" is not allowed because purge protection is enabled for this vault. The secret ${name} will be purged automatically after its retention period, on ${deleted.scheduledPurgeAt.toISOString()}.`,
          { reason: "PurgeProtected" },
        );
      }
      if (!(await store.purge(vault.id, name))) throw deletedSecretNotFound(name);
    },

    /** A blob that only an installation holding the same master key can restore. */
    async backup(vault: Vault, name: string): Promise<Buffer> {
      checkName(name);
      const versions = await store.allVersions(vault.id, name);
      const first = versions[0];
      if (!first) throw secretNotFound(name);
      if (first.managed) {
        throw badParameter(`Secret ${name} backs a certificate; back up the certificate instead`);
      }
      const document: BackupDocument = {
        kind: "secret",
        name: first.name,
        versions: versions.map((v) => ({
          version: v.version,
          value: sealer.open(v.sealedValue, sealContext(vault.id, v.name, v.version)).toString("base64"),
          contentType: v.contentType,
          tags: v.tags,
          enabled: v.enabled,
          notBefore: v.notBefore?.getTime(),
          expiresAt: v.expiresAt?.getTime(),
          createdAt: v.createdAt.getTime(),
          updatedAt: v.updatedAt.getTime(),
        })),
      };
      return sealer.seal(Buffer.from(JSON.stringify(document)), BACKUP_CONTEXT);
    },

    async restore(vault: Vault, blob: Uint8Array): Promise<SecretVersion> {
      let document: BackupDocument;
      try {
        document = JSON.parse(sealer.open(blob, BACKUP_CONTEXT).toString("utf8")) as BackupDocument;
      } catch (cause) {
        throw new DomainError(
          "BadParameter",
          "The backup blob is corrupt or was made by an installation with a different master key",
          { cause },
        );
      }
      if (document.kind !== "secret" || document.versions.length === 0) {
        throw badParameter("The backup blob does not hold a secret");
      }
      const versions: StoredSecretVersion[] = document.versions.map((v) => ({
        vaultId: vault.id,
        name: document.name,
        version: v.version,
        contentType: v.contentType,
        tags: v.tags,
        enabled: v.enabled,
        notBefore: v.notBefore === undefined ? undefined : new Date(v.notBefore),
        expiresAt: v.expiresAt === undefined ? undefined : new Date(v.expiresAt),
        managed: false,
        createdAt: new Date(v.createdAt),
        updatedAt: new Date(v.updatedAt),
        sealedValue: sealer.seal(
          Buffer.from(v.value, "base64"),
          sealContext(vault.id, document.name, v.version),
        ),
      }));
      await store.restore(versions);
      const latest = versions[versions.length - 1] as StoredSecretVersion;
      return withoutSealed(latest);
    },
  };
}
