#!/usr/bin/env node
import cluster from "node:cluster";
import { readFileSync, writeFileSync } from "node:fs";
import { Command, Option } from "commander";
import { createIpcPeers } from "../cluster/ipc-peers.js";
import { isOurs, type PrimaryMessage, type WorkerMessage } from "../cluster/messages.js";
import { superviseWorkers } from "../cluster/supervisor.js";
import { type Config, ConfigError, loadConfig, workerCount } from "../config/config.js";
import type { AcmeIssuerSettings, ChallengeSettings } from "../domain/acme/model.js";
import { type CaService, parseReason } from "../domain/ca/ca-service.js";
import {
  CA_KEY_ALGORITHMS,
  type CertificateAuthority,
  FULL_CRL,
  type IssuedCertificate,
} from "../domain/ca/model.js";
import { DomainError } from "../domain/errors.js";
import type { Vault, VaultSettings } from "../domain/vaults/model.js";
import { fromPem, toPem } from "../http/pem.js";
import { createJobs, openCore, startStrongroom } from "../main.js";
import { registerAccessCommands } from "./access-commands.js";
import { registerAuditCommands } from "./audit-commands.js";
import { auditedCommand } from "./cli-audit.js";

const program = new Command("strongroom")
  .description("Self-hosted certificate lifecycle platform with an Azure Key Vault compatible API")
  .option("--config <file>", "JSON config file (default ./strongroom.json when present)")
  .option("--data-dir <dir>", "data directory (env STRONGROOM_DATA_DIR, default ./data)")
  .option("--database <url>", "postgres://… or a SQLite file (env STRONGROOM_DATABASE_URL)")
  .option("--dns-suffix <suffix>", "serve vaults at {vault}.{suffix} (env STRONGROOM_DNS_SUFFIX)")
  .option("--public-host <name>", "host name clients use (env STRONGROOM_PUBLIC_HOST)")
  .addOption(
    new Option("--log-level <level>", "log level").choices([
      "fatal",
      "error",
      "warn",
      "info",
      "debug",
      "trace",
      "silent",
    ]),
  );

function config(command: Command, extra: Partial<Record<keyof Config, unknown>> = {}): Config {
  const o = command.optsWithGlobals<Record<string, string | undefined>>();
  return loadConfig({
    configFile: o.config,
    flags: {
      dataDir: o.dataDir,
      database: o.database,
      dnsSuffix: o.dnsSuffix,
      publicHost: o.publicHost,
      logLevel: o.logLevel,
      ...extra,
    },
  });
}

/** Opens storage for a one-off command and always closes it. */
async function withCore<T>(
  command: Command,
  work: (core: Awaited<ReturnType<typeof openCore>>) => Promise<T>,
) {
  const core = await openCore(config(command, { logLevel: "silent" }));
  try {
    return await auditedCommand(core.audit, command, () => work(core));
  } finally {
    await core.close();
  }
}

program
  .command("serve")
  .description("run the HTTPS server")
  .option("--host <address>", "address to listen on (env STRONGROOM_HOST, default 127.0.0.1)")
  .option("--port <port>", "HTTPS port (env STRONGROOM_PORT, default 8443)")
  .option(
    "--pki-port <port>",
    "plain-HTTP port for CRLs, OCSP and AIA (env STRONGROOM_PKI_PORT, default 8080)",
  )
  .option(
    "--pki-base-url <url>",
    "public http://host[:port] of that listener, baked into certificates (env STRONGROOM_PKI_BASE_URL)",
  )
  .option(
    "--alias <host=vault>",
    "serve a vault at another host or IP, e.g. 127.0.0.2=team (repeatable; env STRONGROOM_ALIASES)",
    (pair: string, all: string[]) => [...all, pair],
    [],
  )
  .option(
    "--workers <n>",
    "server processes sharing the ports, or auto: one per core (env STRONGROOM_WORKERS)",
  )
  .action(
    async (
      options: {
        host?: string;
        port?: string;
        pkiPort?: string;
        pkiBaseUrl?: string;
        alias: string[];
        workers?: string;
      },
      command: Command,
    ) => {
      const aliases = options.alias.length > 0 ? options.alias.join(",") : undefined;
      const settings = config(command, {
        host: options.host,
        port: options.port,
        pkiPort: options.pkiPort,
        pkiBaseUrl: options.pkiBaseUrl,
        aliases,
        workers: options.workers,
      });
      const workers = workerCount(settings);
      if (workers > 1 && cluster.isPrimary) {
        process.exitCode = await superviseWorkers({
          count: workers,
          jobs: settings.jobs,
          print: (line) => console.log(line),
          warn: (line) => console.error(line),
        });
        return;
      }
      await serve(settings);
    },
  );

