import { existsSync, readFileSync } from "node:fs";
import { availableParallelism } from "node:os";
import { resolve } from "node:path";
import { type Static, Type } from "@sinclair/typebox";
import { Value } from "@sinclair/typebox/value";
import { validIssuer } from "../domain/access/principal-service.js";

const LogLevel = Type.Union(
  ["fatal", "error", "warn", "info", "debug", "trace", "silent"].map((l) => Type.Literal(l)),
);

export const ConfigSchema = Type.Object(
  {
    dataDir: Type.String({
      minLength: 1,
      description: "Where the SQLite database, TLS files and master key live",
    }),
    host: Type.String({ minLength: 1, description: "Addresses to listen on, comma-separated" }),
    port: Type.Integer({ minimum: 0, maximum: 65535, description: "HTTPS port" }),
    database: Type.Optional(
      Type.String({
        minLength: 1,
        description: "postgres://… or a SQLite file; default <dataDir>/strongroom.db",
      }),
    ),
    dnsSuffix: Type.String({ minLength: 1, description: "Vaults are served at {vault}.{dnsSuffix}" }),
    publicHost: Type.String({
      minLength: 1,
      description: "Host name clients use; goes into URLs and the TLS certificate",
    }),
    pkiPort: Type.Integer({
      minimum: 0,
      maximum: 65535,
      description: "Plain-HTTP port for CRLs, OCSP and CA certificates (AIA)",
    }),
    pkiBaseUrl: Type.Optional(
      Type.String({
        pattern: "^http://[^/]+$",
        description:
          "Public http://host[:port] of the PKI listener, baked into certificates' AIA, CDP and OCSP URLs; default http://{publicHost}:{pkiPort}",
      }),
    ),
    logLevel: LogLevel,
    tlsCertFile: Type.Optional(
      Type.String({
        minLength: 1,
        description: "PEM certificate chain to serve instead of the bootstrap one",
      }),
    ),
    tlsKeyFile: Type.Optional(Type.String({ minLength: 1, description: "PEM private key for tlsCertFile" })),
    masterKey: Type.Optional(
      Type.String({ minLength: 1, description: "Base64 of 32 bytes; default <dataDir>/master.key" }),
    ),
    aliases: Type.Record(Type.String(), Type.String(), { description: "host[:port] → vault name" }),
    metrics: Type.Boolean({ description: "Serve /metrics in Prometheus format" }),
    jobs: Type.Boolean({ description: "Run the scheduled jobs (purge…) in this process" }),
    workers: Type.Union([Type.Integer({ minimum: 1, maximum: 256 }), Type.Literal("auto")], {
      description: "Server processes sharing the listening ports; auto: one per CPU core",
    }),
    smtpHost: Type.Optional(
      Type.String({ minLength: 1, description: "SMTP server for notices to certificate contacts" }),
    ),
    smtpPort: Type.Integer({ minimum: 1, maximum: 65535, description: "SMTP port" }),
    smtpSecure: Type.Boolean({
      description: "TLS from the first byte (port 465); otherwise STARTTLS when offered",
    }),
    smtpUser: Type.Optional(Type.String({ minLength: 1, description: "SMTP user" })),
    smtpPassword: Type.Optional(Type.String({ minLength: 1, description: "SMTP password" })),
    smtpFrom: Type.String({ minLength: 3, description: "From address of notices" }),
    smtpTimeoutMs: Type.Integer({
      minimum: 100,
      maximum: 600_000,
      description: "Longest wait for the SMTP server to connect, greet or answer, in milliseconds",
    }),
    pkcs11Module: Type.Optional(
      Type.String({ minLength: 1, description: "PKCS#11 module for HSM-protected keys" }),
    ),
    pkcs11TokenLabel: Type.Optional(Type.String({ minLength: 1, description: "Label of the token to use" })),
    pkcs11Slot: Type.Optional(
      Type.Integer({ minimum: 0, description: "Slot index, when no token label is given" }),
    ),
    pkcs11Pin: Type.Optional(Type.String({ minLength: 1, description: "User PIN of the token" })),
    pkcs11PinFile: Type.Optional(Type.String({ minLength: 1, description: "File holding the user PIN" })),
    auditCheckpointIntervalMs: Type.Integer({
      minimum: 1000,
      description:
        "How often the audit-checkpoint job signs a checkpoint of the audit log and sends it out; the longest stretch of log a rollback of the database can hide",
    }),
    auditCheckpointFile: Type.Optional(
      Type.String({ minLength: 1, description: "File each audit checkpoint is appended to (JSON lines)" }),
    ),
    auditCheckpointWebhook: Type.Optional(
      Type.String({ pattern: "^https?://", description: "URL each audit checkpoint is POSTed to (JSON)" }),
    ),
    auditCheckpointSyslog: Type.Optional(
      Type.String({
        pattern: "^(udp|tcp)://[^/]+:\\d+$",
        description:
          "udp://host:port or tcp://host:port of a syslog receiver (RFC 5424) for audit checkpoints",
      }),
    ),
    auditRetentionDays: Type.Integer({
      minimum: 0,
      description: "Audit rows older than this are archived, then pruned; 0 keeps them forever",
    }),
    auditArchiveDir: Type.Optional(
      Type.String({
        minLength: 1,
        description: "Where pruned audit rows are archived; default <dataDir>/audit-archive",
      }),
    ),
    throttleVaultPerSecond: Type.Number({
      minimum: 0,
      description:
        "Requests per second each vault accepts before answering 429 Throttled; 0 does not throttle",
    }),
    throttleVaultBurst: Type.Optional(
      Type.Integer({
        minimum: 1,
        description: "Requests a vault accepts at once (default: one second's worth)",
      }),
    ),
    throttlePrincipalPerSecond: Type.Number({
      minimum: 0,
      description: "Requests per second each principal may make; 0 does not throttle",
    }),
    throttlePrincipalBurst: Type.Optional(
      Type.Integer({
        minimum: 1,
        description: "Requests a principal may make at once (default: one second's worth)",
      }),
    ),
    accessCacheMs: Type.Integer({
      minimum: 0,
      description:
        "How long a node reuses resolved role assignments and policies; changes made on other nodes apply within this time",
    }),
    acmeHttpPort: Type.Optional(
      Type.Integer({
        minimum: 0,
        maximum: 65535,
        description: "Plain-HTTP port of the ACME http-01 challenge responder (80 behind a public name)",
      }),
    ),
    discoveryMaxAddresses: Type.Integer({
      minimum: 1,
      maximum: 16_777_216,
      description: "Addresses one discovery scan may cover; larger CIDR blocks and ranges are refused",
    }),
    alertExpiringDays: Type.Array(Type.Integer({ minimum: 1, maximum: 3650 }), {
      minItems: 1,
      maxItems: 16,
      description: "Days before expiry at which an expiring alert opens, then escalates (each notifies once)",
    }),
    approvalExpiryMs: Type.Integer({
      minimum: 60_000,
      description: "How long a request held for approval waits for its approvers before it fails",
    }),
    approvalMailTo: Type.Array(Type.String({ pattern: "^[^@\\s,]+@[^@\\s,]+$" }), {
      maxItems: 64,
      description:
        "Addresses mailed when a request is held for approval and when it is decided (comma-separated in the environment); a vault's requests also go to its certificate contacts",
    }),
    alertAgentSilentMs: Type.Integer({
      minimum: 60_000,
      description: "An agent that has not called in for this long raises an agent-silent alert",
    }),
    alertChangedWindowMs: Type.Integer({
      minimum: 60_000,
      description: "How long a changed alert (a location now serves another certificate) stays true",
    }),
    alertDigestIntervalMs: Type.Integer({
      minimum: 10_000,
      description: "How often the alert digest mails owners and certificate contacts",
    }),
    campaignIntervalMs: Type.Integer({
      minimum: 1000,
      description: "How often the campaign job looks for running campaigns (it works each to the end)",
    }),
    campaignStaleClaimMs: Type.Integer({
      minimum: 1000,
      description:
        "A batch of campaign items claimed this long ago by an attempt that has not committed it is taken again (its node died); longer than a batch takes, or batches are redone",
    }),
    campaignBatchSize: Type.Integer({
      minimum: 1,
      maximum: 1000,
      description: "Campaign items claimed and committed together, in one transaction",
    }),
    campaignLanes: Type.Integer({
      minimum: 1,
      maximum: 16,
      description:
        "Campaign batches a node works on at once: one commits while the next makes its keys and signatures",
    }),
    gradingThreads: Type.Union([Type.Integer({ minimum: 1, maximum: 64 }), Type.Literal("auto")], {
      description:
        "Threads a full grading of the inventory runs on, on PostgreSQL (SQLite grades on one); auto: one per CPU core",
    }),
    acmeCaFile: Type.Optional(
      Type.String({
        minLength: 1,
        description: "PEM CA trusted for ACME servers and DNS webhooks besides the public roots",
      }),
    ),
    trustBundleFile: Type.Optional(
      Type.String({
        minLength: 1,
        description:
          "PEM roots that grading trusts besides the private CA's certificates; an inventory certificate without a chain to one is an unknown-CA finding",
      }),
    ),
    acmeValidationHttpPort: Type.Integer({
      minimum: 1,
      maximum: 65535,
      description: "Port the ACME server fetches http-01 challenges from on clients (80 in real deployments)",
    }),
    acmeValidationTlsPort: Type.Integer({
      minimum: 1,
      maximum: 65535,
      description: "Port the ACME server connects to for tls-alpn-01 challenges (443 in real deployments)",
    }),
    uiSessionIdleMs: Type.Integer({
      minimum: 60_000,
      description: "A dashboard session unused for this long ends",
    }),
    uiSessionAbsoluteMs: Type.Integer({
      minimum: 60_000,
      description: "A dashboard session ends this long after sign-in, however busy",
    }),
    signInUserFailures: Type.Integer({
      minimum: 1,
      description: "Failed dashboard sign-ins for one user name that lock it for signInLockoutMs",
    }),
    signInAddressFailures: Type.Integer({
      minimum: 1,
      description: "Failed dashboard sign-ins from one client address that lock it for signInLockoutMs",
    }),
    signInLockoutMs: Type.Integer({
      minimum: 1000,
      description: "How long a locked user name or address is refused; failures count within the same window",
    }),
    oidcIssuer: Type.Optional(
      Type.String({
        pattern: "^https?://",
        description: "OpenID Connect issuer for dashboard single sign-on (https, or http on loopback)",
      }),
    ),
    oidcClientId: Type.Optional(
      Type.String({ minLength: 1, description: "This installation's client id at the issuer" }),
    ),
    oidcClientSecret: Type.Optional(
      Type.String({ minLength: 1, description: "The client secret at the issuer" }),
    ),
    oidcRedirectUri: Type.Optional(
      Type.String({
        pattern: "^https://",
        description:
          "Redirect URI registered at the issuer; default https://{publicHost}:{port}/ui/oidc/callback",
      }),
    ),
    oidcUsernameClaim: Type.String({
      minLength: 1,
      description: "ID token claim naming the local user a sign-on is for (preferred_username, email, sub…)",
    }),
    oidcScopes: Type.String({ description: "Scopes asked for besides openid, space-separated" }),
    oidcProvisionUsers: Type.Boolean({
      description: "Create a user (with no role) on the first sign-on of a name that is not a user yet",
    }),
    acmeValidationResolver: Type.Optional(
      Type.String({
        pattern: "^[^\\s:]+:\\d{1,5}$|^\\[[0-9a-fA-F:]+\\]:\\d{1,5}$",
        description:
          "host:port of the DNS server the ACME server asks for A/AAAA and dns-01 TXT records (default: the system's)",
      }),
    ),
  },
  { additionalProperties: false },
);

