import { readFileSync } from "node:fs";
import type { Command } from "commander";
import type { PolicyInput } from "../domain/access/access-service.js";
import type { Principal } from "../domain/access/model.js";
import { badParameter } from "../domain/errors.js";
import type { Core } from "../main.js";
import { withCore } from "./program.js";

const principalLine = (p: Principal) =>
  `${p.id}\t${p.clientId}\t${p.kind}\t${p.enabled ? "enabled" : "disabled"}\t${p.displayName}`;

const date = (value: string | undefined) => {
  if (value === undefined) return undefined;
  const parsed = new Date(value);
  if (Number.isNaN(parsed.getTime()))
    throw badParameter(`"${value}" is not a date such as 2027-01-31T00:00:00Z`);
  return parsed;
};

/**
 * `strongroom principal|group|role|policy` and `vault access`. Changes made here reach running
 * servers within their accessCacheMs.
 */
export function registerAccessCommands(program: Command, vault: Command): void {
  const principal = program
    .command("principal")
    .description("create, list, show, enable, disable and delete users, service principals and groups");

  principal
    .command("create")
    .argument("<displayName>")
    .option("--kind <kind>", "servicePrincipal, user or group", "servicePrincipal")
    .option("--secret-expires <date>", "expiry of the first client secret (ISO 8601)")
    .description("create a principal; its client secret is printed once and kept only hashed")
    .action((displayName: string, o: { kind: string; secretExpires?: string }, command: Command) =>
      withCore(command, async (core) => {
        const created = await core.principals.create(
          displayName,
          o.kind as Principal["kind"],
          date(o.secretExpires),
        );
        console.log(`id:            ${created.principal.id}`);
        console.log(`client id:     ${created.principal.clientId}`);
        if (created.clientSecret) console.log(`client secret: ${created.clientSecret}  (shown once)`);
      }),
    );

  principal
    .command("list")
    .description("list principals: id, client id, kind, state, name")
    .action((_o, command: Command) =>
      withCore(command, async (core) => {
        for (const p of await core.principals.list()) console.log(principalLine(p));
      }),
    );

  principal
    .command("show")
    .argument("<id>", "object id or client id")
    .description("show a principal with its credentials, groups' members and role assignments")
    .action((id: string, _o, command: Command) =>
      withCore(command, async (core) => {
        const found = await core.principals.find(id);
        console.log(principalLine(found.principal));
        for (const s of found.secrets) {
          console.log(`secret       ${s.id}\t${s.hint}…\texpires ${s.expiresAt?.toISOString() ?? "never"}`);
        }
        for (const c of found.certificates) {
          console.log(
            `certificate  ${c.id}\t${c.thumbprintSha1.toUpperCase()}\texpires ${c.expiresAt.toISOString()}`,
          );
        }
        for (const f of found.federated) {
          console.log(`federated    ${f.id}\t${f.name}\t${f.issuer}\t${f.subject}`);
        }
        if (found.principal.kind === "group") {
          for (const m of await core.access.members(found.principal.id)) console.log(`member       ${m}`);
        }
        for (const a of await core.access.assignments(found.principal.id)) {
          console.log(`assignment   ${a.id}\t${(await core.access.findRole(a.roleId)).name}\t${a.scope}`);
        }
      }),
    );

  for (const [name, enabled] of [
    ["enable", true],
    ["disable", false],
  ] as const) {
    principal
      .command(name)
      .argument("<id>")
      .description(`${name} a principal (a disabled one can neither sign in nor use tokens it holds)`)
      .action((id: string, _o, command: Command) =>
        withCore(command, async (core) =>
          console.log(principalLine(await core.principals.update(id, { enabled }))),
        ),
      );
  }

  principal
    .command("delete")
    .argument("<id>")
    .description("delete a principal with its credentials, memberships, assignments and policies")
    .action((id: string, _o, command: Command) =>
      withCore(command, async (core) => {
        await core.principals.remove(id);
        console.log(`Principal ${id} deleted`);
      }),
    );

  principal
    .command("add-secret")
    .argument("<id>")
    .option("--expires <date>", "expiry (ISO 8601)")
    .description("add a client secret, printed once")
    .action((id: string, o: { expires?: string }, command: Command) =>
      withCore(command, async (core) => {
        const added = await core.principals.addSecret(id, date(o.expires));
        console.log(`secret id:     ${added.id}`);
        console.log(`client secret: ${added.clientSecret}  (shown once)`);
      }),
    );

  principal
    .command("add-certificate")
    .argument("<id>")
    .argument("<file>", "PEM or DER certificate whose key signs the client assertions")
    .option("--expires <date>", "stop accepting it before the certificate's own expiry")
    .description("register a client certificate (ClientCertificateCredential)")
    .action((id: string, file: string, o: { expires?: string }, command: Command) =>
      withCore(command, async (core) => {
        const added = await core.principals.addCertificate(id, readFileSync(file), date(o.expires));
        console.log(
          `${added.id}\t${added.thumbprintSha1.toUpperCase()}\texpires ${added.expiresAt.toISOString()}`,
        );
      }),
    );

  principal
    .command("add-federated")
    .argument("<id>")
    .requiredOption("--name <name>", "a name for this trust")
    .requiredOption("--issuer <url>", "the external OpenID Connect issuer")
    .requiredOption("--subject <sub>", "the subject its tokens must carry")
    .option("--audience <aud...>", "accepted audiences (default api://AzureADTokenExchange)")
    .option("--jwks-file <file>", "pin the issuer's JWK Set instead of discovering it")
    .description("trust tokens of an external issuer for this principal (workload identity)")
    .action(
      (
        id: string,
        o: { name: string; issuer: string; subject: string; audience?: string[]; jwksFile?: string },
        command: Command,
      ) =>
        withCore(command, async (core) => {
          const added = await core.principals.addFederated(id, {
            name: o.name,
            issuer: o.issuer,
            subject: o.subject,
            audiences: o.audience,
            jwks: o.jwksFile
              ? (JSON.parse(readFileSync(o.jwksFile, "utf8")) as { keys: unknown[] })
              : undefined,
          });
          console.log(
            `${added.id}\t${added.name}\t${added.issuer}\t${added.subject}\t${added.audiences.join(",")}`,
          );
        }),
    );

  for (const [name, remove] of [
    [
      "remove-secret",
      (core: Core, id: string, credential: string) => core.principals.removeSecret(id, credential),
    ],
    [
      "remove-certificate",
      (core: Core, id: string, credential: string) => core.principals.removeCertificate(id, credential),
    ],
    [
      "remove-federated",
      (core: Core, id: string, credential: string) => core.principals.removeFederated(id, credential),
    ],
  ] as const) {
    principal
      .command(name)
      .argument("<id>")
      .argument("<credentialId>")
      .description(`revoke a credential (${name.slice(7)}); tokens already issued run out within their hour`)
      .action((id: string, credential: string, _o, command: Command) =>
        withCore(command, async (core) => {
          await remove(core, id, credential);
          console.log(`Revoked ${credential}`);
        }),
      );
  }

  const group = program
    .command("group")
    .description("manage group membership (groups are principals of kind group)");
  group
    .command("add-member")
    .argument("<group>")
    .argument("<member>")
    .action((g: string, m: string, _o, command: Command) =>
      withCore(command, async (core) => {
        const [found, member] = [await core.principals.find(g), await core.principals.find(m)];
        await core.access.addMember(found.principal.id, member.principal.id);
        console.log(`${member.principal.displayName} is a member of ${found.principal.displayName}`);
      }),
    );
  group
    .command("remove-member")
    .argument("<group>")
    .argument("<member>")
    .action((g: string, m: string, _o, command: Command) =>
      withCore(command, async (core) => {
        const [found, member] = [await core.principals.find(g), await core.principals.find(m)];
        await core.access.removeMember(found.principal.id, member.principal.id);
        console.log(`${member.principal.displayName} left ${found.principal.displayName}`);
      }),
    );

  const role = program.command("role").description("list and define roles; assign them at scopes");
  role
    .command("list")
    .description("built-in and custom roles with their data actions")
    .action((_o, command: Command) =>
      withCore(command, async (core) => {
        for (const r of await core.access.roles()) {
          console.log(`${r.id}\t${r.builtIn ? "built-in" : "custom"}\t${r.name}`);
          for (const a of [...r.actions, ...r.dataActions]) console.log(`  + ${a}`);
          for (const a of [...r.notActions, ...r.notDataActions]) console.log(`  - ${a}`);
        }
      }),
    );
  role
    .command("create")
    .argument("<name>")
    .option("--description <text>")
    .option("--data-action <pattern...>", "granted data actions, * wildcards allowed")
    .option("--not-data-action <pattern...>", "data actions taken out again")
    .option(
      "--action <pattern...>",
      "granted admin API actions (Strongroom/admin/read, Strongroom/admin/write)",
    )
    .description("define a custom role")
    .action(
      (
        name: string,
        o: { description?: string; dataAction?: string[]; notDataAction?: string[]; action?: string[] },
        command: Command,
      ) =>
        withCore(command, async (core) => {
          const created = await core.access.createRole({
            name,
            description: o.description,
            dataActions: o.dataAction,
            notDataActions: o.notDataAction,
            actions: o.action,
          });
          console.log(`${created.id}\t${created.name}`);
        }),
    );
  role
    .command("delete")
    .argument("<role>", "id or name")
    .action((r: string, _o, command: Command) =>
      withCore(command, async (core) => {
        await core.access.deleteRole(r);
        console.log(`Role ${r} deleted`);
      }),
    );
  role
    .command("assign")
    .argument("<principal>", "object id or client id of a user, service principal or group")
    .argument("<role>", 'role id or name, e.g. "Key Vault Secrets User"')
    .argument("<scope>", "/, /vaults/{vault} or /vaults/{vault}/{secrets|keys|certificates}/{name}")
    .action((p: string, r: string, scope: string, _o, command: Command) =>
      withCore(command, async (core) => {
        const { principal: holder } = await core.principals.find(p);
        const a = await core.access.assign(holder.id, r, scope);
        console.log(`${a.id}\t${a.scope}`);
      }),
    );
  role
    .command("unassign")
    .argument("<assignmentId>")
    .action((id: string, _o, command: Command) =>
      withCore(command, async (core) => {
        await core.access.unassign(id);
        console.log(`Assignment ${id} removed`);
      }),
    );
  role
    .command("assignments")
    .option("--principal <id>", "only this principal's")
    .action((o: { principal?: string }, command: Command) =>
      withCore(command, async (core) => {
        const id =
          o.principal === undefined ? undefined : (await core.principals.find(o.principal)).principal.id;
        for (const a of await core.access.assignments(id)) {
          console.log(
            `${a.id}\t${a.principalId}\t${(await core.access.findRole(a.roleId)).name}\t${a.scope}`,
          );
        }
      }),
    );

  vault
    .command("access")
    .argument("<name>")
    .option("--rbac", "decide by role assignments (enableRbacAuthorization: true, the default)")
    .option("--access-policies", "decide by the vault's access policies (enableRbacAuthorization: false)")
    .option("--ip-rule <cidr...>", "allow only these client addresses or IPv4 ranges")
    .option("--allow-all-ips", "remove the IP rules")
    .description("show or change how a vault authorizes requests and which addresses may reach it")
    .action(
      (
        name: string,
        o: { rbac?: boolean; accessPolicies?: boolean; ipRule?: string[]; allowAllIps?: boolean },
        command: Command,
      ) =>
        withCore(command, async (core) => {
          const v = await core.vaults.get(name);
          const changes = {
            ...(o.rbac && { enableRbacAuthorization: true }),
            ...(o.accessPolicies && { enableRbacAuthorization: false }),
            ...(o.ipRule && { ipRules: o.ipRule }),
            ...(o.allowAllIps && { ipRules: [] }),
          };
          const settings =
            Object.keys(changes).length > 0
              ? await core.access.setVaultAccess(v, changes)
              : await core.access.vaultAccess(v);
          console.log(`authorization: ${settings.enableRbacAuthorization ? "RBAC" : "access policies"}`);
          console.log(`ip rules:      ${settings.ipRules.join(", ") || "none (all addresses allowed)"}`);
        }),
    );

  const policy = program
    .command("policy")
    .description("access policies of vaults with enableRbacAuthorization false");
  policy
    .command("set")
    .argument("<vault>")
    .argument("<principal>")
    .option("--keys <permission...>", "e.g. get list sign, or all")
    .option("--secrets <permission...>", "e.g. get list set, or all")
    .option("--certificates <permission...>", "e.g. get list managecontacts, or all")
    .description("replace a principal's (or group's) permissions in a vault")
    .action((vaultName: string, p: string, o: PolicyInput, command: Command) =>
      withCore(command, async (core) => {
        const v = await core.vaults.get(vaultName);
        const { principal: holder } = await core.principals.find(p);
        const set = await core.access.setPolicy(v, holder.id, o);
        console.log(
          `keys: ${set.keys.join(",")}  secrets: ${set.secrets.join(",")}  certificates: ${set.certificates.join(",")}`,
        );
      }),
    );
  policy
    .command("list")
    .argument("<vault>")
    .action((vaultName: string, _o, command: Command) =>
      withCore(command, async (core) => {
        for (const p of await core.access.policies(await core.vaults.get(vaultName))) {
          console.log(
            `${p.principalId}\tkeys:${p.keys.join(",")}\tsecrets:${p.secrets.join(",")}\tcertificates:${p.certificates.join(",")}`,
          );
        }
      }),
    );
  policy
    .command("delete")
    .argument("<vault>")
    .argument("<principal>")
    .action((vaultName: string, p: string, _o, command: Command) =>
      withCore(command, async (core) => {
        const { principal: holder } = await core.principals.find(p);
        await core.access.removePolicy(await core.vaults.get(vaultName), holder.id);
        console.log(`Access policy of ${p} removed from ${vaultName}`);
      }),
    );
}
