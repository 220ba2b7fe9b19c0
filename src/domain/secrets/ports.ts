import type { VersionedStore } from "../objects/ports.js";
import type { SecretVersion, StoredSecretVersion } from "./model.js";

export interface SecretStore extends VersionedStore<SecretVersion, StoredSecretVersion> {
  /** Removes a deleted secret and all its versions for good; false when there was none. */
  purge(vaultId: string, name: string): Promise<boolean>;
}