export type Config = Readonly<Static<typeof ConfigSchema>>;

export const DEFAULTS: Static<typeof ConfigSchema> = {
  dataDir: "./data",
  host: "127.0.0.1",
  port: 8443,
  dnsSuffix: "localhost",
  publicHost: "localhost",
  pkiPort: 8080,
  logLevel: "info",
  aliases: {},
  metrics: true,
  jobs: true,
  workers: 1,
  smtpPort: 587,
  smtpSecure: false,
  smtpFrom: "strongroom@localhost",
  smtpTimeoutMs: 30_000,
  throttleVaultPerSecond: 0,
  throttlePrincipalPerSecond: 0,
  accessCacheMs: 5000,
  auditCheckpointIntervalMs: 3_600_000,
  auditRetentionDays: 0,
  discoveryMaxAddresses: 65_536,
  alertExpiringDays: [30, 14, 7, 1],
  alertAgentSilentMs: 3_600_000,
  approvalExpiryMs: 7 * 86_400_000,
  approvalMailTo: [],
  alertChangedWindowMs: 7 * 86_400_000,
  alertDigestIntervalMs: 900_000,
  campaignIntervalMs: 60_000,
  campaignStaleClaimMs: 120_000,
  campaignBatchSize: 256,
  campaignLanes: 3,
  gradingThreads: "auto",
  acmeValidationHttpPort: 80,
  acmeValidationTlsPort: 443,
  uiSessionIdleMs: 30 * 60_000,
  uiSessionAbsoluteMs: 12 * 3_600_000,
  signInUserFailures: 5,
  signInAddressFailures: 20,
  signInLockoutMs: 15 * 60_000,
  oidcUsernameClaim: "preferred_username",
  oidcScopes: "profile email",
  oidcProvisionUsers: false,
};

