import { type Command, Option } from "commander";
import type { AcmeIssuerSettings, ChallengeSettings } from "../domain/acme/model.js";
import { withCore } from "./program.js";

const printAcme = (s: AcmeIssuerSettings) => {
  const { type, solver, ...where } = s.challenge as ChallengeSettings & Record<string, string>;
  const detail = Object.values(where).join(" ");
  console.log(
    `${s.issuerName}\t${s.directoryUrl}\t${type} ${solver}${detail ? ` ${detail}` : ""}\t${s.contacts.join(",") || "no contact"}`,
  );
};

/** `strongroom acme`: settings of issuers whose provider is ACME. */
export function registerAcmeCommands(program: Command): void {
  const acme = program
    .command("acme")
    .description("ACME settings of issuers whose provider is ACME (directory, contacts, challenges)");

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
}