/**
 * One server process: the whole server when it runs alone, or one worker of several, which the
 * primary tells when to run the scheduled jobs and which prints nothing of its own.
 */
async function serve(settings: Config): Promise<void> {
  const worker = cluster.isWorker;
  const strongroom = await startStrongroom(
    worker ? { ...settings, jobs: false } : settings,
    worker ? { peers: createIpcPeers() } : {},
  );
  const lines = [
    `Strongroom is serving the default vault at ${strongroom.admin.vaultUrl}`,
    `Administrator credentials: ${strongroom.core.config.dataDir}/admin.json`,
    ...(strongroom.admin.caFile ? [`Trust this CA in clients: ${strongroom.admin.caFile}`] : []),
    `CRLs, OCSP and CA certificates are served at ${strongroom.core.pkiBase.url}`,
  ];
  if (worker) {
    process.on("message", (message: unknown) => {
      if (isOurs<PrimaryMessage>(message) && message.strongroom === "run-jobs" && settings.jobs) {
        strongroom.scheduler.start();
      }
    });
    process.send?.({ strongroom: "ready", lines } satisfies WorkerMessage);
  } else {
    for (const line of lines) console.log(line);
  }
  let stopping = false;
  const stop = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    if (!worker) console.log(`${signal} received: finishing requests in flight, then stopping`);
    await strongroom.stop();
    process.exit(0);
  };
  process.on("SIGTERM", () => void stop("SIGTERM"));
  process.on("SIGINT", () => void stop("SIGINT"));
}

const vault = program.command("vault").description("create, list, show, update and delete vaults");

const settingsOptions = (c: Command) =>
  c
    .addOption(
      new Option("--sku <sku>", "standard or premium (premium vaults may use HSM keys)").choices([
        "standard",
        "premium",
      ]),
    )
    .option("--retention-days <days>", "soft-delete retention, 7-90 days")
    .option("--purge-protection", "forbid purging deleted objects before their retention ends (irreversible)")
    .option("--require-complete-chain", "refuse certificate imports whose chain does not reach a root")
    .option("--near-expiry-days <days>", "raise NearExpiry events this many days before expiry (default 30)")
    .option("--no-require-complete-chain", "accept certificate imports with incomplete chains");

function settingsFrom(o: {
  sku?: string;
  retentionDays?: string;
  purgeProtection?: boolean;
  requireCompleteChain?: boolean;
  nearExpiryDays?: string;
}): Partial<VaultSettings> {
  return {
    ...(o.sku !== undefined && { sku: o.sku as VaultSettings["sku"] }),
    ...(o.retentionDays !== undefined && { softDeleteRetentionDays: Number(o.retentionDays) }),
    ...(o.purgeProtection !== undefined && { purgeProtection: o.purgeProtection }),
    ...(o.requireCompleteChain !== undefined && { requireCompleteChain: o.requireCompleteChain }),
    ...(o.nearExpiryDays !== undefined && { nearExpiryDays: Number(o.nearExpiryDays) }),
  };
}

function printVault(v: Vault, c: Config) {
  const url =
    v.name === "default" ? `https://${c.publicHost}:${c.port}` : `https://${v.name}.${c.dnsSuffix}:${c.port}`;
  console.log(
    [
      `name:                ${v.name}`,
      `url:                 ${url}`,
      `sku:                 ${v.sku}`,
      `retention days:      ${v.softDeleteRetentionDays}`,
      `purge protection:    ${v.purgeProtection ? "on" : "off"}`,
      `complete chains:     ${v.requireCompleteChain ? "required" : "not required"}`,
      `created:             ${v.createdAt.toISOString()}`,
    ].join("\n"),
  );
}