/** Environment variables and the setting each one fills. */
export const ENV_VARS = {
  STRONGROOM_DATA_DIR: "dataDir",
  STRONGROOM_HOST: "host",
  STRONGROOM_PORT: "port",
  STRONGROOM_DATABASE_URL: "database",
  STRONGROOM_DNS_SUFFIX: "dnsSuffix",
  STRONGROOM_PUBLIC_HOST: "publicHost",
  STRONGROOM_LOG_LEVEL: "logLevel",
  STRONGROOM_PKI_PORT: "pkiPort",
  STRONGROOM_PKI_BASE_URL: "pkiBaseUrl",
  STRONGROOM_TLS_CERT_FILE: "tlsCertFile",
  STRONGROOM_TLS_KEY_FILE: "tlsKeyFile",
  STRONGROOM_MASTER_KEY: "masterKey",
  STRONGROOM_ALIASES: "aliases",
  STRONGROOM_METRICS: "metrics",
  STRONGROOM_JOBS: "jobs",
  STRONGROOM_WORKERS: "workers",
  STRONGROOM_SMTP_HOST: "smtpHost",
  STRONGROOM_SMTP_PORT: "smtpPort",
  STRONGROOM_SMTP_SECURE: "smtpSecure",
  STRONGROOM_SMTP_USER: "smtpUser",
  STRONGROOM_SMTP_PASSWORD: "smtpPassword",
  STRONGROOM_SMTP_FROM: "smtpFrom",
  STRONGROOM_SMTP_TIMEOUT_MS: "smtpTimeoutMs",
  STRONGROOM_PKCS11_MODULE: "pkcs11Module",
  STRONGROOM_PKCS11_TOKEN_LABEL: "pkcs11TokenLabel",
  STRONGROOM_PKCS11_SLOT: "pkcs11Slot",
  STRONGROOM_PKCS11_PIN: "pkcs11Pin",
  STRONGROOM_PKCS11_PIN_FILE: "pkcs11PinFile",
  STRONGROOM_AUDIT_CHECKPOINT_INTERVAL_MS: "auditCheckpointIntervalMs",
  STRONGROOM_AUDIT_CHECKPOINT_FILE: "auditCheckpointFile",
  STRONGROOM_AUDIT_CHECKPOINT_WEBHOOK: "auditCheckpointWebhook",
  STRONGROOM_AUDIT_CHECKPOINT_SYSLOG: "auditCheckpointSyslog",
  STRONGROOM_AUDIT_RETENTION_DAYS: "auditRetentionDays",
  STRONGROOM_AUDIT_ARCHIVE_DIR: "auditArchiveDir",
  STRONGROOM_THROTTLE_VAULT_PER_SECOND: "throttleVaultPerSecond",
  STRONGROOM_THROTTLE_VAULT_BURST: "throttleVaultBurst",
  STRONGROOM_THROTTLE_PRINCIPAL_PER_SECOND: "throttlePrincipalPerSecond",
  STRONGROOM_THROTTLE_PRINCIPAL_BURST: "throttlePrincipalBurst",
  STRONGROOM_ACCESS_CACHE_MS: "accessCacheMs",
  STRONGROOM_ACME_HTTP_PORT: "acmeHttpPort",
  STRONGROOM_ACME_CA_FILE: "acmeCaFile",
  STRONGROOM_TRUST_BUNDLE_FILE: "trustBundleFile",
  STRONGROOM_DISCOVERY_MAX_ADDRESSES: "discoveryMaxAddresses",
  STRONGROOM_ALERT_EXPIRING_DAYS: "alertExpiringDays",
  STRONGROOM_ALERT_AGENT_SILENT_MS: "alertAgentSilentMs",
  STRONGROOM_APPROVAL_EXPIRY_MS: "approvalExpiryMs",
  STRONGROOM_APPROVAL_MAIL_TO: "approvalMailTo",
  STRONGROOM_ALERT_CHANGED_WINDOW_MS: "alertChangedWindowMs",
  STRONGROOM_ALERT_DIGEST_INTERVAL_MS: "alertDigestIntervalMs",
  STRONGROOM_CAMPAIGN_INTERVAL_MS: "campaignIntervalMs",
  STRONGROOM_CAMPAIGN_STALE_CLAIM_MS: "campaignStaleClaimMs",
  STRONGROOM_CAMPAIGN_BATCH_SIZE: "campaignBatchSize",
  STRONGROOM_CAMPAIGN_LANES: "campaignLanes",
  STRONGROOM_GRADING_THREADS: "gradingThreads",
  STRONGROOM_ACME_VALIDATION_HTTP_PORT: "acmeValidationHttpPort",
  STRONGROOM_ACME_VALIDATION_TLS_PORT: "acmeValidationTlsPort",
  STRONGROOM_ACME_VALIDATION_RESOLVER: "acmeValidationResolver",
  STRONGROOM_UI_SESSION_IDLE_MS: "uiSessionIdleMs",
  STRONGROOM_UI_SESSION_ABSOLUTE_MS: "uiSessionAbsoluteMs",
  STRONGROOM_SIGN_IN_USER_FAILURES: "signInUserFailures",
  STRONGROOM_SIGN_IN_ADDRESS_FAILURES: "signInAddressFailures",
  STRONGROOM_SIGN_IN_LOCKOUT_MS: "signInLockoutMs",
  STRONGROOM_OIDC_ISSUER: "oidcIssuer",
  STRONGROOM_OIDC_CLIENT_ID: "oidcClientId",
  STRONGROOM_OIDC_CLIENT_SECRET: "oidcClientSecret",
  STRONGROOM_OIDC_REDIRECT_URI: "oidcRedirectUri",
  STRONGROOM_OIDC_USERNAME_CLAIM: "oidcUsernameClaim",
  STRONGROOM_OIDC_SCOPES: "oidcScopes",
  STRONGROOM_OIDC_PROVISION_USERS: "oidcProvisionUsers",
} as const satisfies Record<string, keyof Config>;

