import type { Command } from "commander";
import type { AcmeProfileInput } from "../domain/acme-server/acme-profile-service.js";
import type { AcmeProfile, EabKey } from "../domain/acme-server/model.js";
import { badParameter } from "../domain/errors.js";
import { jsonOption, printJson, wholeNumber, withCore } from "./program.js";

interface ProfileFlags {
  ca?: string;
  description?: string;
  validityDays?: string;
  eku?: string[];
  keyTypes?: string;
  minRsaBits?: string;
  eab?: string;
  renewalWindow?: string;
  ordersPerAccount?: string;
  ordersPerIdentifier?: string;
  authzReuse?: string;
  authzReuseMaxAge?: string;
}

const collect = (value: string, previous: string[] = []) => [...previous, value];

function input(o: ProfileFlags): AcmeProfileInput {
  let window: [number, number] | undefined;
  if (o.renewalWindow !== undefined) {
    const match = /^(\d+)-(\d+)$/.exec(o.renewalWindow);
    if (!match) throw badParameter("--renewal-window is START-END in percent of the lifetime, e.g. 67-83");
    window = [Number(match[1]), Number(match[2])];
  }
  if (o.eab !== undefined && o.eab !== "required" && o.eab !== "optional")
    throw badParameter("--eab is required or optional");
  const reuse = o.authzReuse;
  if (reuse !== undefined && !["off", "valid", "pending"].includes(reuse))
    throw badParameter("--authz-reuse is off, valid or pending");
  return {
    ca: o.ca,
    description: o.description,
    validityDays: wholeNumber(o.validityDays, "--validity-days"),
    ekus: o.eku,
    keyTypes: o.keyTypes?.split(",").map((t) => t.trim()),
    minRsaBits: wholeNumber(o.minRsaBits, "--min-rsa-bits"),
    eabRequired: o.eab === undefined ? undefined : o.eab === "required",
    renewalWindowStartPercent: window?.[0],
    renewalWindowEndPercent: window?.[1],
    ordersPerAccountPerHour: wholeNumber(o.ordersPerAccount, "--orders-per-account"),
    ordersPerIdentifierPerHour: wholeNumber(o.ordersPerIdentifier, "--orders-per-identifier"),
    authzReuse: reuse === undefined ? undefined : reuse !== "off",
    pendingAuthzReuse: reuse === undefined ? undefined : reuse === "pending",
    authzReuseMaxAgeHours: wholeNumber(o.authzReuseMaxAge, "--authz-reuse-max-age"),
  };
}

const profileJson = (p: AcmeProfile, caName: string) => ({
  name: p.name,
  ca: caName,
  description: p.description,
  validityDays: p.validityDays,
  ekus: p.ekus,
  keyTypes: p.keyTypes,
  minRsaBits: p.minRsaBits,
  eabRequired: p.eabRequired,
  renewalWindowPercent: [p.renewalWindowStartPercent, p.renewalWindowEndPercent],
  ordersPerAccountPerHour: p.ordersPerAccountPerHour,
  ordersPerIdentifierPerHour: p.ordersPerIdentifierPerHour,
  authzReuse: p.authzReuse ? (p.pendingAuthzReuse ? "pending" : "valid") : "off",
  authzReuseMaxAgeHours: p.authzReuseMaxAgeHours,
  directoryPath: `/acme/${p.name}/directory`,
  createdAt: p.createdAt,
  updatedAt: p.updatedAt,
});

const profileLine = (p: AcmeProfile, caName: string) =>
  [
    p.name,
    caName,
    `${p.validityDays}d`,
    p.eabRequired ? "eab required" : "eab optional",
    `/acme/${p.name}/directory`,
  ].join("\t");

const keyLine = (k: EabKey) =>
  [k.keyId, k.createdAt.toISOString(), k.accountId ? `bound to account ${k.accountId}` : "unused"].join("\t");

