import { Command, Option } from "commander";
import { type Config, loadConfig } from "../config/config.js";
import { badParameter } from "../domain/errors.js";
import { type Core, openCore } from "../main.js";

/** The `strongroom` command with its global options; each group adds its subcommands to it. */
export function createProgram(): Command {
  return new Command("strongroom")
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
}

/** The config a command runs with: the global options over env and the config file. */
export function config(command: Command, extra: Partial<Record<keyof Config, unknown>> = {}): Config {
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

export type WithCore = <T>(command: Command, work: (core: Core) => Promise<T>) => Promise<T>;

/**
 * The one place every one-off command gets its core: opens storage, runs the work and always
 * closes, so an interrupted command leaves no open database or HSM session behind.
 */
export const withCore: WithCore = async (command, work) => {
  const core = await openCore(config(command, { logLevel: "silent" }));
  try {
    return await work(core);
  } finally {
    await core.close();
  }
};

/** A whole-number option, refused with the option's name when it is anything else. */
export function wholeNumber(text: string, what: string): number;
export function wholeNumber(text: string | undefined, what: string): number | undefined;
export function wholeNumber(text: string | undefined, what: string): number | undefined {
  if (text === undefined) return undefined;
  if (!/^\d+$/.test(text)) throw badParameter(`${what} must be a whole number`);
  return Number(text);
}

/** `--json` on list and show commands: scripts read that instead of the tab-separated lines. */
export const jsonOption = (c: Command): Command =>
  c.option("--json", "print JSON instead of text (for scripts)");

/** Prints a JSON document; Dates become ISO 8601 strings, Buffers never reach here. */
export function printJson(value: unknown): void {
  console.log(JSON.stringify(value, null, 2));
}

/** The vault a command acts in: `--vault`, or the default vault. */
export const vaultOption = (c: Command): Command =>
  c.option("--vault <name>", "the vault (default: default)", "default");
