import { randomBytes } from "node:crypto";
import { mkdirSync, readFileSync } from "node:fs";
import type { Server as HttpServer } from "node:http";
import type { Server as HttpsServer } from "node:https";
import { hostname } from "node:os";
import { join } from "node:path";
import type { FastifyInstance } from "fastify";
import { sql } from "kysely";
import pino, { type Logger } from "pino";
import {
  type Config,
  ConfigError,
  databaseUrl,
  gradingThreadCount,
  listenFailure,
  workerCount,
} from "./config/config.js";
import { createAcmeJws, csrKeyFacts } from "./crypto/acme-jws.js";
import { createAesGcmSealer } from "./crypto/aes-gcm-sealer.js";
import { createCaKeys } from "./crypto/ca-keys.js";
import { createCaX509, ocspStatusOnly } from "./crypto/ca-x509.js";
import { createCertificateBundleCodec } from "./crypto/certificate-bundle-codec.js";
import { createCertificateDnsNames } from "./crypto/certificate-dns-names.js";
import { createCertificateFactsReader } from "./crypto/certificate-facts-reader.js";
import { startCryptoPool } from "./crypto/crypto-pool.js";
import { createEd25519AuditSigner, newSealedAuditKey } from "./crypto/ed25519-audit-signer.js";
import { createEnrollmentCrypto } from "./crypto/enrollment-crypto.js";
import { auditChainKey, createHmacAuditChain } from "./crypto/hmac-audit-chain.js";
import { createHmacSessionTokens } from "./crypto/hmac-session-tokens.js";
import { createJoseAssertionVerifier } from "./crypto/jose-assertion-verifier.js";
import { createJoseOpenIdProvider } from "./crypto/jose-openid-provider.js";
import { createJwtTokenSigner, generateTokenSigningKey } from "./crypto/jwt-token-signer.js";
import { loadMasterKey } from "./crypto/master-key.js";
import { fromPem } from "./crypto/pem.js";
import { certsOnly } from "./crypto/pkcs7-certs.js";
import type { createPkcs11KeyProtector } from "./crypto/pkcs11-key-protector.js";
import { createPublicKeyCrypto } from "./crypto/public-key-crypto.js";
import { createScepCodec } from "./crypto/scep-codec.js";
import { createScryptSecretHasher } from "./crypto/scrypt-secret-hasher.js";
import { createSoftwareKeyProtector, WORKER_POOL_SIGNATURES } from "./crypto/software-key-protector.js";
import { ensureBootstrapTls } from "./crypto/tls-bootstrap.js";
import { createX509CertificateInspector } from "./crypto/x509-certificate-inspector.js";
import { createX509Factory } from "./crypto/x509-factory.js";
import { createAzureKeyVaultConnector } from "./discovery/azure-key-vault-connector.js";
import { type AccessService, createAccessService } from "./domain/access/access-service.js";
import { createIdentityService } from "./domain/access/identity-service.js";
import { createPrincipalService, type PrincipalService } from "./domain/access/principal-service.js";
import { type AcmeSettingsService, createAcmeSettingsService } from "./domain/acme/acme-settings-service.js";
import {
  type AcmeProfileService,
  createAcmeProfileService,
} from "./domain/acme-server/acme-profile-service.js";
import { type AcmeServerService, createAcmeServerService } from "./domain/acme-server/acme-server-service.js";
import { type AlertService, createAlertService } from "./domain/alerts/alert-service.js";
import {
  agentSilentSource,
  changedSource,
  deliveryFailedSource,
  expirySource,
  findingsSource,
  renewalFailedSource,
} from "./domain/alerts/conditions.js";
import { expiryThresholds } from "./domain/alerts/expiry-thresholds.js";
import { FINDING_ALERT_KINDS } from "./domain/alerts/model.js";
import {
  type ApprovalGate,
  type ApprovalService,
  createApprovalService,
} from "./domain/approvals/approval-service.js";
import { type AuditService, createAuditService } from "./domain/audit/audit-service.js";
import type { AuditSigner } from "./domain/audit/ports.js";
import { type BootstrapService, createBootstrapService } from "./domain/bootstrap/bootstrap-service.js";
import type { AdminCredentials } from "./domain/bootstrap/model.js";
import { type CaService, createCaService } from "./domain/ca/ca-service.js";
import { type CrlService, createCrlService } from "./domain/ca/crl-service.js";
import { createOcspResponder, type OcspResponder } from "./domain/ca/ocsp-responder.js";
import { type CampaignService, createCampaignService } from "./domain/campaigns/campaign-service.js";
import {
  type CertificateService,
  createCertificateService,
} from "./domain/certificates/certificate-service.js";
import { type ContactsService, createContactsService } from "./domain/certificates/contacts-service.js";
import { createIssuerService, type IssuerService } from "./domain/certificates/issuer-service.js";
import { createSecretFormats, type SecretFormats } from "./domain/certificates/secret-formats.js";
import { type Clock, systemClock } from "./domain/clock.js";
import { createDeploymentService, type DeploymentService } from "./domain/deployments/deployment-service.js";
import { createPushTargetService, type PushTargetService } from "./domain/deployments/push-target-service.js";
import { createVersionWatch } from "./domain/deployments/version-watch.js";
import { createDiscoveryService, type DiscoveryService } from "./domain/discovery/discovery-service.js";
import { createEnrollmentService, type EnrollmentService } from "./domain/enrollment/enrollment-service.js";
import { createProfileService, type ProfileService } from "./domain/enrollment/profile-service.js";
import type { Mailer } from "./domain/events/ports.js";
import { createSmtpService, type SmtpService } from "./domain/events/smtp-service.js";
import { createWebhookService, type WebhookService } from "./domain/events/webhook-service.js";
import { newId } from "./domain/ids.js";
import { createInventoryService, type InventoryService } from "./domain/inventory/inventory-service.js";
import type { IssuerAdapter } from "./domain/issuance/ports.js";
import type { Job } from "./domain/jobs/ports.js";
import { createKeyService, type KeyService } from "./domain/keys/key-service.js";
import { noPeers, type Peers } from "./domain/peers.js";
import {
  createRemoteVaultService,
  type RemoteVaultService,
} from "./domain/remote-vaults/remote-vault-service.js";
import { createOverviewService, type OverviewService } from "./domain/reports/overview-service.js";
import { createPostureService, type PostureService } from "./domain/reports/posture-service.js";
import { createGradingService, type GradingService } from "./domain/rules/grading-service.js";
import type { IssuanceGate } from "./domain/rules/issuance-gate.js";
import type { FindingStore } from "./domain/rules/ports.js";
import { createRulesService, type RulesService } from "./domain/rules/rules-service.js";
import type { Sealer } from "./domain/sealing/ports.js";
import { createSecretService, type SecretService } from "./domain/secrets/secret-service.js";
import { createSignInService } from "./domain/sign-in/sign-in-service.js";
import { createSingleSignOn } from "./domain/sign-in/single-sign-on.js";
import { createUserService, type UserService } from "./domain/sign-in/user-service.js";
import { createVaultService, type VaultService } from "./domain/vaults/vault-service.js";
import type { ChallengeResponder } from "./http/acme-challenge/challenge-responder.js";
import { createOcspHandler } from "./http/pki/ocsp-handler.js";
import { listenPlain } from "./http/pki/pki-server.js";
import { pkiUrls } from "./http/pki/pki-urls.js";
import { type Listening, listenTls } from "./http/server.js";
import { loadUiAssets } from "./http/ui/ui-assets.js";
import { createHttp } from "./issuers/acme/acme-http.js";
import { type AcmeIssuerAdapter, createAcmeIssuerAdapter } from "./issuers/acme/acme-issuer-adapter.js";
import { createPrivateCaIssuer, PRIVATE_CA_PROVIDER } from "./issuers/private-ca-issuer.js";
import { createAcmeUpkeepJob } from "./jobs/acme-upkeep-job.js";
import { type AcmeValidationJob, createAcmeValidationJob } from "./jobs/acme-validation-job.js";
import { createAlertDigestJob } from "./jobs/alert-digest-job.js";
import { createAlertJob } from "./jobs/alert-job.js";
import { createApprovalExpiryJob } from "./jobs/approval-expiry-job.js";
import { createAuditCheckpointJob } from "./jobs/audit-checkpoint-job.js";
import { createAuditRetentionJob } from "./jobs/audit-retention-job.js";
import { createCampaignJob } from "./jobs/campaign-job.js";
import { createCrlJob } from "./jobs/crl-job.js";
import { createDiscoveryJob } from "./jobs/discovery-job.js";
import { createExpiryNoticeJob } from "./jobs/expiry-notice-job.js";
import { createGradingJob } from "./jobs/grading-job.js";
import { startGradingThreads } from "./jobs/grading-threads.js";
import { createInventoryJob } from "./jobs/inventory-job.js";
import { createKeyRotationJob } from "./jobs/key-rotation-job.js";
import { createMailJob } from "./jobs/mail-job.js";
import { createPendingIssuanceJob } from "./jobs/pending-issuance-job.js";
import { createPurgeJob } from "./jobs/purge-job.js";
import { createPushTargetJob } from "./jobs/push-target-job.js";
import { createRemoteVaultSyncJob } from "./jobs/remote-vault-sync-job.js";
import { createRenewalJob } from "./jobs/renewal-job.js";
import { createScheduler, type Scheduler } from "./jobs/scheduler.js";
import { createWebhookDeliveryJob } from "./jobs/webhook-delivery-job.js";
import {
  fileCheckpointSink,
  syslogCheckpointSink,
  webhookCheckpointSink,
} from "./notify/checkpoint-sinks.js";
import { createSmtpMailer } from "./notify/smtp-mailer.js";
import { createWebhookSender } from "./notify/webhook-sender.js";
import { createFetchTransport } from "./notify/webhook-transport.js";
import { createAdminCredentialsFile } from "./storage/admin-credentials-file.js";
import { archiveAuditRows } from "./storage/audit-archive-file.js";
import { createChangeAudit } from "./storage/change-audit.js";
import { migrate, openDatabase, type StorageHandle } from "./storage/database.js";
import { databaseAdvice } from "./storage/postgres-advice.js";
import { createSqlAcmeServerStore } from "./storage/sql-acme-server-store.js";
import { createSqlAlertFacts } from "./storage/sql-alert-facts.js";
import { createSqlAlertStore } from "./storage/sql-alert-store.js";
import { createSqlApprovalStore } from "./storage/sql-approval-store.js";
import { createSqlCampaignStore } from "./storage/sql-campaign-store.js";
import { createSqlDeploymentStore } from "./storage/sql-deployment-store.js";
import { createSqlDiscoveryStore } from "./storage/sql-discovery-store.js";
import { createSqlEnrollmentStore } from "./storage/sql-enrollment-store.js";
import { violationsByRule } from "./storage/sql-findings.js";
import { createSqlGradingStore } from "./storage/sql-grading-store.js";
import { findPendingIssuance } from "./storage/sql-issuance-store.js";
import { findDuePurges, findRotationCandidates } from "./storage/sql-job-store.js";
import { createSqlRemoteVaultStore } from "./storage/sql-remote-vault-store.js";
import { createSqlRuleStore } from "./storage/sql-rule-store.js";
import { createSqlStores, type SqlStores } from "./storage/sql-stores.js";
import { createAcmeChallengeValidator } from "./validation/acme-challenge-validator.js";