/** Options shared by create and update: what a profile issues and whom it serves. */
function profileOptions(c: Command): Command {
  return c
    .option("--description <text>", "shown to clients in the directory's meta.profiles")
    .option("--validity-days <n>", "certificate lifetime in days (default 90)")
    .option("--eku <oid>", "an extended key usage OID; repeat for several (default serverAuth)", collect)
    .option("--key-types <list>", "accepted CSR key types, comma-separated: RSA,EC,Ed25519")
    .option("--min-rsa-bits <n>", "smallest RSA key accepted (default 2048)")
    .option("--eab <mode>", "required or optional: whether accounts need an External Account Binding")
    .option("--renewal-window <start-end>", "ARI window in percent of the lifetime (default 67-83)")
    .option("--orders-per-account <n>", "new orders one account may place per hour (default 300)")
    .option("--orders-per-identifier <n>", "orders naming one identifier per hour (default 50)")
    .option(
      "--authz-reuse <mode>",
      "off, valid (default: a new order reuses the account's valid authorizations) or pending (pending ones too)",
    )
    .option(
      "--authz-reuse-max-age <hours>",
      "reuse authorizations validated within this many hours (default 168)",
    );
}

/** `strongroom acme-profile …`: the ACME server's directories (the `acme` group configures the ACME client). */
export function registerAcmeProfileCommands(program: Command): void {
  const group = program
    .command("acme-profile")
    .description("ACME server directories on the private CA, served at /acme/{name}/directory");

  profileOptions(
    group
      .command("create")
      .argument("<name>", "the profile, part of the directory URL")
      .requiredOption("--ca <name>", "the private CA that signs"),
  )
    .description("create an ACME directory issuing from a private CA")
    .action((name: string, o: ProfileFlags, command: Command) =>
      withCore(command, async (core) => {
        const profile = await core.acmeProfiles.create(name, input(o));
        console.log(profileLine(profile, (await core.ca.get(profile.caId)).name));
      }),
    );

  jsonOption(group.command("list"))
    .description("list ACME directories: name, CA, validity, EAB, path")
    .action((o: { json?: boolean }, command: Command) =>
      withCore(command, async (core) => {
        const profiles = await core.acmeProfiles.list();
        const names = await Promise.all(profiles.map(async (p) => (await core.ca.get(p.caId)).name));
        if (o.json) printJson(profiles.map((p, i) => profileJson(p, names[i] as string)));
        else for (const [i, p] of profiles.entries()) console.log(profileLine(p, names[i] as string));
      }),
    );

  jsonOption(group.command("show").argument("<name>"))
    .description("show one ACME directory's settings and its EAB keys")
    .action((name: string, o: { json?: boolean }, command: Command) =>
      withCore(command, async (core) => {
        const profile = await core.acmeProfiles.get(name);
        const caName = (await core.ca.get(profile.caId)).name;
        const keys = await core.acmeProfiles.listEabKeys(name);
        if (o.json)
          printJson({
            ...profileJson(profile, caName),
            eabKeys: keys.map((k) => ({
              keyId: k.keyId,
              createdAt: k.createdAt,
              accountId: k.accountId ?? null,
            })),
          });
        else {
          printJson(profileJson(profile, caName));
          for (const k of keys) console.log(keyLine(k));
        }
      }),
    );

  profileOptions(
    group.command("update").argument("<name>").option("--ca <name>", "move issuance to another CA"),
  )
    .description("change an ACME directory's settings; accounts and orders stay")
    .action((name: string, o: ProfileFlags, command: Command) =>
      withCore(command, async (core) => {
        const profile = await core.acmeProfiles.update(name, input(o));
        console.log(profileLine(profile, (await core.ca.get(profile.caId)).name));
      }),
    );

  group
    .command("delete")
    .argument("<name>")
    .description("delete an ACME directory with its accounts, orders and EAB keys (issued certificates stay)")
    .action((name: string, _o, command: Command) =>
      withCore(command, async (core) => {
        await core.acmeProfiles.remove(name);
        console.log(`deleted ${name}`);
      }),
    );

  const eab = group.command("eab-key").description("External Account Binding keys (RFC 8555 §7.3.4)");
  jsonOption(eab.command("create").argument("<profile>"))
    .description("make an EAB key for a profile; its HMAC key is shown this once and stored only sealed")
    .action((profile: string, o: { json?: boolean }, command: Command) =>
      withCore(command, async (core) => {
        const key = await core.acmeProfiles.createEabKey(profile);
        if (o.json) printJson(key);
        else console.log(`key id\t${key.keyId}\nhmac key\t${key.hmacKey}`);
      }),
    );
  eab
    .command("list")
    .argument("<profile>")
    .description("list a profile's EAB keys and the accounts they bound (never the HMAC keys)")
    .action((profile: string, _o, command: Command) =>
      withCore(command, async (core) => {
        for (const k of await core.acmeProfiles.listEabKeys(profile)) console.log(keyLine(k));
      }),
    );
}
