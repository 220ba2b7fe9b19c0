import type { StorageHandle } from "./database.js";
import { createSqlAccessStore } from "./sql-access-store.js";
import { createSqlAcmeStore } from "./sql-acme-store.js";
import { createSqlAuditStore } from "./sql-audit-store.js";
import { createSqlCaStore } from "./sql-ca-store.js";
import { createSqlCertificateStore } from "./sql-certificate-store.js";
import { createSqlEventStore } from "./sql-event-store.js";
import { createSqlInventoryFeed } from "./sql-inventory-feed.js";
import { createSqlInventoryStore } from "./sql-inventory-store.js";
import { createSqlLeaseStore, createSqlNoticeStore, createSqlRenewalStore } from "./sql-job-store.js";
import { createSqlKeyStore } from "./sql-key-store.js";
import { createSqlPrincipalStore } from "./sql-principal-store.js";
import { createSqlSecretStore } from "./sql-secret-store.js";
import { createSqlSessionStore } from "./sql-session-store.js";
import { createSqlSettingsStore } from "./sql-settings-store.js";
import { createSqlSignInFailureStore } from "./sql-sign-in-failure-store.js";
import { createSqlUserStore } from "./sql-user-store.js";
import { createSqlVaultStore } from "./sql-vault-store.js";
import { createSqlWebhookStore } from "./sql-webhook-store.js";

export type SqlStores = ReturnType<typeof createSqlStores>;

/**
 * Every store over one database, built once per process: stores that cache or precompile statements
 * would otherwise hold several copies that do not see each other's writes.
 */
export function createSqlStores(storage: StorageHandle) {
  return {
    settings: createSqlSettingsStore(storage),
    audit: createSqlAuditStore(storage),
    keys: createSqlKeyStore(storage),
    acme: createSqlAcmeStore(storage),
    vaults: createSqlVaultStore(storage),
    principals: createSqlPrincipalStore(storage),
    access: createSqlAccessStore(storage),
    ca: createSqlCaStore(storage),
    secrets: createSqlSecretStore(storage),
    certificates: createSqlCertificateStore(storage),
    webhooks: createSqlWebhookStore(storage),
    events: createSqlEventStore(storage),
    leases: createSqlLeaseStore(storage),
    notices: createSqlNoticeStore(storage),
    renewals: createSqlRenewalStore(storage),
    inventory: createSqlInventoryStore(storage),
    inventoryFeed: createSqlInventoryFeed(storage),
    users: createSqlUserStore(storage),
    sessions: createSqlSessionStore(storage),
    signInFailures: createSqlSignInFailureStore(storage),
  };
}