settingsOptions(vault.command("create").argument("<name>", "vault name, 3-24 letters, digits and hyphens"))
  .description("create a vault")
  .action((name: string, o, command: Command) =>
    withCore(command, async (core) =>
      printVault(await core.vaults.create(name, settingsFrom(o)), core.config),
    ),
  );

vault
  .command("list")
  .description("list vaults")
  .action((_o, command: Command) =>
    withCore(command, async (core) => {
      for (const v of await core.vaults.list()) {
        console.log(
          `${v.name}\t${v.sku}\t${v.softDeleteRetentionDays}d\tpurge protection ${v.purgeProtection ? "on" : "off"}`,
        );
      }
    }),
  );

vault
  .command("show")
  .argument("<name>")
  .description("show one vault")
  .action((name: string, _o, command: Command) =>
    withCore(command, async (core) => printVault(await core.vaults.get(name), core.config)),
  );

settingsOptions(vault.command("update").argument("<name>"))
  .description("change a vault's settings")
  .action((name: string, o, command: Command) =>
    withCore(command, async (core) =>
      printVault(await core.vaults.update(name, settingsFrom(o)), core.config),
    ),
  );

vault
  .command("delete")
  .argument("<name>")
  .description("delete a vault and everything in it")
  .action((name: string, _o, command: Command) =>
    withCore(command, async (core) => {
      await core.vaults.remove(name);
      console.log(`Vault ${name} deleted`);
    }),
  );

registerAccessCommands(program, vault, withCore);

const webhook = program.command("webhook").description("subscribe endpoints to vault events");

const webhookOptions = (c: Command) =>
  c
    .option("--endpoint <url>", "where events are POSTed")
    .option("--event <type...>", "event types, e.g. Microsoft.KeyVault.CertificateNearExpiry (default: all)")
    .option("--vault <name...>", "only events of these vaults (default: all)")
    .option("--subject-begins-with <prefix>", "only objects whose name starts with this")
    .addOption(
      new Option("--schema <schema>", "payload schema").choices(["EventGridSchema", "CloudEventSchemaV1_0"]),
    )
    .option("--secret <secret>", "sign deliveries with HMAC-SHA256 (X-Strongroom-Signature)");

interface WebhookFlags {
  endpoint?: string;
  event?: string[];
  vault?: string[];
  subjectBeginsWith?: string;
  schema?: string;
  secret?: string;
}

const webhookInput = (o: WebhookFlags) => ({
  endpoint: o.endpoint,
  eventTypes: o.event,
  vaults: o.vault,
  subjectBeginsWith: o.subjectBeginsWith,
  schema: o.schema,
  secret: o.secret,
});

const printWebhook = (s: {
  name: string;
  endpoint: string;
  schema: string;
  status: string;
  eventTypes: string[];
}) =>
  console.log(
    `${s.name}\t${s.status}\t${s.schema}\t${s.endpoint}\t${s.eventTypes.join(",") || "all events"}`,
  );

webhookOptions(webhook.command("create").argument("<name>"))
  .description(
    "subscribe an endpoint; it is validated (Event Grid or CloudEvents handshake) before its first delivery",
  )
  .action((name: string, o: WebhookFlags, command: Command) =>
    withCore(command, async (core) => printWebhook(await core.webhooks.create({ name, ...webhookInput(o) }))),
  );

webhookOptions(webhook.command("update").argument("<name>"))
  .description("change a subscription")
  .action((name: string, o: WebhookFlags, command: Command) =>
    withCore(command, async (core) => printWebhook(await core.webhooks.update(name, webhookInput(o)))),
  );

webhook
  .command("list")
  .description("list subscriptions")
  .action((_o, command: Command) =>
    withCore(command, async (core) => {
      for (const s of await core.webhooks.list()) printWebhook(s);
    }),
  );

