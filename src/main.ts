import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { hostname } from "node:os";
import { join } from "node:path";
import type { FastifyInstance } from "fastify";
import { sql } from "kysely";
import pino, { type Logger } from "pino";
import { collectDefaultMetrics, Registry } from "prom-client";
import { type Config, ConfigError, databaseUrl, workerCount } from "./config/config.js";
import { createAesGcmSealer } from "./crypto/aes-gcm-sealer.js";
import { createCaKeys } from "./crypto/ca-keys.js";
import { createCaX509, ocspStatusOnly } from "./crypto/ca-x509.js";
import { createCertificateBundleCodec } from "./crypto/certificate-bundle-codec.js";
import { createCertificateFactsReader } from "./crypto/certificate-facts-reader.js";
import { createHmacAuditChain } from "./crypto/hmac-audit-chain.js";
import { createJoseAssertionVerifier } from "./crypto/jose-assertion-verifier.js";
import { createJwtTokenSigner, generateTokenSigningKey } from "./crypto/jwt-token-signer.js";
import { loadMasterKey } from "./crypto/master-key.js";
import { createPkcs11KeyProtector } from "./crypto/pkcs11-key-protector.js";
import { createPublicKeyCrypto } from "./crypto/public-key-crypto.js";
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
import { type AuditService, createAuditService } from "./domain/audit/audit-service.js";
import { type CaService, createCaService } from "./domain/ca/ca-service.js";
import { createOcspResponder, type OcspResponder } from "./domain/ca/ocsp-responder.js";
import {
  type CertificateService,
  createCertificateService,
} from "./domain/certificates/certificate-service.js";
import { createSecretFormats, type SecretFormats } from "./domain/certificates/secret-formats.js";
import { type Clock, systemClock } from "./domain/clock.js";
import { DomainError } from "./domain/errors.js";
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
import type { Sealer } from "./domain/sealing/ports.js";
import { createSecretService, type SecretService } from "./domain/secrets/secret-service.js";
import { createVaultService, type VaultService } from "./domain/vaults/vault-service.js";
import {
  type ChallengeResponder,
  startChallengeResponder,
} from "./http/acme-challenge/challenge-responder.js";
import { buildApp } from "./http/app.js";
import { createOcspHandler } from "./http/pki/ocsp-handler.js";
import { buildPkiApp } from "./http/pki/pki-app.js";
import { listenPlain } from "./http/pki/pki-server.js";
import { pkiUrls } from "./http/pki/pki-urls.js";
import { listenTls } from "./http/server.js";
import { createHttp } from "./issuers/acme/acme-http.js";
import { type AcmeIssuerAdapter, createAcmeIssuerAdapter } from "./issuers/acme/acme-issuer-adapter.js";
import { createPrivateCaIssuer, PRIVATE_CA_PROVIDER } from "./issuers/private-ca-issuer.js";
import { createAcmeUpkeepJob } from "./jobs/acme-upkeep-job.js";
import { createCrlJob } from "./jobs/crl-job.js";
import { createExpiryNoticeJob } from "./jobs/expiry-notice-job.js";
import { createInventoryJob } from "./jobs/inventory-job.js";
import { createKeyRotationJob } from "./jobs/key-rotation-job.js";
import { createMailJob } from "./jobs/mail-job.js";
import { createPendingIssuanceJob } from "./jobs/pending-issuance-job.js";
import { createPurgeJob } from "./jobs/purge-job.js";
import { createRemoteVaultSyncJob } from "./jobs/remote-vault-sync-job.js";
import { createRenewalJob } from "./jobs/renewal-job.js";
import { createScheduler, type Scheduler } from "./jobs/scheduler.js";
import { createWebhookDeliveryJob } from "./jobs/webhook-delivery-job.js";
import { createSmtpMailer } from "./notify/smtp-mailer.js";
import { createFetchTransport } from "./notify/webhook-transport.js";
import { migrate, openDatabase, type StorageHandle } from "./storage/database.js";
import { createSqlAccessStore } from "./storage/sql-access-store.js";
import { createSqlAcmeStore } from "./storage/sql-acme-store.js";
import { createSqlAuditStore } from "./storage/sql-audit-store.js";
import { createSqlCaStore } from "./storage/sql-ca-store.js";
import { createSqlCertificateStore } from "./storage/sql-certificate-store.js";
import { createSqlEventStore } from "./storage/sql-event-store.js";
import { createSqlInventoryFeed } from "./storage/sql-inventory-feed.js";
import { createSqlInventoryStore } from "./storage/sql-inventory-store.js";
import { findPendingIssuance } from "./storage/sql-issuance-store.js";
import {
  createSqlLeaseStore,
  createSqlNoticeStore,
  createSqlRenewalStore,
  findDuePurges,
  findRotationCandidates,
} from "./storage/sql-job-store.js";
import { createSqlKeyStore } from "./storage/sql-key-store.js";
import { createSqlPrincipalStore } from "./storage/sql-principal-store.js";
import { createSqlRemoteVaultStore } from "./storage/sql-remote-vault-store.js";
import { createSqlSecretStore } from "./storage/sql-secret-store.js";
import { createSqlSettingsStore } from "./storage/sql-settings-store.js";
import { createSqlVaultStore } from "./storage/sql-vault-store.js";
import { createSqlWebhookStore } from "./storage/sql-webhook-store.js";

