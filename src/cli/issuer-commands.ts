import type { Command } from "commander";
import type { CertificateIssuer } from "../domain/certificates/model.js";
import { jsonOption, printJson, vaultOption, withCore } from "./program.js";

/** An issuer as printed; its password is sealed and never shown, only whether one is set. */
const issuerSummary = (i: CertificateIssuer) => ({
  name: i.name,
  provider: i.provider,
  accountId: i.accountId ?? null,
  passwordSet: i.sealedPassword !== undefined,
  organizationId: i.organizationId ?? null,
  administrators: i.administrators,
  enabled: i.enabled,
  createdAt: i.createdAt,
  updatedAt: i.updatedAt,
});

const issuerLine = (i: CertificateIssuer) =>
  `${i.name}\t${i.provider}\t${i.enabled ? "enabled" : "disabled"}\t${i.accountId ?? "-"}`;

interface IssuerFlags {
  vault: string;
  provider?: string;
  accountId?: string;
  password?: string;
  organizationId?: string;
  admin?: string[];
  enabled?: boolean;
}

/** `--admin first,last,email,phone`: Key Vault's org_details.admin_details, one per flag. */
function administrators(list: string[] | undefined): CertificateIssuer["administrators"] | undefined {
  return list?.map((entry) => {
    const [firstName, lastName, email, phone] = entry.split(",").map((part) => part.trim());
    return {
      ...(firstName && { firstName }),
      ...(lastName && { lastName }),
      ...(email && { email }),
      ...(phone && { phone }),
    };
  });
}

/** `strongroom issuer`: Key Vault's certificate issuer objects (get, list, set, update, delete). */
export function registerIssuerCommands(program: Command): void {
  const issuer = program
    .command("issuer")
    .description(
      "certificate issuers of a vault: which CA (private CA, ACME, …) signs a policy's certificates",
    );

  const issuerOptions = (c: Command) =>
    vaultOption(c)
      .option("--account-id <id>", "PrivateCA: the CA's name; ACME: the EAB key id")
      .option("--password <password>", "ACME: the EAB HMAC key (stored sealed)")
      .option("--organization-id <id>", "organization id (org_details.id)")
      .option("--admin <first,last,email,phone...>", "organization administrators")
      .option("--disabled", "create it disabled")
      .option("--enabled", "enable it");

  const run = (merge: boolean) => (name: string, o: IssuerFlags & { disabled?: boolean }, command: Command) =>
    withCore(command, async (core) => {
      const vault = await core.vaults.get(o.vault);
      const set = await core.certificates.setIssuer(
        vault,
        name,
        {
          provider: o.provider,
          accountId: o.accountId,
          password: o.password,
          organizationId: o.organizationId,
          administrators: administrators(o.admin),
          enabled: o.disabled ? false : o.enabled,
        },
        merge,
      );
      console.log(issuerLine(set));
    });

  issuerOptions(
    issuer
      .command("set")
      .argument("<name>")
      .requiredOption("--provider <provider>", "PrivateCA, ACME, or another provider name"),
  )
    .description(
      "create or replace an issuer, e.g. `issuer set corp --provider PrivateCA --account-id issuing-ca`",
    )
    .action(run(false));

  issuerOptions(issuer.command("update").argument("<name>"))
    .option("--provider <provider>", "a new provider")
    .description("change some of an existing issuer's fields, keeping the others")
    .action(run(true));

  jsonOption(vaultOption(issuer.command("list")))
    .description("list issuers: name, provider, state, account id")
    .action((o: { vault: string; json?: boolean }, command: Command) =>
      withCore(command, async (core) => {
        const issuers = await core.certificates.listIssuers(await core.vaults.get(o.vault));
        if (o.json) return printJson(issuers.map(issuerSummary));
        for (const i of issuers) console.log(issuerLine(i));
      }),
    );

  jsonOption(vaultOption(issuer.command("show").argument("<name>")))
    .description("show one issuer (its password is never shown)")
    .action((name: string, o: { vault: string; json?: boolean }, command: Command) =>
      withCore(command, async (core) => {
        const s = issuerSummary(await core.certificates.getIssuer(await core.vaults.get(o.vault), name));
        if (o.json) return printJson(s);
        console.log(
          [
            `name:           ${s.name}`,
            `provider:       ${s.provider}`,
            `state:          ${s.enabled ? "enabled" : "disabled"}`,
            `account id:     ${s.accountId ?? "none"}`,
            `password:       ${s.passwordSet ? "set" : "none"}`,
            `organization:   ${s.organizationId ?? "none"}`,
            ...s.administrators.map(
              (a) =>
                `administrator:  ${[a.firstName, a.lastName, a.email, a.phone].filter(Boolean).join(" ")}`,
            ),
          ].join("\n"),
        );
      }),
    );

  vaultOption(issuer.command("delete").argument("<name>"))
    .description("delete an issuer; certificates pending at it fail")
    .action((name: string, o: { vault: string }, command: Command) =>
      withCore(command, async (core) => {
        await core.certificates.deleteIssuer(await core.vaults.get(o.vault), name);
        console.log(`Issuer ${name} deleted`);
      }),
    );
}
