import type {
  CurveName,
  KeyKind,
  KeyOperation,
  KeyVersion,
  Protection,
  PublicKeyParts,
  RotationPolicy,
  StoredKeyVersion,
} from "../domain/keys/model.js";
import type { KeyStore } from "../domain/keys/ports.js";
import type { StorageHandle } from "./database.js";
import { createSqlObjectPolicies, createSqlObjectStore, type ObjectCodec } from "./sql-object-store.js";

interface StoredPolicy extends Omit<RotationPolicy, "createdAt" | "updatedAt"> {
  createdAt?: number;
  updatedAt?: number;
}

export const keyCodec: ObjectCodec<KeyVersion, StoredKeyVersion> = {
  noun: "Key",
  properties: (v) => ({
    kind: v.kind,
    protection: v.protection,
    keySize: v.keySize,
    curve: v.curve,
    keyOps: v.keyOps,
    publicKey: v.publicKey,
    exportable: v.exportable,
  }),
  payload: (s) => s.material,
  fromRow: (common, p) => ({
    ...common,
    kind: p.kind as KeyKind,
    protection: p.protection as Protection,
    keySize: p.keySize as number | undefined,
    curve: p.curve as CurveName | undefined,
    keyOps: p.keyOps as KeyOperation[],
    publicKey: p.publicKey as PublicKeyParts,
    exportable: Boolean(p.exportable),
  }),
  withPayload: (version, material) => ({ ...version, material }),
};

export function createSqlKeyStore(storage: StorageHandle): KeyStore {
  const store = createSqlObjectStore(storage, "keys", keyCodec);
  const policies = createSqlObjectPolicies(storage, "keys");
  return {
    ...store,
    async getRotationPolicy(vaultId, name) {
      const stored = await policies.get<StoredPolicy>(vaultId, name);
      if (!stored) return undefined;
      return {
        ...stored,
        createdAt: stored.createdAt === undefined ? undefined : new Date(stored.createdAt),
        updatedAt: stored.updatedAt === undefined ? undefined : new Date(stored.updatedAt),
      };
    },
    async countHsmKeys(vaultId) {
      const rows = await storage.db
        .selectFrom("object_versions")
        .select(["name_key", "properties"])
        .where("vault_id", "=", vaultId)
        .where("collection", "=", "keys")
        .execute();
      const hsm = rows.filter(
        (r) => (JSON.parse(r.properties) as { protection?: string }).protection === "hsm",
      );
      return new Set(hsm.map((r) => r.name_key)).size;
    },
    async putRotationPolicy(vaultId, name, policy) {
      await policies.put(vaultId, name, {
        ...policy,
        createdAt: policy.createdAt?.getTime(),
        updatedAt: policy.updatedAt?.getTime(),
      });
    },
  };
}
