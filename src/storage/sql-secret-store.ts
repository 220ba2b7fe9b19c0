import type { SecretVersion, StoredSecretVersion } from "../domain/secrets/model.js";
import type { SecretStore } from "../domain/secrets/ports.js";
import type { StorageHandle } from "./database.js";
import { createSqlObjectStore } from "./sql-object-store.js";

export function createSqlSecretStore(storage: StorageHandle): SecretStore {
  return createSqlObjectStore<SecretVersion, StoredSecretVersion>(storage, "secrets", {
    noun: "Secret",
    properties: (v) => ({ contentType: v.contentType, keyId: v.keyId }),
    payload: (s) => s.sealedValue,
    fromRow: (common, p) => ({
      ...common,
      contentType: p.contentType as string | undefined,
      keyId: p.keyId as string | undefined,
    }),
    withPayload: (version, sealedValue) => ({ ...version, sealedValue }),
  });
}
