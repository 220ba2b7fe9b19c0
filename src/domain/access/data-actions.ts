/**
 * Azure Key Vault's RBAC data actions for vaults, as listed for the Microsoft.KeyVault resource
 * provider (managed storage accounts left out: Strongroom has none). Role definitions are matched
 * against this list, so a wildcard such as `Microsoft.KeyVault/vaults/*\/read` grants exactly the
 * actions here that it matches.
 */
const V = "Microsoft.KeyVault/vaults";

export const DataActions = {
  secretsGet: `${V}/secrets/getSecret/action`,
  secretsReadMetadata: `${V}/secrets/readMetadata/action`,
  secretsSet: `${V}/secrets/setSecret/action`,
  secretsUpdate: `${V}/secrets/update/action`,
  secretsDelete: `${V}/secrets/delete`,
  secretsRecover: `${V}/secrets/recover/action`,
  secretsBackup: `${V}/secrets/backup/action`,
  secretsRestore: `${V}/secrets/restore/action`,
  secretsPurge: `${V}/secrets/purge/action`,

  keysRead: `${V}/keys/read`,
  keysCreate: `${V}/keys/create/action`,
  keysImport: `${V}/keys/import/action`,
  keysUpdate: `${V}/keys/update/action`,
  keysDelete: `${V}/keys/delete`,
  keysRecover: `${V}/keys/recover/action`,
  keysBackup: `${V}/keys/backup/action`,
  keysRestore: `${V}/keys/restore/action`,
  keysPurge: `${V}/keys/purge/action`,
  keysEncrypt: `${V}/keys/encrypt/action`,
  keysDecrypt: `${V}/keys/decrypt/action`,
  keysWrap: `${V}/keys/wrap/action`,
  keysUnwrap: `${V}/keys/unwrap/action`,
  keysSign: `${V}/keys/sign/action`,
  keysVerify: `${V}/keys/verify/action`,
  keysRelease: `${V}/keys/release/action`,
  keysRotate: `${V}/keys/rotate/action`,
  keyRotationPoliciesRead: `${V}/keyrotationpolicies/read`,
  keyRotationPoliciesWrite: `${V}/keyrotationpolicies/write`,

  certificatesRead: `${V}/certificates/read`,
  certificatesCreate: `${V}/certificates/create/action`,
  certificatesImport: `${V}/certificates/import/action`,
  certificatesUpdate: `${V}/certificates/update/action`,
  certificatesDelete: `${V}/certificates/delete`,
  certificatesRecover: `${V}/certificates/recover/action`,
  certificatesBackup: `${V}/certificates/backup/action`,
  certificatesRestore: `${V}/certificates/restore/action`,
  certificatesPurge: `${V}/certificates/purge/action`,
  certificateIssuersRead: `${V}/certificatecas/read`,
  certificateIssuersWrite: `${V}/certificatecas/write`,
  certificateIssuersDelete: `${V}/certificatecas/delete`,
  /** Key Vault asks the same "manage contacts" right for reading, setting and deleting contacts. */
  certificateContactsWrite: `${V}/certificatecontacts/write`,

  /**
   * Key Vault serves random bytes only from Managed HSM (`managedHsm/rng/action`); Strongroom serves
   * them from vaults too, under the same verb, so only roles with `vaults/*` hold it.
   */
  rng: `${V}/rng/action`,
} as const;

export type DataAction = (typeof DataActions)[keyof typeof DataActions];

export const ALL_DATA_ACTIONS: readonly string[] = Object.values(DataActions);

/** Management actions of Strongroom's own admin API (Azure calls these "actions", not data actions). */
export const AdminActions = {
  read: "Strongroom/admin/read",
  write: "Strongroom/admin/write",
  /** What a discovery agent does: report itself, take its assignments, push their results. */
  discoveryAgent: "Strongroom/discovery/agent",
  /** List and read approval requests (any scope where it is held lets one see them). */
  approvalsRead: "Strongroom/approvals/read",
  /** Approve or deny the approval requests of the scope it is held at. */
  approvalsDecide: "Strongroom/approvals/decide",
  /**
   * Search, verify and export the audit log. Apart from admin/read: the log names every principal's
   * every request, which a Reader of the inventory need not see, and an auditor needs nothing else.
   */
  auditRead: "Strongroom/audit/read",
} as const;

export const ALL_ADMIN_ACTIONS: readonly string[] = Object.values(AdminActions);

/**
 * Access-policy permissions (the `enableRbacAuthorization: false` mode), per collection, as Key
 * Vault names them.
 */
export const POLICY_PERMISSIONS = {
  keys: [
    "get",
    "list",
    "update",
    "create",
    "import",
    "delete",
    "recover",
    "backup",
    "restore",
    "decrypt",
    "encrypt",
    "unwrapkey",
    "wrapkey",
    "verify",
    "sign",
    "purge",
    "release",
    "rotate",
    "getrotationpolicy",
    "setrotationpolicy",
  ],
  secrets: ["get", "list", "set", "delete", "recover", "backup", "restore", "purge"],
  certificates: [
    "get",
    "list",
    "update",
    "create",
    "import",
    "delete",
    "recover",
    "backup",
    "restore",
    "managecontacts",
    "manageissuers",
    "getissuers",
    "listissuers",
    "setissuers",
    "deleteissuers",
    "purge",
  ],
} as const;

export type PolicyCollection = keyof typeof POLICY_PERMISSIONS;

/** What a data-plane route needs: its RBAC data action and, for access-policy vaults, its permission. */
export interface RouteAccess {
  dataAction: DataAction;
  /** `collection/permission`, e.g. `secrets/get`; undefined where only RBAC can grant (rng). */
  permission: `${PolicyCollection}/${string}` | undefined;
}