export interface ConfigSources {
  /** Values from command-line flags; undefined entries are ignored. */
  flags?: Partial<Record<keyof Config, unknown>>;
  /** Path given with --config; otherwise ./strongroom.json is read when present. */
  configFile?: string | undefined;
  env?: NodeJS.ProcessEnv;
  cwd?: string;
}

export class ConfigError extends Error {
  override name = "ConfigError";
}

function fromEnv(env: NodeJS.ProcessEnv): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [variable, setting] of Object.entries(ENV_VARS)) {
    const raw = env[variable];
    if (raw === undefined || raw === "") continue;
    out[setting] = raw;
  }
  return out;
}

function readFile(path: string, required: boolean): Record<string, unknown> {
  if (!existsSync(path)) {
    if (required) throw new ConfigError(`Config file ${path} does not exist`);
    return {};
  }
  try {
    return JSON.parse(readFileSync(path, "utf8")) as Record<string, unknown>;
  } catch (error) {
    throw new ConfigError(`Config file ${path} is not valid JSON: ${(error as Error).message}`);
  }
}

/** Strings from env and flags become numbers, booleans and maps where the schema says so. */
function coerce(raw: Record<string, unknown>): Record<string, unknown> {
  const out = { ...raw };
  for (const key of [
    "port",
    "pkiPort",
    "pkcs11Slot",
    "smtpPort",
    "smtpTimeoutMs",
    "acmeHttpPort",
    "throttleVaultBurst",
    "throttlePrincipalBurst",
    "accessCacheMs",
    "workers",
    "auditCheckpointIntervalMs",
    "auditRetentionDays",
    "discoveryMaxAddresses",
    "alertAgentSilentMs",
    "approvalExpiryMs",
    "alertChangedWindowMs",
    "alertDigestIntervalMs",
    "campaignIntervalMs",
    "campaignStaleClaimMs",
    "campaignBatchSize",
    "campaignLanes",
    "gradingThreads",
    "acmeValidationHttpPort",
    "acmeValidationTlsPort",
    "uiSessionIdleMs",
    "uiSessionAbsoluteMs",
    "signInUserFailures",
    "signInAddressFailures",
    "signInLockoutMs",
  ]) {
    const value = out[key];
    if (typeof value === "string" && /^\d+$/.test(value)) out[key] = Number(value);
  }
  for (const key of ["throttleVaultPerSecond", "throttlePrincipalPerSecond"]) {
    const value = out[key];
    if (typeof value === "string" && /^\d+(\.\d+)?$/.test(value)) out[key] = Number(value);
  }
  for (const key of ["metrics", "jobs", "smtpSecure", "oidcProvisionUsers"]) {
    const value = out[key];
    if (typeof value === "string") out[key] = value === "true" || value === "1";
  }
  if (
    typeof out.alertExpiringDays === "string" &&
    /^\d+(,\d+)*$/.test(out.alertExpiringDays.replace(/\s/g, ""))
  ) {
    out.alertExpiringDays = out.alertExpiringDays.replace(/\s/g, "").split(",").map(Number);
  }
  if (typeof out.approvalMailTo === "string")
    out.approvalMailTo = out.approvalMailTo
      .split(",")
      .map((a) => a.trim())
      .filter(Boolean);
  if (typeof out.aliases === "string") {
    out.aliases = Object.fromEntries(
      out.aliases
        .split(",")
        .filter(Boolean)
        .map((pair) => pair.split("=").map((s) => s.trim())),
    );
  }
  return out;
}

