import { readFileSync } from "node:fs";
import type { Command } from "commander";
import { AZURE_KEY_VAULT } from "../discovery/azure-key-vault-connector.js";
import { badParameter } from "../domain/errors.js";
import type { RemoteVault } from "../domain/remote-vaults/model.js";
import type { SyncResult } from "../domain/remote-vaults/remote-vault-service.js";
import { jsonOption, printJson, withCore } from "./program.js";

interface AddFlags {
  kind: string;
  url?: string;
  tenantId?: string;
  clientId?: string;
  authorityHost?: string;
  caFile?: string;
  clientSecretFile?: string;
  certificateFile?: string;
  disableChallengeResourceVerification?: boolean;
  sync?: boolean;
}

const readText = (file: string, what: string) => {
  try {
    return readFileSync(file, "utf8");
  } catch (error) {
    throw badParameter(
      `${what} ${file} cannot be read: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`,
    );
  }
};

const syncLine = (r: SyncResult) =>
  r.sync.status === "ok"
    ? `${r.name}\tok\t${r.sync.certificates} certificates\t${r.sync.gone} gone`
    : `${r.name}\tfailed\t${r.sync.error}`;

const vaultLine = (v: RemoteVault) =>
  [
    v.name,
    v.kind,
    v.url,
    v.lastSync
      ? `${v.lastSync.status} ${v.lastSync.at.toISOString()} ${v.lastSync.certificates} certificates${v.lastSync.error ? `: ${v.lastSync.error}` : ""}`
      : "never synced",
  ].join("\t");

const vaultJson = (v: RemoteVault) => ({
  name: v.name,
  kind: v.kind,
  url: v.url,
  settings: v.settings,
  secretFields: v.secretFields,
  createdAt: v.createdAt,
  lastSync: v.lastSync ?? null,
});

/** The `discovery` group, shared with the network and agent commands: found if already there, else made. */
function discoveryGroup(program: Command): Command {
  return (
    program.commands.find((c) => c.name() === "discovery") ??
    program.command("discovery").description("find certificates on networks, hosts and other vaults")
  );
}

/** `strongroom discovery vault add|list|remove|sync`: other vaults read into the inventory. */
export function registerRemoteVaultCommands(program: Command): void {
  const vault = discoveryGroup(program)
    .command("vault")
    .description(
      "remote vaults (Azure Key Vault or another Strongroom) whose certificates enter the inventory",
    );

  vault
    .command("add")
    .argument("<name>", "a name for the remote vault: letters, digits and hyphens")
    .requiredOption("--url <url>", "the vault's URL, e.g. https://contoso.vault.azure.net")
    .option("--kind <kind>", "the connector", AZURE_KEY_VAULT)
    .option("--tenant-id <id>", "the directory (tenant) of the credential")
    .option("--client-id <id>", "the application (client) id of the credential")
    .option("--authority-host <url>", "the identity provider (default https://login.microsoftonline.com)")
    .option("--ca-file <pem>", "trust this CA for the vault and the identity provider (a self-hosted server)")
    .option("--client-secret-file <file>", "a file holding the client secret")
    .option("--certificate-file <pem>", "a PEM file with the client certificate and its private key")
    .option(
      "--disable-challenge-resource-verification",
      "accept a token resource that is not a parent domain of the vault's host (a server at localhost)",
    )
    .option("--sync", "read the vault into the inventory at once")
    .description("register a remote vault; one read proves the URL and the credential before it is kept")
    .action((name: string, o: AddFlags, command: Command) =>
      withCore(command, async (core) => {
        const settings: Record<string, string> = {};
        if (o.tenantId) settings.tenantId = o.tenantId;
        if (o.clientId) settings.clientId = o.clientId;
        if (o.authorityHost) settings.authorityHost = o.authorityHost;
        if (o.caFile) settings.caPem = readText(o.caFile, "--ca-file");
        if (o.disableChallengeResourceVerification) settings.disableChallengeResourceVerification = "true";
        const secret: Record<string, string> = {};
        if (o.clientSecretFile)
          secret.clientSecret = readText(o.clientSecretFile, "--client-secret-file").trim();
        if (o.certificateFile) secret.certificate = readText(o.certificateFile, "--certificate-file");
        const added = await core.remoteVaults.add({
          name,
          kind: o.kind,
          url: o.url as string,
          settings,
          secret,
        });
        console.log(vaultLine(added));
        if (o.sync) console.log(syncLine(await core.remoteVaults.sync(added.name)));
      }),
    );

  jsonOption(vault.command("list"))
    .description("list remote vaults: name, kind, URL, last sync")
    .action((o: { json?: boolean }, command: Command) =>
      withCore(command, async (core) => {
        const vaults = await core.remoteVaults.list();
        if (o.json) printJson(vaults.map(vaultJson));
        else for (const v of vaults) console.log(vaultLine(v));
      }),
    );

  vault
    .command("remove")
    .argument("<name>")
    .description("unregister a remote vault; its certificates' locations are marked gone in the inventory")
    .action((name: string, _o, command: Command) =>
      withCore(command, async (core) => {
        await core.remoteVaults.remove(name);
        console.log(`removed ${name}`);
      }),
    );

  vault
    .command("sync")
    .argument("[name]", "one remote vault (default: all)")
    .description("read remote vaults into the inventory now; exits 1 if any failed")
    .action((name: string | undefined, _o, command: Command) =>
      withCore(command, async (core) => {
        const results = name
          ? [await core.remoteVaults.sync(name)]
          : await core.remoteVaults.syncAll(new AbortController().signal);
        for (const r of results) console.log(syncLine(r));
        if (results.some((r) => r.sync.status === "failed")) process.exitCode = 1;
      }),
    );
}
