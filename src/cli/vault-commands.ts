import { type Command, Option } from "commander";
import type { Config } from "../config/config.js";
import type { Vault, VaultSettings } from "../domain/vaults/model.js";
import { withCore } from "./program.js";

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

/** `strongroom vault`; returns the group so `vault access` can join it. */
export function registerVaultCommands(program: Command): Command {
  const vault = program.command("vault").description("create, list, show, update and delete vaults");
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
  return vault;
}