export type { AdminCredentials } from "./domain/bootstrap/model.js";

export interface Core {
  config: Config;
  storage: StorageHandle;
  /** Every store, built once: services, jobs and listeners share them. */
  stores: SqlStores;
  sealer: Sealer;
  clock: Clock;
  vaults: VaultService;
  secrets: SecretService;
  keys: KeyService;
  certificates: CertificateService;
  issuers: IssuerService;
  contacts: ContactsService;
  /** Certificates' secrets as files and in other formats (Key Vault's outContentType, CLI downloads). */
  secretFormats: SecretFormats;
  webhooks: WebhookService;
  audit: AuditService;
  /** Signs audit checkpoints with the installation's key. */
  auditSigner: AuditSigner;
  principals: PrincipalService;
  access: AccessService;
  /** Local users of the dashboard (principals of kind user with a password). */
  users: UserService;
  /** ACME settings of issuers (admin API, CLI). */
  acme: AcmeSettingsService;
  acmeIssuer: AcmeIssuerAdapter;
  ca: CaService;
  /** ACME server profiles and their EAB keys (CLI). */
  acmeProfiles: AcmeProfileService;
  /** The ACME server (RFC 8555) on the private CA. */
  acmeServer: AcmeServerService;
  /** Validates the ACME server's challenges; kicked by challenge POSTs, scheduled for leftovers. */
  acmeValidation: AcmeValidationJob;
  /** CRLs and OCSP responder certificates of the CAs. */
  crls: CrlService;
  ocsp: OcspResponder;
  /** What a first start creates and every start checks (default vault, token key, administrator). */
  bootstrap: BootstrapService;
  /**
   * The certificate inventory; also the ObservationSink (`observe`/`forget`) every discovery source
   * reports into.
   */
  inventory: InventoryService;
  /** Network and file discovery: scan runs, schedules, agents. */
  discovery: DiscoveryService;
  /** Agent syncs as their agents report them. */
  deployments: DeploymentService;
  /** Server-side deliveries: new versions imported into other Key Vaults. */
  pushTargets: PushTargetService;
  /** Remote vaults (Azure Key Vault, another Strongroom) read into the inventory. */
  remoteVaults: RemoteVaultService;
  /** Organisation rules: the issuance gate every entry point asks, and their admin. */
  rules: RulesService;
  /** Grades the inventory against the rules and the built-in findings. */
  grading: GradingService;
  /** The findings grading stored, for alerts, reports and the admin API. */
  findings: FindingStore;
  /** Alerts over the inventory, renewals and agents; their changes go out as events. */
  alerts: AlertService;
  /** Requests the rules hold until enough approvers agree. */
  approvals: ApprovalService;
  /** Posture reports over the inventory. */
  posture: PostureService;
  /** The dashboard's overview figures. */
  overview: OverviewService;
  /** EST and SCEP profiles of the private CA, and SCEP challenge passwords. */
  enrollmentProfiles: ProfileService;
  /** Re-issuance campaigns over inventory queries; the campaign job runs them. */
  campaigns: CampaignService;
  /** Issuance for EST and SCEP clients. */
  enrollment: EnrollmentService;
  /** Mail to contacts and approvers, when an SMTP host is configured. */
  mailer?: Mailer | undefined;
  /** The SMTP settings without the password, and test mails (admin API). */
  smtp: SmtpService;
  /** The PKI listener's public base URL; set once the listener knows its port when none is configured. */
  pkiBase: { url: string };
  tenantId: string;
  close(): Promise<void>;
}

