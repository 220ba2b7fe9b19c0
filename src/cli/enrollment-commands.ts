import type { Command } from "commander";
import type { Config } from "../config/config.js";
import type { EnrollmentKind, EnrollmentProfile } from "../domain/enrollment/model.js";
import type { Core } from "../main.js";
import { jsonOption, wholeNumber as number, printJson, withCore } from "./program.js";

interface CreateFlags {
  ca: string;
  validityDays?: string;
  eku?: string[];
  principal?: string[];
  approval?: boolean;
  keyType?: string;
}

/** Where clients reach a profile on the main HTTPS listener. */
const profileUrl = (config: Config, kind: EnrollmentKind, label: string) =>
  kind === "est"
    ? `https://${config.publicHost}:${config.port}/.well-known/est/${label}/`
    : `https://${config.publicHost}:${config.port}/scep/${label}`;

const profileJson = (core: Core, p: EnrollmentProfile, caName: string) => ({
  label: p.label,
  kind: p.kind,
  ca: caName,
  url: profileUrl(core.config, p.kind, p.label),
  validityDays: p.validityDays,
  ekus: p.ekus,
  keyType: p.keyType ?? null,
  ...(p.kind === "est" ? { principals: p.principals } : { approval: p.approval }),
  createdAt: p.createdAt,
});

/** `strongroom est` and `strongroom scep`: the two groups share profile create, list and delete. */
function registerProfileGroup(program: Command, kind: EnrollmentKind, description: string): Command {
  const group = program.command(kind).description(description);
  const name = kind.toUpperCase();

  const create = group
    .command("create")
    .argument("<label>", "the profile's label in its URL: letters, digits and hyphens")
    .description(`create an ${name} profile that issues from a private CA`)
    .requiredOption("--ca <name>", "the private CA that signs")
    .option("--validity-days <days>", "validity of issued certificates (default 90)")
    .option("--eku <oid...>", "extended key usages (default serverAuth and clientAuth)")
    .option(
      "--key-type <type>",
      "the key type requests must carry, and EST csrattrs asks for: RSA-2048, RSA-3072, RSA-4096, EC-P256, EC-P384 or EC-P521 (default: any)",
    );
  if (kind === "est")
    create.option(
      "--principal <client-id...>",
      "principals allowed to enroll with HTTP Basic (default: any enabled principal)",
    );
  else create.option("--approval", "hold every request until one approver approves it");
  create.action((label: string, o: CreateFlags, command: Command) =>
    withCore(command, async (core) => {
      const profile = await core.enrollmentProfiles.create(kind, {
        label,
        ca: o.ca,
        validityDays: number(o.validityDays, "--validity-days"),
        ekus: o.eku,
        principals: o.principal,
        approval: o.approval,
        keyType: o.keyType,
      });
      console.log(
        `${name} profile ${profile.label} created: ${profileUrl(core.config, kind, profile.label)}`,
      );
    }),
  );

  jsonOption(group.command("list").description(`list the ${name} profiles`)).action(
    (o: { json?: boolean }, command: Command) =>
      withCore(command, async (core) => {
        const profiles = await core.enrollmentProfiles.list(kind);
        const names = new Map((await core.ca.list()).map((c) => [c.id, c.name]));
        const rows = profiles.map((p) => profileJson(core, p, names.get(p.caId) ?? p.caId));
        if (o.json) return printJson(rows);
        for (const r of rows) console.log(`${r.label}\tCA ${r.ca}\t${r.validityDays} days\t${r.url}`);
      }),
  );

  group
    .command("delete")
    .argument("<label>")
    .description(`delete an ${name} profile (certificates it issued stay valid)`)
    .action((label: string, _o: unknown, command: Command) =>
      withCore(command, async (core) => {
        await core.enrollmentProfiles.remove(kind, label);
        console.log(`${name} profile ${label} deleted`);
      }),
    );
  return group;
}

export function registerEnrollmentCommands(program: Command): void {
  registerProfileGroup(program, "est", "EST (RFC 7030) enrollment profiles of the private CA");
  const scep = registerProfileGroup(program, "scep", "SCEP (RFC 8894) enrollment profiles of the private CA");
  scep
    .command("challenge")
    .argument("<label>")
    .description("make a one-time challenge password for a SCEP profile (only its hash is stored)")
    .option("--ttl-minutes <minutes>", "how long it may be used (default 1440)")
    .action((label: string, o: { ttlMinutes?: string }, command: Command) =>
      withCore(command, async (core) => {
        const { password, expiresAt } = await core.enrollmentProfiles.newChallenge(
          label,
          number(o.ttlMinutes, "--ttl-minutes"),
        );
        console.log(password);
        console.error(`one-time; expires ${expiresAt.toISOString()}`);
      }),
    );
}
