import type { SecretVersion, StoredSecretVersion } from "../domain/secrets/model.js";
import type { SecretStore } from "../domain/secrets/ports.js";
import type { StorageHandle } from "./database.js";
import { createSqlObjectStore, type ObjectCodec } from "./sql-object-store.js";

export const secretCodec: ObjectCodec<SecretVersion, StoredSecretVersion> = {
  noun: "Secret",
  properties: (v) => ({ contentType: v.contentType, keyId: v.keyId }),
  payload: (s) => s.sealedValue,
  fromRow: (common, p) => ({
    ...common,
    contentType: p.contentType as string | undefined,
    keyId: p.keyId as string | undefined,
  }),
  withPayload: (version, sealedValue) => ({ ...version, sealedValue }),
};

export function createSqlSecretStore(storage: StorageHandle): SecretStore {
  return createSqlObjectStore(storage, "secrets", secretCodec);
}