/** Storage, sealing and the domain services: what both the server and the CLI need. */
/**
 * `peers` are the other workers of the same server (see src/cluster): changes made here are announced
 * to them so their caches drop at once. One-off commands have none.
 */
export async function openCore(
  config: Config,
  clock: Clock = systemClock,
  peers: Peers = noPeers,
  /** Replaces the organisation rules' gate at the ACME, EST and SCEP servers (tests). */
  gate?: IssuanceGate,
): Promise<Core> {
  mkdirSync(config.dataDir, { recursive: true, mode: 0o700 });
  const { key: masterKey } = loadMasterKey(join(config.dataDir, "master.key"), config.masterKey);
  const storage = openDatabase(databaseUrl(config));
  try {
    await migrate(storage);
  } catch (error) {
    await storage.close();
    throw error;
  }
  const sealer = createAesGcmSealer(masterKey);
  const stores = createSqlStores(storage);
  const settings = stores.settings;
  const tenantId = (await settings.putIfAbsent("tenant-id", newId())).value;
  const auditChain = createHmacAuditChain(masterKey);
  const audit = createAuditService({ store: stores.audit, chain: auditChain });
  await audit.keyHead();
  storage.changeAudit = createChangeAudit({ engine: storage.engine, audit, chain: auditChain });
  const auditKey = await settings.putIfAbsent(
    "audit-signing-key",
    "Ed25519 PKCS#8, sealed",
    newSealedAuditKey(sealer),
  );
  if (!auditKey.sealed) throw new Error("The audit signing key setting holds no sealed key");
  const auditSigner = createEd25519AuditSigner(sealer, auditKey.sealed);
  let hsm: ReturnType<typeof createPkcs11KeyProtector> | undefined;
  try {
    // graphene-pk11 loads only where an HSM is configured.
    hsm = config.pkcs11Module
      ? (await import("./crypto/pkcs11-key-protector.js")).createPkcs11KeyProtector({
          module: config.pkcs11Module,
          tokenLabel: config.pkcs11TokenLabel,
          slot: config.pkcs11Slot,
          pin: config.pkcs11Pin,
          pinFile: config.pkcs11PinFile,
        })
      : undefined;
  } catch (error) {
    await storage.close();
    // A wrong module path, slot or PIN is a setting to fix: the CLI prints the message, not a stack.
    throw new ConfigError((error as Error).message, { cause: error });
  }
  // New keys and PKCS#12 secrets (a campaign makes thousands a minute) are made beside the event loop.
  const cryptoPool = startCryptoPool();
  const software = createSoftwareKeyProtector(sealer, {
    ...(workerCount(config) > 1 && { poolSignatures: WORKER_POOL_SIGNATURES }),
    pool: cryptoPool,
  });
  const keys = createKeyService({
    store: stores.keys,
    software,
    hsm,
    publicCrypto: createPublicKeyCrypto(),
    sealer,
    clock,
  });
  const ruleStore = createSqlRuleStore(storage);
  const rules = createRulesService({
    store: ruleStore,
    clock,
    vaultByName: (name) => vaults.get(name),
    caByName: (name) => ca.get(name),
  });
  const serverGate = gate ?? rules.gate;
  const acmeIssuer = createAcmeIssuerAdapter({
    store: stores.acme,
    sealer,
    http: createHttp({ ca: config.acmeCaFile && readFileSync(config.acmeCaFile, "utf8") }),
    clock,
    gate: rules.gate,
  });
  const vaults = createVaultService({
    store: stores.vaults,
    clock,
    removalGuards: [(vault) => keys.hsmKeysBlockingRemoval(vault)],
    peers,
  });
  const access = createAccessService({
    store: stores.access,
    principals: stores.principals,
    clock,
    cacheMs: config.accessCacheMs,
    peers,
  });
  const principals = createPrincipalService({
    store: stores.principals,
    hasher: createScryptSecretHasher(),
    inspector: createX509CertificateInspector(),
    clock,
    onChange: access.invalidate,
  });
  const bootstrap = createBootstrapService({
    settings: stores.settings,
    principals,
    access,
    vaults,
    sealer,
    credentialsFile: createAdminCredentialsFile(join(config.dataDir, "admin.json")),
    generateTokenKey: generateTokenSigningKey,
  });
  // A command beside a running server uses the URL that server recorded unless told otherwise.
  const pkiBase = {
    url:
      config.pkiBaseUrl ?? (await bootstrap.pkiBaseUrl()) ?? `http://${config.publicHost}:${config.pkiPort}`,
  };
  const caX509 = createCaX509();
  const caKeys = createCaKeys({ software, hsm });
  const urls = pkiUrls(() => pkiBase.url);
  const crls = createCrlService({ store: stores.ca, keys: caKeys, x509: caX509, clock, urls });
  const approvals = createApprovalService({
    store: createSqlApprovalStore(storage),
    clock,
    expiresAfterMs: config.approvalExpiryMs,
    names: {
      vault: async (id) => (await vaults.list()).find((v) => v.id === id),
      ca: (id) => stores.ca.getAuthority(id),
    },
  });
  // One gate for every entry point that holds requests for approval: the service, and the rules.
  const approvalGate: { service: ApprovalService; requirements: ApprovalGate["requirements"] } = {
    service: approvals,
    requirements: (entry, scope) => rules.approvalRequirements(entry, scope),
  };
  const ca = createCaService({
    store: stores.ca,
    keys: caKeys,
    x509: caX509,
    clock,
    urls,
    crls,
    gate: rules.gate,
    approval: approvalGate,
  });
  const ocsp = createOcspResponder({ ca, crls, store: stores.ca, x509: caX509, clock, peers });
  const privateCa = createPrivateCaIssuer({ ca, clock });
  const acmeServerStore = createSqlAcmeServerStore(storage);
  const acmeValidation: AcmeValidationJob = createAcmeValidationJob({
    acme: {
      validatePending: (limit) => acmeServer.validatePending(limit),
      validate: (challenge, outcome) => acmeServer.validate(challenge, outcome),
    },
    store: acmeServerStore,
    clock,
    audit,
    onError: (error) => console.error("ACME challenge validation failed", error),
  });
  const acmeServer: AcmeServerService = createAcmeServerService({
    store: acmeServerStore,
    jws: createAcmeJws(),
    sealer,
    clock,
    ca,
    x509: caX509,
    keyFacts: csrKeyFacts,
    validator: createAcmeChallengeValidator({
      httpPort: config.acmeValidationHttpPort,
      tlsPort: config.acmeValidationTlsPort,
      resolver: config.acmeValidationResolver,
    }),
    gate: serverGate,
    nonceKey: sealedSettingKey(stores.settings, sealer, "acme-server-nonce-key"),
    queued: (challenge, outcome) => acmeValidation.kick(challenge, outcome),
    approval: approvalGate,
  });
  const enrollmentStore = createSqlEnrollmentStore(storage);
  const enrollmentCrypto = createEnrollmentCrypto();
  const secrets = createSecretService({ store: stores.secrets, sealer, clock });
  const codec = createCertificateBundleCodec(cryptoPool);
  const factsReader = createCertificateFactsReader();
  const inventory = createInventoryService({ store: stores.inventory, reader: factsReader, clock });
  const gradingStore = createSqlGradingStore(storage);
  // Read once: a root added to the bundle takes effect at the next start, like the TLS settings.
  const bundle = config.trustBundleFile ? fromPem(readFileSync(config.trustBundleFile, "utf8")) : [];
  const gradingThreads = gradingThreadCount(config);
  const gradingPool =
    gradingThreads > 1
      ? startGradingThreads(databaseUrl(config), gradingThreads, auditChainKey(masterKey))
      : undefined;
  const grading = createGradingService({
    store: gradingStore,
    threads: gradingPool,
    rules: ruleStore,
    anchors: async () => [
      ...bundle.map((der) => factsReader.read(der)),
      ...(await ca.list()).flatMap((c) => (c.certificate ? [factsReader.read(c.certificate)] : [])),
    ],
    vaultIds: async () => new Map((await vaults.list()).map((v) => [v.name.toLowerCase(), v.id])),
    caIds: async () => new Map((await ca.list()).map((c) => [c.name.toLowerCase(), c.id])),
    clock,
  });
  const remoteVaults = createRemoteVaultService({
    store: createSqlRemoteVaultStore(storage),
    connectors: [createAzureKeyVaultConnector()],
    sink: inventory,
    sealer,
    clock,
  });
  const deploymentStore = createSqlDeploymentStore(storage);
  const discovery = createDiscoveryService({
    store: createSqlDiscoveryStore(storage),
    sink: inventory,
    names: createCertificateDnsNames(),
    principals,
    access,
    clock,
    limits: { maxAddresses: config.discoveryMaxAddresses },
  });
  const openViolations = () => violationsByRule(storage.db);
  const smtp = config.smtpHost
    ? {
        mailer: createSmtpMailer({
          host: config.smtpHost,
          port: config.smtpPort,
          secure: config.smtpSecure,
          user: config.smtpUser,
          password: config.smtpPassword,
          from: config.smtpFrom,
          timeoutMs: config.smtpTimeoutMs,
        }),
        summary: {
          host: config.smtpHost,
          port: config.smtpPort,
          secure: config.smtpSecure,
          user: config.smtpUser,
          from: config.smtpFrom,
          passwordSet: config.smtpPassword !== undefined,
        },
      }
    : undefined;
  const alerts = createAlertService({
    store: createSqlAlertStore(storage),
    sources: (() => {
      const facts = createSqlAlertFacts(storage);
      return [
        expirySource(facts, async () => expiryThresholds(await ruleStore.list(), config.alertExpiringDays)),
        changedSource(facts, config.alertChangedWindowMs),
        renewalFailedSource(facts),
        agentSilentSource(facts, config.alertAgentSilentMs),
        deliveryFailedSource(facts),
        findingsSource(facts, { ...FINDING_ALERT_KINDS }),
      ];
    })(),
    clock,
  });
  const certificates = createCertificateService({
    store: stores.certificates,
    keys: keys.certificateKeys,
    x509: createX509Factory(),
    codec,
    sealer,
    clock,
    adapters: new Map<string, IssuerAdapter>([
      [acmeIssuer.provider, acmeIssuer],
      [PRIVATE_CA_PROVIDER.toLowerCase(), privateCa],
    ]),
    gate: rules.gate,
    reader: factsReader,
    approval: approvalGate,
  });
  return {
    config,
    storage,
    stores,
    sealer,
    clock,
    vaults,
    principals,
    access,
    users: createUserService({
      users: stores.users,
      hasher: createScryptSecretHasher(),
      clock,
      onChange: access.invalidate,
    }),
    secrets,
    secretFormats: createSecretFormats({ secrets, codec }),
    keys,
    webhooks: createWebhookService({
      store: stores.webhooks,
      sealer,
      clock,
      sender: createWebhookSender({
        transport: createFetchTransport(),
        sealer,
        vaultUrl: configuredVaultUrl(config),
      }),
    }),
    certificates,
    issuers: createIssuerService({ store: stores.certificates, sealer, clock }),
    contacts: createContactsService({ store: stores.certificates }),
    audit,
    auditSigner,
    acme: createAcmeSettingsService({ store: stores.acme, clock }),
    acmeIssuer,
    ca,
    acmeProfiles: createAcmeProfileService({ store: acmeServerStore, ca, sealer, clock }),
    acmeServer,
    acmeValidation,
    crls,
    ocsp,
    bootstrap,
    inventory,
    discovery,
    deployments: createDeploymentService({
      store: deploymentStore,
      sink: inventory,
      clock,
    }),
    remoteVaults,
    pushTargets: createPushTargetService({
      store: deploymentStore,
      vaults,
      certificates,
      secrets,
      remoteVaults,
      clock,
    }),
    rules,
    grading,
    findings: gradingStore,
    approvals,
    alerts,
    overview: createOverviewService({
      inventory,
      alerts,
      violationsByRule: openViolations,
      audit,
    }),
    posture: createPostureService({
      inventory,
      violationsByRule: openViolations,
      clock,
    }),
    enrollmentProfiles: createProfileService({
      store: enrollmentStore,
      ca,
      crypto: enrollmentCrypto,
      sealer,
      clock,
    }),
    enrollment: createEnrollmentService({
      store: enrollmentStore,
      ca,
      x509: caX509,
      crypto: enrollmentCrypto,
      gate: serverGate,
      clock,
      approval: approvalGate,
    }),
    campaigns: createCampaignService({ store: createSqlCampaignStore(storage), inventory, clock }),
    mailer: smtp?.mailer,
    smtp: createSmtpService({ smtp, clock }),
    pkiBase,
    tenantId,
    async close() {
      await audit.drain();
      await storage.close();
      hsm?.close();
      await cryptoPool.stop();
      await gradingPool?.stop();
    },
  };
}

