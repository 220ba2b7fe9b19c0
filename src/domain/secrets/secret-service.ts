import type { Clock } from "../clock.js";
import { badParameter, DomainError } from "../errors.js";
import { newVersionEvent } from "../events/model.js";
import { newVersion } from "../ids.js";
import {
  checkValidityWindow,
  createObjectLifecycle,
  openBackup,
  withAttributeChanges,
} from "../objects/object-lifecycle.js";
import type { Sealer } from "../sealing/ports.js";
import { validateTags } from "../tags.js";
import type { Vault } from "../vaults/model.js";
import {
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

const BACKUP_CONTEXT = "backup/secret/v1";

/** Associated data binding a sealed value to its row; names are case-insensitive, as in Key Vault. */
export const sealContext = (vaultId: string, name: string, version: string) =>
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

function checkContentType(contentType: string | undefined): void {
  if (contentType !== undefined && contentType.length > MAX_CONTENT_TYPE_LENGTH) {
    throw badParameter(`contentType must be at most ${MAX_CONTENT_TYPE_LENGTH} characters`);
  }
}

function withoutSealed({ sealedValue: _sealed, ...version }: StoredSecretVersion): SecretVersion {
  return version;
}

export function createSecretService({ store, sealer, clock }: SecretServiceDeps) {
  const objects = createObjectLifecycle({ store, clock, noun: "secret", notFoundCode: "SecretNotFound" });
  const findStored = objects.find;

  return {
    async set(vault: Vault, name: string, input: SecretInput): Promise<SecretVersion> {
      objects.checkName(name);
      if (typeof input.value !== "string") throw badParameter("value must be a string");
      const bytes = Buffer.from(input.value, "utf8");
      if (bytes.length > MAX_SECRET_BYTES) {
        throw badParameter(
          `The secret value is ${bytes.length} bytes; the limit is ${MAX_SECRET_BYTES} bytes`,
        );
      }
      checkContentType(input.contentType);
      checkValidityWindow(input);
      await objects.refuseIfManaged(vault, name, "set");
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
      await store.addVersion(stored, [newVersionEvent(vault, "secrets", stored, now)]);
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
      objects.refuseManaged(stored, "update");
      checkContentType(changes.contentType);
      const next = withAttributeChanges(
        {
          ...withoutSealed(stored),
          ...(changes.contentType !== undefined && { contentType: changes.contentType }),
        },
        changes,
        clock.now(),
      );
      await store.updateVersion(next);
      return next;
    },

    list: objects.list,
    listVersions: objects.listVersions,
    remove: objects.remove,
    getDeleted: objects.getDeleted,
    listDeleted: objects.listDeleted,
    recover: objects.recover,

    async purge(vault: Vault, name: string): Promise<void> {
      await objects.purge(vault, name);
    },

    /** Purges a secret whose retention has ended; false when there was none due. */
    async purgeDue(vault: Vault, name: string): Promise<boolean> {
      return (await objects.purgeDue(vault, name)) !== undefined;
    },

    /** A blob that only an installation holding the same master key can restore. */
    async backup(vault: Vault, name: string): Promise<Buffer> {
      objects.checkName(name);
      const versions = await store.allVersions(vault.id, name);
      const first = versions[0];
      if (!first) throw objects.notFound(name);
      objects.refuseManaged(first, "backup");
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
      const document = openBackup<BackupDocument>(sealer, BACKUP_CONTEXT, blob);
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
