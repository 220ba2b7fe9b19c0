import type { VersionedStore } from "../objects/ports.js";
import type { SecretVersion, StoredSecretVersion } from "./model.js";

export type SecretStore = VersionedStore<SecretVersion, StoredSecretVersion>;