/** The job that works through running campaigns; the server schedules it, `campaign run` runs it. */
export function campaignJob(core: Core): Job {
  const { config } = core;
  return createCampaignJob({
    store: createSqlCampaignStore(core.storage),
    certificates: core.certificates,
    ca: core.ca,
    vaults: () => core.vaults.list(),
    clock: core.clock,
    intervalMs: config.campaignIntervalMs,
    staleClaimMs: config.campaignStaleClaimMs,
    batchSize: config.campaignBatchSize,
    lanes: config.campaignLanes,
  });
}

/**
 * A 32-byte HMAC key of the installation (the ACME server's nonces, the dashboard's sessions): made
 * by the first node that needs it, sealed in the settings, read once per process, so a value one
 * node made is accepted by any other.
 */
function sealedSettingKey(
  settings: SqlStores["settings"],
  sealer: Sealer,
  name: string,
): () => Promise<Buffer> {
  let key: Promise<Buffer> | undefined;
  const load = async () => {
    const stored = await settings.putIfAbsent(name, "sealed", sealer.seal(randomBytes(32), name));
    return sealer.open(stored.sealed as Buffer, name);
  };
  return () => {
    key ??= load().catch((error: unknown) => {
      key = undefined;
      throw error;
    });
    return key;
  };
}