webhook
  .command("delete")
  .argument("<name>")
  .description("remove a subscription and its pending deliveries")
  .action((name: string, _o, command: Command) =>
    withCore(command, async (core) => {
      await core.webhooks.remove(name);
      console.log(`Webhook ${name} deleted`);
    }),
  );

webhook
  .command("replay")
  .argument("<name>")
  .description("send a subscription's dead letters again")
  .action((name: string, _o, command: Command) =>
    withCore(command, async (core) =>
      console.log(`Replaying ${await core.webhooks.replay(name)} dead letters to ${name}`),
    ),
  );

const acme = program
  .command("acme")
  .description("ACME settings of issuers whose provider is ACME (directory, contacts, challenges)");

const printAcme = (s: AcmeIssuerSettings) => {
  const { type, solver, ...where } = s.challenge as ChallengeSettings & Record<string, string>;
  const detail = Object.values(where).join(" ");
  console.log(
    `${s.issuerName}\t${s.directoryUrl}\t${type} ${solver}${detail ? ` ${detail}` : ""}\t${s.contacts.join(",") || "no contact"}`,
  );
};

acme
  .command("set")
  .argument("<vault>")
  .argument(
    "<issuer>",
    "the Key Vault issuer object (provider ACME); its account_id and pwd are the EAB key id and HMAC key",
  )
  .requiredOption("--directory <url>", "the CA's ACME directory URL")
  .option("--email <address...>", "account contact e-mail addresses")
  .addOption(
    new Option("--challenge <type>", "challenge type (default http-01)").choices(["http-01", "dns-01"]),
  )
  .addOption(
    new Option("--solver <solver>", "who answers (http-01 default: responder)").choices([
      "responder",
      "webroot",
      "hook",
      "webhook",
    ]),
  )
  .option("--webroot <dir>", "webroot solver: directory served at http://<name>/")
  .option("--hook <command>", "hook solver: run as '<command> present|cleanup …'")
  .option("--webhook <url>", "webhook solver (dns-01): POSTs {action, domain, recordName, value}")
  .description("set (or replace) an issuer's ACME settings")
  .action(
    (
      vaultName: string,
      issuer: string,
      o: {
        directory: string;
        email?: string[];
        challenge?: "http-01" | "dns-01";
        solver?: "responder" | "webroot" | "hook" | "webhook";
        webroot?: string;
        hook?: string;
        webhook?: string;
      },
      command: Command,
    ) =>
      withCore(command, async (core) =>
        printAcme(
          await core.acme.put(await core.vaults.get(vaultName), issuer, {
            directoryUrl: o.directory,
            contacts: o.email,
            challenge: o.challenge,
            solver: o.solver,
            webroot: o.webroot,
            command: o.hook,
            webhookUrl: o.webhook,
          }),
        ),
      ),
  );

acme
  .command("list")
  .argument("<vault>")
  .description("list a vault's ACME issuer settings")
  .action((vaultName: string, _o, command: Command) =>
    withCore(command, async (core) => {
      for (const s of await core.acme.list(await core.vaults.get(vaultName))) printAcme(s);
    }),
  );

acme
  .command("show")
  .argument("<vault>")
  .argument("<issuer>")
  .description("show an issuer's ACME settings")
  .action((vaultName: string, issuer: string, _o, command: Command) =>
    withCore(command, async (core) =>
      printAcme(await core.acme.get(await core.vaults.get(vaultName), issuer)),
    ),
  );

acme
  .command("delete")
  .argument("<vault>")
  .argument("<issuer>")
  .description("remove an issuer's ACME settings")
  .action((vaultName: string, issuer: string, _o, command: Command) =>
    withCore(command, async (core) => {
      await core.acme.remove(await core.vaults.get(vaultName), issuer);
      console.log(`ACME settings of ${issuer} deleted`);
    }),
  );

const ca = program.command("ca").description("private certificate authorities: create, sign, revoke, CRLs");