/** Merges defaults < config file < environment < flags, validates once and freezes the result. */
export function loadConfig(sources: ConfigSources = {}): Config {
  const cwd = sources.cwd ?? process.cwd();
  const env = sources.env ?? process.env;
  const file = sources.configFile
    ? readFile(resolve(cwd, sources.configFile), true)
    : readFile(resolve(cwd, "strongroom.json"), false);
  const flags = Object.fromEntries(Object.entries(sources.flags ?? {}).filter(([, v]) => v !== undefined));
  const merged = coerce({ ...DEFAULTS, ...file, ...fromEnv(env), ...flags });
  if (!Value.Check(ConfigSchema, merged)) {
    const problems = [...Value.Errors(ConfigSchema, merged)].map((e) => `${e.path || "/"}: ${e.message}`);
    throw new ConfigError(`Invalid configuration:\n  ${problems.join("\n  ")}`);
  }
  if (Boolean(merged.tlsCertFile) !== Boolean(merged.tlsKeyFile)) {
    throw new ConfigError("tlsCertFile and tlsKeyFile must be given together");
  }
  const oidc = [merged.oidcIssuer, merged.oidcClientId, merged.oidcClientSecret];
  if (oidc.some(Boolean) && !oidc.every(Boolean)) {
    throw new ConfigError("oidcIssuer, oidcClientId and oidcClientSecret must be given together");
  }
  if (merged.oidcIssuer && !validIssuer(merged.oidcIssuer)) {
    throw new ConfigError(
      `oidcIssuer ${merged.oidcIssuer} must be https (plain http only on a loopback address)`,
    );
  }
  const config = { ...merged, dataDir: resolve(cwd, merged.dataDir) };
  if (merged.workers !== 1 && config.database === ":memory:") {
    throw new ConfigError("workers must be 1 with an in-memory database: each worker would have its own");
  }
  if (config.database && !isPostgresUrl(config.database) && config.database !== ":memory:") {
    config.database = resolve(cwd, config.database.replace(/^sqlite:/, ""));
  }
  return Object.freeze({ ...config, aliases: Object.freeze({ ...config.aliases }) });
}