/** Vault URLs as clients reach them by default: the public host for `default`, the DNS suffix for others. */
function configuredVaultUrl(config: Config) {
  return (name: string) =>
    name === "default"
      ? `https://${config.publicHost}:${config.port}`
      : `https://${name}.${config.dnsSuffix}:${config.port}`;
}

/** The scheduled jobs, over the core's services, led by leases in the shared database. */
export function createJobs(
  core: Core,
  logger: Logger = pino({ level: "silent" }),
  vaultUrl: (name: string) => string = configuredVaultUrl(core.config),
): Scheduler {
  return createScheduler({
    jobs: jobList(core, vaultUrl),
    leases: core.stores.leases,
    clock: core.clock,
    owner: `${hostname()}:${process.pid}:${newId().slice(0, 8)}`,
    logger,
    audit: core.audit,
  });
}

/** Every job over the core's services, without a scheduler: what createJobs schedules. */
export function jobList(
  core: Core,
  vaultUrl: (name: string) => string = configuredVaultUrl(core.config),
): Job[] {
  const purge = createPurgeJob({
    findDue: (limit) => findDuePurges(core.storage, core.clock.now(), limit),
    vaults: () => core.vaults.list(),
    secrets: core.secrets,
    keys: core.keys,
    certificates: core.certificates,
  });
  const { stores } = core;
  const notices = createExpiryNoticeJob({ store: stores.notices, clock: core.clock });
  const renewals = createRenewalJob({
    store: stores.renewals,
    notices: stores.notices,
    certificates: core.certificates,
    vaults: () => core.vaults.list(),
    clock: core.clock,
    renewalTimes: (candidates) => stores.acme.renewalTimes(candidates),
  });
  const pendingIssuance = createPendingIssuanceJob({
    pending: (limit) => findPendingIssuance(core.storage, limit),
    certificates: core.certificates,
    vaults: () => core.vaults.list(),
  });
  const acmeUpkeep = createAcmeUpkeepJob({
    refreshRenewalInfo: () => core.acmeIssuer.refreshRenewalInfo(),
    sweepAbandonedOrders: () => core.acmeIssuer.sweepAbandonedOrders(),
  });
  const webhooks = createWebhookDeliveryJob({
    store: stores.webhooks,
    transport: createFetchTransport(),
    sealer: core.sealer,
    clock: core.clock,
    vaultUrl,
    origin: core.config.publicHost,
  });
  const { config, mailer } = core;
  const mail = mailer
    ? createMailJob({
        events: stores.events,
        settings: stores.settings,
        vaults: () => core.vaults.list(),
        contacts: core.contacts,
        mailer,
        vaultUrl,
        approvalMailTo: config.approvalMailTo,
      })
    : undefined;
  const alertDigest = mailer
    ? createAlertDigestJob({
        events: stores.events,
        settings: stores.settings,
        vaults: () => core.vaults.list(),
        contacts: core.contacts,
        mailer,
        intervalMs: config.alertDigestIntervalMs,
      })
    : undefined;
  const rotation = createKeyRotationJob({
    candidates: () => findRotationCandidates(core.storage),
    claims: stores.renewals,
    notices: stores.notices,
    keys: core.keys,
    vaults: () => core.vaults.list(),
    clock: core.clock,
  });
  const crl = createCrlJob({ crls: core.crls });
  const checkpointSinks = [
    ...(config.auditCheckpointFile ? [fileCheckpointSink(config.auditCheckpointFile)] : []),
    ...(config.auditCheckpointWebhook ? [webhookCheckpointSink(config.auditCheckpointWebhook)] : []),
    ...(config.auditCheckpointSyslog ? [syslogCheckpointSink(config.auditCheckpointSyslog)] : []),
  ];
  const auditCheckpoint = createAuditCheckpointJob({
    audit: core.audit,
    signer: core.auditSigner,
    sinks: checkpointSinks,
    clock: core.clock,
    intervalMs: config.auditCheckpointIntervalMs,
  });
  const auditRetention = createAuditRetentionJob({
    audit: core.audit,
    signer: core.auditSigner,
    clock: core.clock,
    retentionDays: config.auditRetentionDays,
    archive: (rows, cut) =>
      archiveAuditRows(config.auditArchiveDir ?? join(config.dataDir, "audit-archive"), rows, cut),
  });
  const inventory = createInventoryJob({
    feed: stores.inventoryFeed,
    inventory: core.inventory,
    clock: core.clock,
  });
  const discovery = createDiscoveryJob({
    discovery: core.discovery,
    owner: `${hostname()}:${process.pid}:${newId().slice(0, 8)}`,
  });
  const remoteVaultSync = createRemoteVaultSyncJob({ remoteVaults: core.remoteVaults });
  const grading = createGradingJob({ grading: core.grading, clock: core.clock });
  const campaigns = campaignJob(core);
  return [
    purge,
    notices,
    renewals,
    pendingIssuance,
    acmeUpkeep,
    rotation,
    webhooks,
    crl,
    auditCheckpoint,
    auditRetention,
    inventory,
    discovery,
    remoteVaultSync,
    createPushTargetJob({ pushTargets: core.pushTargets }),
    grading,
    campaigns,
    createAlertJob({ alerts: core.alerts }),
    createApprovalExpiryJob({ approvals: core.approvals }),
    core.acmeValidation,
    ...(mail ? [mail] : []),
    ...(alertDigest ? [alertDigest] : []),
  ];
}