/** What `<data-dir>/admin.json` holds: everything @azure/identity and a SecretClient need. */
export interface AdminCredentials {
  tenantId: string;
  clientId: string;
  clientSecret: string;
  authorityHost: string;
  vaultUrl: string;
  caFile?: string | undefined;
}

export interface Core {
  config: Config;
  storage: StorageHandle;
  sealer: Sealer;
  clock: Clock;
  vaults: VaultService;
  secrets: SecretService;
  keys: KeyService;
  certificates: CertificateService;
  /** Certificates' secrets as files and in other formats (Key Vault's outContentType, CLI downloads). */
  secretFormats: SecretFormats;
  webhooks: WebhookService;
  audit: AuditService;
  principals: PrincipalService;
  access: AccessService;
  /** ACME settings of issuers (admin API, CLI). */
  acme: AcmeSettingsService;
  acmeIssuer: AcmeIssuerAdapter;
  ca: CaService;
  ocsp: OcspResponder;
  /**
   * The certificate inventory; also the ObservationSink (`observe`/`forget`) every discovery source
   * reports into.
   */
  inventory: InventoryService;
  /** Remote vaults (Azure Key Vault, another Strongroom) read into the inventory. */
  remoteVaults: RemoteVaultService;
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
  const settings = createSqlSettingsStore(storage);
  const tenantId = (await settings.putIfAbsent("tenant-id", newId())).value;
  const audit = createAuditService({
    store: createSqlAuditStore(storage),
    chain: createHmacAuditChain(masterKey),
  });
  let hsm: ReturnType<typeof createPkcs11KeyProtector> | undefined;
  try {
    hsm = config.pkcs11Module
      ? createPkcs11KeyProtector({
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
  const software = createSoftwareKeyProtector(sealer, {
    ...(workerCount(config) > 1 && { poolSignatures: WORKER_POOL_SIGNATURES }),
  });
  const keys = createKeyService({
    store: createSqlKeyStore(storage),
    software,
    hsm,
    publicCrypto: createPublicKeyCrypto(),
    sealer,
    clock,
  });
  const acmeStore = createSqlAcmeStore(storage);
  const acmeIssuer = createAcmeIssuerAdapter({
    store: acmeStore,
    sealer,
    http: createHttp({ ca: config.acmeCaFile && readFileSync(config.acmeCaFile, "utf8") }),
    clock,
  });
  const vaults = createVaultService({
    store: createSqlVaultStore(storage),
    clock,
    removalGuards: [(vault) => keys.hsmKeysBlockingRemoval(vault)],
    peers,
  });
  const principalStore = createSqlPrincipalStore(storage);
  const access = createAccessService({
    store: createSqlAccessStore(storage),
    principals: principalStore,
    clock,
    cacheMs: config.accessCacheMs,
    peers,
  });
  const principals = createPrincipalService({
    store: principalStore,
    hasher: createScryptSecretHasher(),
    inspector: createX509CertificateInspector(),
    clock,
    onChange: access.invalidate,
  });
  const pkiBase = { url: config.pkiBaseUrl ?? `http://${config.publicHost}:${config.pkiPort}` };
  const caStore = createSqlCaStore(storage);
  const caX509 = createCaX509();
  const ca = createCaService({
    store: caStore,
    keys: createCaKeys({ software, hsm }),
    x509: caX509,
    clock,
    urls: pkiUrls(() => pkiBase.url),
  });
  const ocsp = createOcspResponder({ ca, store: caStore, x509: caX509, clock, peers });
  const inventory = createInventoryService({
    store: createSqlInventoryStore(storage),
    reader: createCertificateFactsReader(),
    clock,
  });
  const privateCa = createPrivateCaIssuer({ ca, clock });
  const secrets = createSecretService({ store: createSqlSecretStore(storage), sealer, clock });
  const codec = createCertificateBundleCodec();
  return {
    config,
    storage,
    sealer,
    clock,
    vaults,
    principals,
    access,
    secrets,
    secretFormats: createSecretFormats({ secrets, codec }),
    keys,
    webhooks: createWebhookService({ store: createSqlWebhookStore(storage), sealer, clock }),
    certificates: createCertificateService({
      store: createSqlCertificateStore(storage),
      keys: keys.certificateKeys,
      x509: createX509Factory(),
      codec,
      sealer,
      clock,
      adapters: new Map<string, IssuerAdapter>([
        [acmeIssuer.provider, acmeIssuer],
        [PRIVATE_CA_PROVIDER.toLowerCase(), privateCa],
      ]),
    }),
    audit,
    acme: createAcmeSettingsService({ store: acmeStore, clock }),
    acmeIssuer,
    ca,
    ocsp,
    inventory,
    remoteVaults: createRemoteVaultService({
      store: createSqlRemoteVaultStore(storage),
      connectors: [createAzureKeyVaultConnector()],
      sink: inventory,
      sealer,
      clock,
    }),
    pkiBase,
    tenantId,
    async close() {
      await audit.drain();
      await storage.close();
      hsm?.close();
    },
  };
}

async function ensureDefaultVault(vaults: VaultService): Promise<void> {
  if (await vaults.find("default")) return;
  try {
    await vaults.create("default");
  } catch (error) {
    // Another node sharing the database created it first.
    if (!(error instanceof DomainError && error.code === "Conflict")) throw error;
  }
}

async function ensureAdminCredentials(
  file: string,
  principals: PrincipalService,
  urls: Omit<AdminCredentials, "clientId" | "clientSecret">,
): Promise<{ credentials: AdminCredentials; created: boolean }> {
  if (existsSync(file)) {
    const saved = JSON.parse(readFileSync(file, "utf8")) as AdminCredentials;
    const exists = await principals.find(saved.clientId).then(
      () => true,
      () => false,
    );
    if (saved.tenantId === urls.tenantId && exists) {
      const credentials = { ...saved, ...urls };
      writeFileSync(file, `${JSON.stringify(credentials, null, 2)}\n`, { mode: 0o600 });
      return { credentials, created: false };
    }
  }
  const { principal, clientSecret } = await principals.create("strongroom-admin");
  if (clientSecret === undefined) throw new Error("the administrator principal was created without a secret");
  const credentials: AdminCredentials = { ...urls, clientId: principal.clientId, clientSecret };
  writeFileSync(file, `${JSON.stringify(credentials, null, 2)}\n`, { mode: 0o600 });
  return { credentials, created: true };
}

/**
 * The administrator keeps every right: all data actions everywhere and the admin API. Checked on
 * every start so installations made before role assignments existed get them too.
 */
async function ensureAdminRoles(core: Core, clientId: string): Promise<void> {
  const { principal } = await core.principals.find(clientId);
  const held = await core.access.assignments(principal.id);
  for (const role of ["Key Vault Administrator", "Strongroom Administrator"]) {
    const { id } = await core.access.findRole(role);
    if (held.some((a) => a.roleId === id && a.scope === "/")) continue;
    try {
      await core.access.assign(principal.id, id, "/");
    } catch (error) {
      // Another node sharing the database assigned it first.
      if (!(error instanceof DomainError && error.code === "Conflict")) throw error;
    }
  }
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
    leases: createSqlLeaseStore(core.storage),
    clock: core.clock,
    owner: `${hostname()}:${process.pid}:${newId().slice(0, 8)}`,
    logger,
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
  const noticeStore = createSqlNoticeStore(core.storage);
  const notices = createExpiryNoticeJob({ store: noticeStore, clock: core.clock });
  const renewals = createRenewalJob({
    store: createSqlRenewalStore(core.storage),
    notices: noticeStore,
    certificates: core.certificates,
    vaults: () => core.vaults.list(),
    clock: core.clock,
    renewalTimes: (candidates) => createSqlAcmeStore(core.storage).renewalTimes(candidates),
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
    store: createSqlWebhookStore(core.storage),
    transport: createFetchTransport(),
    sealer: core.sealer,
    clock: core.clock,
    vaultUrl,
    origin: core.config.publicHost,
  });
  const { config } = core;
  const settings = createSqlSettingsStore(core.storage);
  const events = createSqlEventStore(core.storage);
  const mail = config.smtpHost
    ? createMailJob({
        events: events.after,
        // A new installation mails about what happens from now on, not about old history.
        cursor: {
          get: async () => {
            const saved = await settings.get("mail-cursor");
            if (saved) return Number(saved.value);
            return Number(
              (await settings.putIfAbsent("mail-cursor", String(await events.latestSeq()))).value,
            );
          },
          set: (seq) => settings.put("mail-cursor", String(seq)),
        },
        vaults: () => core.vaults.list(),
        certificates: core.certificates,
        mailer: createSmtpMailer({
          host: config.smtpHost,
          port: config.smtpPort,
          secure: config.smtpSecure,
          user: config.smtpUser,
          password: config.smtpPassword,
          from: config.smtpFrom,
        }),
        vaultUrl,
      })
    : undefined;
  const rotation = createKeyRotationJob({
    candidates: () => findRotationCandidates(core.storage),
    claims: createSqlRenewalStore(core.storage),
    notices: noticeStore,
    keys: core.keys,
    vaults: () => core.vaults.list(),
    clock: core.clock,
  });
  const crl = createCrlJob({ ca: core.ca });
  const inventory = createInventoryJob({
    feed: createSqlInventoryFeed(core.storage),
    inventory: core.inventory,
    clock: core.clock,
  });
  const remoteVaultSync = createRemoteVaultSyncJob({ remoteVaults: core.remoteVaults });
  return [
    purge,
    notices,
    renewals,
    pendingIssuance,
    acmeUpkeep,
    rotation,
    webhooks,
    crl,
    inventory,
    remoteVaultSync,
    ...(mail ? [mail] : []),
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
}

/** The composition root: config → storage → services → HTTPS server. */
export async function startStrongroom(config: Config, options: StartOptions = {}): Promise<Strongroom> {
  const logger = options.logger ?? pino({ level: config.logLevel });
  const core = await openCore(config, options.clock, options.peers);
  try {
    const { storage, sealer, clock, vaults, tenantId } = core;
    const settings = createSqlSettingsStore(storage);
    const signingKey = await settings.putIfAbsent(
      "token-signing-key",
      "ES256 PKCS#8, sealed",
      sealer.seal(generateTokenSigningKey(), "settings/token-signing-key"),
    );
    if (!signingKey.sealed) throw new Error("The token signing key setting holds no sealed key");
    const signer = await createJwtTokenSigner(sealer.open(signingKey.sealed, "settings/token-signing-key"));

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
    const listening = await listenTls(
      tls,
      config.host.split(",").map((h) => h.trim()),
      config.port,
    );
    const { port } = listening;
    const hosts = config.host.split(",").map((h) => h.trim());
    const pkiListening = await listenPlain(hosts, config.pkiPort).catch(async (error: unknown) => {
      await listening.close();
      listening.primary.close();
      throw error;
    });
    if (!config.pkiBaseUrl) core.pkiBase.url = `http://${config.publicHost}:${pkiListening.port}`;

    const authorityHost = `https://${config.publicHost}:${port}`;
    const vaultUrl = (name: string) =>
      name === "default" ? authorityHost : `https://${name}.${config.dnsSuffix}:${port}`;
    const identity = createIdentityService({
      store: createSqlPrincipalStore(storage),
      hasher: createScryptSecretHasher(),
      signer,
      verifier: createJoseAssertionVerifier(),
      clock,
      tenantId,
      issuer: `${authorityHost}/${tenantId}/v2.0`,
      audiences: [`https://${config.dnsSuffix}`, "https://vault.azure.net"],
      tokenEndpoint: `${authorityHost}/${tenantId}/oauth2/v2.0/token`,
    });

    await ensureDefaultVault(vaults);
    const { credentials, created } = await ensureAdminCredentials(
      join(config.dataDir, "admin.json"),
      core.principals,
      { tenantId, authorityHost, vaultUrl: vaultUrl("default"), caFile: tls.caFile },
    );
    await ensureAdminRoles(core, credentials.clientId);
    const limit = (perSecond: number, burst: number | undefined) =>
      perSecond > 0
        ? { ratePerSecond: perSecond, burst: burst ?? Math.max(1, Math.ceil(perSecond)) }
        : undefined;

    const metrics = config.metrics ? new Registry() : undefined;
    if (metrics) collectDefaultMetrics({ register: metrics, prefix: "strongroom_" });
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
        webhooks: core.webhooks,
        acme: core.acme,
        ca: core.ca,
        inventory: core.inventory,
        remoteVaults: core.remoteVaults,
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
        : await startChallengeResponder(
            createSqlAcmeStore(storage),
            logger,
            config.host.split(",").map((h) => h.trim()),
            config.acmeHttpPort,
          );
    const ocspHandler = createOcspHandler({ ocsp: core.ocsp, failure: ocspStatusOnly, logger });
    const pkiApp = buildPkiApp({ logger, ca: core.ca }, (handler) => {
      for (const server of [pkiListening.primary, ...pkiListening.others])
        server.on("request", (req, res) => {
          if (!ocspHandler(req, res)) handler(req, res);
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
    await core.close();
    throw error;
  }
}
