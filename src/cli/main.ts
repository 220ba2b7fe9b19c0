#!/usr/bin/env node
import { createWriteStream } from "node:fs";
import { Command, Option } from "commander";
import { type Config, ConfigError, loadConfig } from "../config/config.js";
import type { AcmeIssuerSettings, ChallengeSettings } from "../domain/acme/model.js";
import { DomainError } from "../domain/errors.js";
import type { Vault, VaultSettings } from "../domain/vaults/model.js";
import { createJobs, openCore, startStrongroom } from "../main.js";
import { registerAccessCommands } from "./access-commands.js";

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
    return await work(core);
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
    "--alias <host=vault>",
    "serve a vault at another host or IP, e.g. 127.0.0.2=team (repeatable; env STRONGROOM_ALIASES)",
    (pair: string, all: string[]) => [...all, pair],
    [],
  )
  .action(async (options: { host?: string; port?: string; alias: string[] }, command: Command) => {
    const aliases = options.alias.length > 0 ? options.alias.join(",") : undefined;
    const strongroom = await startStrongroom(
      config(command, { host: options.host, port: options.port, aliases }),
    );
    console.log(`Strongroom is serving the default vault at ${strongroom.admin.vaultUrl}`);
    console.log(`Administrator credentials: ${strongroom.core.config.dataDir}/admin.json`);
    if (strongroom.admin.caFile) console.log(`Trust this CA in clients: ${strongroom.admin.caFile}`);
    let stopping = false;
    const stop = async (signal: string) => {
      if (stopping) return;
      stopping = true;
      console.log(`${signal} received: finishing requests in flight, then stopping`);
      await strongroom.stop();
      process.exit(0);
    };
    process.on("SIGTERM", () => void stop("SIGTERM"));
    process.on("SIGINT", () => void stop("SIGINT"));
  });

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

const jobs = program.command("jobs").description("run scheduled jobs by hand");

jobs
  .command("run")
  .argument("<job>", "purge, expiry-notices, renewals, pending-issuance, acme-upkeep, …")
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

const audit = program.command("audit").description("check and export the tamper-evident audit log");

audit
  .command("verify")
  .description("walk the hash chain and report the first altered, inserted or deleted row")
  .action((_o, command: Command) =>
    withCore(command, async (core) => {
      const verdict = await core.audit.verify((rows) => process.stderr.write(`\rverified ${rows} rows…`));
      process.stderr.write("\r");
      if (verdict.intact) {
        console.log(`Audit log intact: ${verdict.rows} rows verified`);
        return;
      }
      console.error(
        `Audit log TAMPERED at row ${verdict.firstBadSeq} (${verdict.problem}): ${verdict.message}`,
      );
      console.error(
        "Restore the database from a backup taken before that row and investigate who had write access.",
      );
      process.exitCode = 2;
    }),
  );

audit
  .command("export")
  .description("write the audit log as JSON lines")
  .option("-o, --output <file>", "write to a file instead of standard output")
  .action((o: { output?: string }, command: Command) =>
    withCore(command, async (core) => {
      const out: NodeJS.WritableStream = o.output
        ? createWriteStream(o.output, { mode: 0o600 })
        : process.stdout;
      let rows = 0;
      for await (const record of core.audit.records()) {
        if (!out.write(`${JSON.stringify(record)}\n`))
          await new Promise<void>((r) => out.once("drain", () => r()));
        rows += 1;
        if (o.output && rows % 10_000 === 0) process.stderr.write(`\rexported ${rows} rows…`);
      }
      if (o.output) {
        await new Promise<void>((resolve, reject) =>
          out.end((error?: Error | null) => (error ? reject(error) : resolve())),
        );
        process.stderr.write(`\rexported ${rows} rows to ${o.output}\n`);
      }
    }),
  );

program.parseAsync().catch((error: unknown) => {
  if (error instanceof ConfigError || error instanceof DomainError) {
    console.error(`strongroom: ${error.message}`);
  } else {
    console.error("strongroom: unexpected failure", error);
  }
  process.exit(1);
});