export interface Strongroom {
  app: FastifyInstance;
  port: number;
  /** The plain-HTTP PKI listener's port (CRLs, OCSP, AIA). */
  pkiPort: number;
  admin: AdminCredentials;
  core: Core;
  scheduler: Scheduler;
  /** The port of the ACME http-01 challenge responder, when acmeHttpPort is set. */
  acmeHttpPort?: number | undefined;
  stop(): Promise<void>;
}

export interface StartOptions {
  clock?: Clock;
  logger?: Logger;
  /** The other workers of this server, when it runs several (`workers`). */
  peers?: Peers;
  /** What the organisation rules say at each entry point; open until the rules are wired here. */
  /** What EST and SCEP ask before they sign (tests refuse with it; the rules will supply it). */
  gate?: IssuanceGate;
}

/**
 * The HTTP layer (fastify, every route) loads when the first server starts, not with every CLI
 * command; once per process and one module after another, since two servers starting at once in one
 * process (the bootstrap race test) would otherwise import the same graph concurrently.
 */
async function loadHttpLayer() {
  const { buildApp } = await import("./http/app.js");
  const { buildPkiApp } = await import("./http/pki/pki-app.js");
  const { startChallengeResponder } = await import("./http/acme-challenge/challenge-responder.js");
  const { loadPageRenderer } = await import("./http/ui/page-renderer.js");
  const uiRenderer = await loadPageRenderer();
  return { buildApp, buildPkiApp, startChallengeResponder, uiRenderer };
}
let httpLayer: ReturnType<typeof loadHttpLayer> | undefined;