const caOptions = (c: Command) =>
  c
    .requiredOption("--subject <dn>", 'distinguished name, e.g. "CN=Example Root CA, O=Example"')
    .addOption(new Option("--key <algorithm>", "key type (default EC-P256)").choices([...CA_KEY_ALGORITHMS]))
    .option("--hsm", "generate and keep the key in the HSM (pkcs11 settings)")
    .option("--validity-days <days>", "validity of the CA certificate (default 3650)")
    .option("--path-length <n>", "how many intermediate CAs may follow below this one")
    .option("--crl-shards <n>", "spread revocations over this many CRLs (default 1)")
    .option("--policy <oid...>", "certificate policy OIDs for the CA and what it issues")
    .option("--permit-dns <name...>", "permitted DNS subtrees (name constraints)")
    .option("--exclude-dns <name...>", "excluded DNS subtrees")
    .option("--permit-ip <cidr...>", "permitted IP ranges")
    .option("--exclude-ip <cidr...>", "excluded IP ranges")
    .option("--permit-email <value...>", "permitted e-mail boxes or domains")
    .option("--exclude-email <value...>", "excluded e-mail boxes or domains")
    .option("--permit-uri <host...>", "permitted URI hosts")
    .option("--exclude-uri <host...>", "excluded URI hosts");

interface CaFlags {
  subject: string;
  key?: string;
  hsm?: boolean;
  validityDays?: string;
  pathLength?: string;
  crlShards?: string;
  policy?: string[];
  permitDns?: string[];
  excludeDns?: string[];
  permitIp?: string[];
  excludeIp?: string[];
  permitEmail?: string[];
  excludeEmail?: string[];
  permitUri?: string[];
  excludeUri?: string[];
}

const number = (text: string | undefined, what: string) => {
  if (text === undefined) return undefined;
  if (!/^\d+$/.test(text)) throw new DomainError("BadParameter", `${what} must be a whole number`);
  return Number(text);
};

function caInput(name: string, o: CaFlags) {
  const constrained = [
    o.permitDns,
    o.excludeDns,
    o.permitIp,
    o.excludeIp,
    o.permitEmail,
    o.excludeEmail,
    o.permitUri,
    o.excludeUri,
  ].some((list) => list && list.length > 0);
  return {
    name,
    subject: o.subject,
    keyAlgorithm: o.key as CertificateAuthority["keyAlgorithm"] | undefined,
    protection: o.hsm ? ("hsm" as const) : ("software" as const),
    validityDays: number(o.validityDays, "--validity-days"),
    pathLength: number(o.pathLength, "--path-length"),
    crlShards: number(o.crlShards, "--crl-shards"),
    policies: o.policy,
    nameConstraints: constrained
      ? {
          permitted: {
            dns: o.permitDns ?? [],
            ip: o.permitIp ?? [],
            email: o.permitEmail ?? [],
            uri: o.permitUri ?? [],
          },
          excluded: {
            dns: o.excludeDns ?? [],
            ip: o.excludeIp ?? [],
            email: o.excludeEmail ?? [],
            uri: o.excludeUri ?? [],
          },
        }
      : undefined,
  };
}

function printCa(c: CertificateAuthority, urls: { crl: string; aia: string }) {
  console.log(
    [
      `name:           ${c.name}`,
      `id:             ${c.id}`,
      `kind:           ${c.kind}`,
      `status:         ${c.status}`,
      `subject:        ${c.subject}`,
      `key:            ${c.keyAlgorithm} (${c.protection})`,
      `path length:    ${c.pathLength ?? "unlimited"}`,
      `CRL shards:     ${c.crlShards}`,
      `expires:        ${c.notAfter?.toISOString() ?? "not signed yet"}`,
      `CA certificate: ${urls.aia}`,
      `full CRL:       ${urls.crl}`,
    ].join("\n"),
  );
}

const printIssued = (i: IssuedCertificate) =>
  console.log(
    `${i.serial}\t${i.status}${i.reason ? ` (${i.reason})` : ""}\t${i.notAfter.toISOString()}\t${i.subject}${
      i.vault ? `\t${i.vault.vaultName}/${i.vault.name}/${i.vault.version}` : ""
    }`,
  );