/** Whether `database` names a PostgreSQL server rather than a SQLite file. */
const isPostgresUrl = (database: string): boolean => /^postgres(ql)?:\/\//.test(database);

/** How many server processes `serve` runs. */
export const workerCount = (config: Config): number =>
  config.workers === "auto" ? availableParallelism() : config.workers;

/**
 * Threads a full grading runs on: on PostgreSQL each has its own connections and the database reads
 * for all at once; SQLite grades on the calling thread, where its reads already keep up.
 */
export const gradingThreadCount = (config: Config): number =>
  !config.database || !isPostgresUrl(config.database)
    ? 1
    : config.gradingThreads === "auto"
      ? availableParallelism()
      : config.gradingThreads;

export const databaseUrl = (config: Config): string =>
  config.database ?? resolve(config.dataDir, "strongroom.db");

/** The listening ports, each with the flag and variable that change it. */
const PORT_SETTINGS = {
  port: { flag: "--port", env: "STRONGROOM_PORT", serves: "HTTPS (Key Vault API, ACME, EST, SCEP)" },
  pkiPort: { flag: "--pki-port", env: "STRONGROOM_PKI_PORT", serves: "CRLs, OCSP and CA certificates" },
  acmeHttpPort: { flag: undefined, env: "STRONGROOM_ACME_HTTP_PORT", serves: "ACME http-01 challenges" },
} as const;

/**
 * A listener that could not bind, as the setting to change: a stack trace of `listen EADDRINUSE`
 * does not tell a new user which of the server's ports clashed or how to move it.
 */
export function listenFailure(error: unknown, setting: keyof typeof PORT_SETTINGS, port: number): Error {
  const code = (error as NodeJS.ErrnoException | undefined)?.code;
  const { flag, env, serves } = PORT_SETTINGS[setting];
  const change = `choose another with ${flag ? `${flag}, ` : ""}${setting} in strongroom.json or ${env}`;
  if (code === "EADDRINUSE")
    return new ConfigError(`port ${port} (${setting}, ${serves}) is in use by another program; ${change}`, {
      cause: error,
    });
  if (code === "EACCES")
    return new ConfigError(
      `port ${port} (${setting}, ${serves}) needs privileges this process lacks; ${change}`,
      {
        cause: error,
      },
    );
  if (code === "EADDRNOTAVAIL")
    return new ConfigError(
      `an address in host is not on this machine, so port ${port} (${setting}) cannot be bound; fix --host or STRONGROOM_HOST`,
      { cause: error },
    );
  return error instanceof Error ? error : new Error(String(error));
}