/** The composition root: config → storage → services → HTTPS server. */
export async function startStrongroom(config: Config, options: StartOptions = {}): Promise<Strongroom> {
  const logger = options.logger ?? pino({ level: config.logLevel });
  const core = await openCore(config, options.clock, options.peers, options.gate);
  /** Listeners bound so far, closed when a later step of the start fails. */
  const opened: (() => Promise<unknown>)[] = [];
  try {
    const { storage, sealer, clock, vaults, tenantId } = core;
    const signer = await createJwtTokenSigner(await core.bootstrap.tokenSigningKey());

    const aliasHosts = Object.keys(config.aliases).map((host) => host.replace(/:\d+$/, ""));
    const hostNames = [
      ...new Set([
        config.publicHost,
        "localhost",
        "127.0.0.1",
        "::1",
        hostname(),
        `*.${config.dnsSuffix}`,
        ...aliasHosts,
      ]),
    ];
    const tls =
      config.tlsCertFile && config.tlsKeyFile
        ? {
            cert: readFileSync(config.tlsCertFile, "utf8"),
            key: readFileSync(config.tlsKeyFile, "utf8"),
            caFile: undefined,
          }
        : await ensureBootstrapTls(config.dataDir, sealer, hostNames, clock.now());
    const hosts = config.host.split(",").map((h) => h.trim());
    const listening = await listenTls(tls, hosts, config.port).catch((error: unknown) => {
      throw listenFailure(error, "port", config.port);
    });
    opened.push(() => closeListening(listening));
    const { port } = listening;
    const pkiListening = await listenPlain(hosts, config.pkiPort).catch((error: unknown) => {
      throw listenFailure(error, "pkiPort", config.pkiPort);
    });
    opened.push(() => closeListening(pkiListening));
    core.pkiBase.url = config.pkiBaseUrl ?? `http://${config.publicHost}:${pkiListening.port}`;
    await core.bootstrap.recordPkiBaseUrl(core.pkiBase.url);

    const authorityHost = `https://${config.publicHost}:${port}`;
    const vaultUrl = (name: string) =>
      name === "default" ? authorityHost : `https://${name}.${config.dnsSuffix}:${port}`;
    const identity = createIdentityService({
      store: core.stores.principals,
      hasher: createScryptSecretHasher(),
      signer,
      verifier: createJoseAssertionVerifier(),
      clock,
      tenantId,
      issuer: `${authorityHost}/${tenantId}/v2.0`,
      audiences: [`https://${config.dnsSuffix}`, "https://vault.azure.net"],
      tokenEndpoint: `${authorityHost}/${tenantId}/oauth2/v2.0/token`,
    });

    await core.bootstrap.ensureDefaultVault();
    const { credentials, created } = await core.bootstrap.ensureAdmin({
      tenantId,
      authorityHost,
      vaultUrl: vaultUrl("default"),
      caFile: tls.caFile,
    });
    const sessionTokens = createHmacSessionTokens(
      await sealedSettingKey(core.stores.settings, core.sealer, "ui-session-key")(),
      tenantId,
    );
    const signIn = createSignInService({
      users: core.stores.users,
      sessions: core.stores.sessions,
      failures: core.stores.signInFailures,
      tokens: sessionTokens,
      hasher: createScryptSecretHasher(),
      clock,
      policy: {
        idleMs: config.uiSessionIdleMs,
        absoluteMs: config.uiSessionAbsoluteMs,
        userFailures: config.signInUserFailures,
        addressFailures: config.signInAddressFailures,
        failureWindowMs: config.signInLockoutMs,
        lockoutMs: config.signInLockoutMs,
      },
    });
    const singleSignOn =
      config.oidcIssuer && config.oidcClientId && config.oidcClientSecret
        ? createSingleSignOn({
            provider: createJoseOpenIdProvider({
              issuer: config.oidcIssuer,
              clientId: config.oidcClientId,
              clientSecret: config.oidcClientSecret,
              redirectUri: config.oidcRedirectUri ?? `${authorityHost}/ui/oidc/callback`,
              scopes: config.oidcScopes.split(/\s+/).filter(Boolean),
            }),
            tokens: sessionTokens,
            users: core.users,
            signIn,
            clock,
            usernameClaim: config.oidcUsernameClaim,
            provisionUsers: config.oidcProvisionUsers,
          })
        : undefined;
    const limit = (perSecond: number, burst: number | undefined) =>
      perSecond > 0
        ? { ratePerSecond: perSecond, burst: burst ?? Math.max(1, Math.ceil(perSecond)) }
        : undefined;

    httpLayer ??= loadHttpLayer();
    const { buildApp, buildPkiApp, startChallengeResponder, uiRenderer } = await httpLayer;
    const promClient = config.metrics ? await import("prom-client") : undefined;
    const metrics = promClient ? new promClient.Registry() : undefined;
    if (promClient && metrics) promClient.collectDefaultMetrics({ register: metrics, prefix: "strongroom_" });
    const app = buildApp(
      {
        logger,
        identity,
        principals: core.principals,
        access: core.access,
        clock,
        throttle: {
          vault: limit(config.throttleVaultPerSecond, config.throttleVaultBurst),
          principal: limit(config.throttlePrincipalPerSecond, config.throttlePrincipalBurst),
        },
        vaults,
        secrets: core.secrets,
        secretFormats: core.secretFormats,
        keys: core.keys,
        certificates: core.certificates,
        issuers: core.issuers,
        contacts: core.contacts,
        webhooks: core.webhooks,
        acme: core.acme,
        ca: core.ca,
        acmeServer: core.acmeServer,
        inventory: core.inventory,
        discovery: core.discovery,
        deployments: core.deployments,
        pushTargets: core.pushTargets,
        // A quarter second between outbox reads: the most a push adds to a delivery, one cheap
        // indexed read per tick per node however many agents wait.
        watch: createVersionWatch({ events: core.stores.events, pollMs: 250 }),
        remoteVaults: core.remoteVaults,
        rules: { rules: core.rules, grading: core.grading, findings: core.findings },
        alerts: core.alerts,
        approvals: core.approvals,
        posture: core.posture,
        overview: core.overview,
        campaigns: core.campaigns,
        smtp: core.smtp,
        uiAssets: loadUiAssets(),
        uiRenderer,
        signIn,
        singleSignOn,
        enrollment: {
          profiles: core.enrollmentProfiles,
          service: core.enrollment,
          codec: createScepCodec(),
          certsOnly,
        },
        audit: core.audit,
        jwks: () => signer.jwks(),
        hostRules: { dnsSuffix: config.dnsSuffix, publicHost: config.publicHost, aliases: config.aliases },
        authorityHost,
        vaultUrl,
        checkReady: async () => {
          await sql`select 1`.execute(storage.db);
        },
        metrics,
      },
      (handler) => {
        for (const server of [listening.primary, ...listening.others]) server.on("request", handler);
        return listening.primary;
      },
    );
    await app.ready();
    const responder: ChallengeResponder | undefined =
      config.acmeHttpPort === undefined
        ? undefined
        : await startChallengeResponder(core.stores.acme, logger, hosts, config.acmeHttpPort).catch(
            (error: unknown) => {
              throw listenFailure(error, "acmeHttpPort", config.acmeHttpPort ?? 0);
            },
          );
    const ocspHandler = createOcspHandler({ ocsp: core.ocsp, failure: ocspStatusOnly, logger });
    const pkiApp = buildPkiApp({ logger, ca: core.ca, crls: core.crls }, (handler) => {
      for (const server of [pkiListening.primary, ...pkiListening.others])
        server.on("request", (req, res) => {
          if (ocspHandler(req, res)) return;
          // SCEP is plain HTTP by design (RFC 8894 §4.1: its CMS messages carry their own protection),
          // and clients such as certmonger's scep-submit verify TLS only on their first requests; the
          // main app answers these too, with the same routes, audit and error rendering.
          if (req.url?.startsWith("/scep/")) return app.routing(req, res);
          handler(req, res);
        });
      return pkiListening.primary;
    });
    await pkiApp.ready();
    const scheduler = createJobs(core, logger, vaultUrl);
    if (config.jobs) scheduler.start();
    logger.info(
      {
        vaultUrl: credentials.vaultUrl,
        credentials: join(config.dataDir, "admin.json"),
        createdAdmin: created,
      },
      "strongroom is serving",
    );
    // Advice only: a start that got this far is not failed by it.
    for (const advice of await databaseAdvice(storage).catch(() => [])) logger.warn(advice);

    return {
      app,
      port,
      pkiPort: pkiListening.port,
      admin: credentials,
      core,
      scheduler,
      acmeHttpPort: responder?.port,
      async stop() {
        await scheduler.stop();
        await Promise.all([
          app.close(),
          listening.close(),
          responder?.close(),
          pkiApp.close(),
          pkiListening.close(),
        ]);
        await core.close();
      },
    };
  } catch (error) {
    for (const close of opened.reverse()) await close().catch(() => undefined);
    await core.close();
    throw error;
  }
}

async function closeListening(listening: Listening<HttpServer | HttpsServer>): Promise<void> {
  await listening.close();
  await new Promise<void>((resolve) => listening.primary.close(() => resolve()));
}