const showCa = (core: Awaited<ReturnType<typeof openCore>>, c: CertificateAuthority) =>
  printCa(c, {
    aia: `${core.pkiBase.url}/pki/ca/${c.id}.crt`,
    crl: `${core.pkiBase.url}/pki/crl/${c.id}.crl`,
  });

caOptions(ca.command("create-root").argument("<name>", "CA name, letters, digits and hyphens"))
  .description("create a self-signed root CA")
  .action((name: string, o: CaFlags, command: Command) =>
    withCore(command, async (core) => showCa(core, await core.ca.createRoot(caInput(name, o)))),
  );

caOptions(ca.command("create-intermediate").argument("<name>"))
  .description("create an intermediate CA signed by a CA here (--parent) or by an external CA (--external)")
  .option("--parent <ca>", "the CA of this installation that signs it")
  .option("--external", "write a CSR for an external CA; then run `strongroom ca import`")
  .option("--csr-out <file>", "where to write the CSR with --external (default: standard output)")
  .action(
    (name: string, o: CaFlags & { parent?: string; external?: boolean; csrOut?: string }, command: Command) =>
      withCore(command, async (core) => {
        const created = await core.ca.createIntermediate({
          ...caInput(name, o),
          parent: o.parent,
          external: o.external,
        });
        if (created.csr) {
          const pem = toPem("CERTIFICATE REQUEST", created.csr);
          if (o.csrOut) writeFileSync(o.csrOut, pem);
          else process.stdout.write(pem);
          console.error(
            `CA ${name} awaits its certificate: have the CSR signed, then run strongroom ca import ${name} --certificate <file>`,
          );
          return;
        }
        showCa(core, created);
      }),
  );

ca.command("import")
  .argument("<name>")
  .requiredOption("--certificate <file>", "PEM: the CA's certificate, then the chain above it")
  .description("complete an externally signed intermediate with its certificate")
  .action((name: string, o: { certificate: string }, command: Command) =>
    withCore(command, async (core) =>
      showCa(core, await core.ca.importCertificate(name, fromPem(readFileSync(o.certificate, "utf8")))),
    ),
  );

ca.command("list")
  .description("list CAs")
  .action((_o, command: Command) =>
    withCore(command, async (core) => {
      for (const c of await core.ca.list())
        console.log(`${c.name}\t${c.kind}\t${c.status}\t${c.keyAlgorithm}\t${c.protection}\t${c.subject}`);
    }),
  );

ca.command("show")
  .argument("<name>")
  .option("--pem", "print the CA certificate and its chain as PEM instead")
  .description("show one CA")
  .action((name: string, o: { pem?: boolean }, command: Command) =>
    withCore(command, async (core) => {
      const c = await core.ca.get(name);
      if (!o.pem) return showCa(core, c);
      for (const der of [c.certificate, ...c.chain]) if (der) process.stdout.write(toPem("CERTIFICATE", der));
    }),
  );

ca.command("sign")
  .argument("<name>", "the issuing CA")
  .requiredOption("--csr <file>", "PKCS#10 request, PEM")
  .option("--validity-days <days>", "default 90")
  .option("-o, --output <file>", "write the certificate and chain (PEM) here instead of standard output")
  .description("sign a CSR with its own subject and SANs, within the CA's constraints")
  .action((name: string, o: { csr: string; validityDays?: string; output?: string }, command: Command) =>
    withCore(command, async (core) => {
      const [csr] = fromPem(readFileSync(o.csr, "utf8"));
      if (!csr) throw new DomainError("BadParameter", `${o.csr} holds no PEM certificate request`);
      const { issued, chain } = await core.ca.signCsr(name, csr, {
        validityDays: number(o.validityDays, "--validity-days"),
      });
      const pem = [issued.der, ...chain].map((c) => toPem("CERTIFICATE", c)).join("");
      if (o.output) writeFileSync(o.output, pem);
      else process.stdout.write(pem);
      console.error(`Issued serial ${issued.serial}`);
    }),
  );

