export type VaultSku = "standard" | "premium";

export interface Vault {
  id: string;
  name: string;
  sku: VaultSku;
  /** 7-90; how long a deleted object stays recoverable before it is purged. */
  softDeleteRetentionDays: number;
  /** Once on it can never be turned off: deleted objects then live out their retention. */
  purgeProtection: boolean;
  /** Refuse certificate imports whose chain does not reach a self-signed root. */
  requireCompleteChain: boolean;
  /** How long before expiry a NearExpiry event is raised for the vault's objects. */
  nearExpiryDays: number;
  createdAt: Date;
  updatedAt: Date;
}

export interface VaultSettings {
  sku: VaultSku;
  softDeleteRetentionDays: number;
  purgeProtection: boolean;
  requireCompleteChain: boolean;
  nearExpiryDays: number;
}

export const DEFAULT_VAULT_SETTINGS: VaultSettings = Object.freeze({
  sku: "standard",
  softDeleteRetentionDays: 90,
  purgeProtection: false,
  requireCompleteChain: false,
  nearExpiryDays: 30,
});

/** Key Vault's recoveryLevel for objects in a vault with these settings. */
export function recoveryLevel(vault: Pick<Vault, "softDeleteRetentionDays" | "purgeProtection">): string {
  const base = vault.softDeleteRetentionDays < 90 ? "CustomizedRecoverable" : "Recoverable";
  return vault.purgeProtection ? base : `${base}+Purgeable`;
}