ca.command("issued")
  .argument("<name>")
  .option("--limit <n>", "default 100")
  .option("--after <serial>", "continue after this serial")
  .description("list what a CA issued, with status")
  .action((name: string, o: { limit?: string; after?: string }, command: Command) =>
    withCore(command, async (core) => {
      for (const i of await core.ca.listIssued(name, number(o.limit, "--limit"), o.after)) printIssued(i);
    }),
  );

interface TargetFlags {
  serial?: string;
  ca?: string;
  vault?: string;
  certificate?: string;
  version?: string;
}

const targetOptions = (c: Command) =>
  c
    .option("--serial <hex>", "the certificate's serial number")
    .option("--ca <name>", "the CA that issued it (when a serial is ambiguous)")
    .option("--vault <name>", "with --certificate and --version: a vault certificate version")
    .option("--certificate <name>", "vault certificate name")
    .option("--version <version>", "vault certificate version");

async function targetOf(service: CaService, core: Awaited<ReturnType<typeof openCore>>, o: TargetFlags) {
  if (o.serial) return service.findIssued(o.serial, o.ca);
  if (o.vault && o.certificate && o.version) {
    const vault = await core.vaults.get(o.vault);
    return service.findIssuedForVersion(vault.id, o.certificate, o.version);
  }
  throw new DomainError("BadParameter", "Give --serial, or --vault with --certificate and --version");
}

targetOptions(ca.command("revoke"))
  .option(
    "--reason <reason>",
    "RFC 5280 reason: unspecified, keyCompromise, cACompromise, affiliationChanged, superseded, cessationOfOperation, certificateHold, privilegeWithdrawn, aACompromise",
  )
  .description("revoke a certificate (certificateHold puts it on hold; `ca release` lifts a hold)")
  .action((o: TargetFlags & { reason?: string }, command: Command) =>
    withCore(command, async (core) =>
      printIssued(await core.ca.revoke(await targetOf(core.ca, core, o), parseReason(o.reason))),
    ),
  );

targetOptions(ca.command("release"))
  .description("take a certificate off hold (removeFromCRL)")
  .action((o: TargetFlags, command: Command) =>
    withCore(command, async (core) => printIssued(await core.ca.release(await targetOf(core.ca, core, o)))),
  );

ca.command("crl")
  .argument("<name>")
  .option("--shard <n>", "one shard's CRL instead of the full CRL")
  .option("--pem", "PEM instead of DER")
  .requiredOption("-o, --output <file>", "where to write the CRL")
  .description("write a CA's current CRL")
  .action((name: string, o: { shard?: string; pem?: boolean; output: string }, command: Command) =>
    withCore(command, async (core) => {
      const c = await core.ca.get(name);
      const crl = await core.ca.crl(c.id, number(o.shard, "--shard") ?? FULL_CRL);
      if (!crl) throw new DomainError("NotFound", `CA ${name} has no such CRL`);
      writeFileSync(o.output, o.pem ? toPem("X509 CRL", crl.der) : crl.der);
      console.error(`CRL number ${crl.number}, next update ${crl.nextUpdate.toISOString()}`);
    }),
  );

const jobs = program.command("jobs").description("run scheduled jobs by hand");

jobs
  .command("run")
  .argument("<job>", "purge, expiry-notices, renewals, pending-issuance, acme-upkeep, crl, …")
  .description("run one job now (it waits its turn if another node holds the job's lease)")
  .action((name: string, _o, command: Command) =>
    withCore(command, async (core) => {
      const summary = await createJobs(core).runOnce(name);
      console.log(
        summary === undefined
          ? `Job ${name} is running on another node; try again later`
          : `${name}: ${summary}`,
      );
    }),
  );

registerAuditCommands(program, withCore);

program.parseAsync().catch((error: unknown) => {
  if (error instanceof ConfigError || error instanceof DomainError) {
    console.error(`strongroom: ${error.message}`);
  } else {
    console.error("strongroom: unexpected failure", error);
  }
  process.exit(1);
});
