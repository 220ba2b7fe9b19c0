import type { Command } from "commander";
import { pushTargetView } from "../http/admin/push-target-routes.js";
import { jsonOption, printJson, withCore } from "./program.js";

type View = ReturnType<typeof pushTargetView>;

const line = (t: View) =>
  [
    t.name,
    `${t.vault}/${t.certificate} -> ${t.remoteVault ?? "?"}/${t.targetCertificate}`,
    t.state,
    t.deliveredVersion ? `delivered ${t.deliveredVersion} at ${t.deliveredAt}` : "nothing delivered",
    ...(t.error ? [`error: ${t.error}`] : []),
  ].join("\t");

/** `strongroom push-target create|list|show|delete`: new versions imported into another Key Vault. */
export function registerPushTargetCommands(program: Command): void {
  const group = program
    .command("push-target")
    .description("push targets: every new version of a certificate imported into a remote vault");

  jsonOption(
    group
      .command("create")
      .argument("<name>")
      .requiredOption("--certificate <name>", "the certificate whose new versions are pushed")
      .requiredOption(
        "--remote-vault <name>",
        "the remote vault to import into (strongroom discovery vault add): its URL and credential",
      )
      .option("--vault <name>", "the vault holding the certificate", "default")
      .option("--target-certificate <name>", "the certificate's name in the remote vault (default: the same)")
      .description(
        "push a certificate's versions to another Key Vault; the job imports the newest within seconds",
      ),
  ).action(
    (
      name: string,
      o: {
        certificate: string;
        remoteVault: string;
        vault: string;
        targetCertificate?: string;
        json?: boolean;
      },
      command: Command,
    ) =>
      withCore(command, async (core) => {
        const view = pushTargetView(
          await core.pushTargets.create({
            name,
            vault: o.vault,
            certificate: o.certificate,
            remoteVault: o.remoteVault,
            targetCertificate: o.targetCertificate,
          }),
        );
        if (o.json) printJson(view);
        else console.log(line(view));
      }),
  );

  jsonOption(group.command("list").description("push targets: source, target, state, last delivery")).action(
    (o: { json?: boolean }, command: Command) =>
      withCore(command, async (core) => {
        const views = (await core.pushTargets.list()).map(pushTargetView);
        if (o.json) printJson(views);
        else for (const v of views) console.log(line(v));
      }),
  );

  jsonOption(group.command("show").argument("<name>").description("one push target, every field")).action(
    (name: string, o: { json?: boolean }, command: Command) =>
      withCore(command, async (core) => {
        const view = pushTargetView(await core.pushTargets.get(name));
        if (o.json) printJson(view);
        else console.log(line(view));
      }),
  );

  group
    .command("delete")
    .argument("<name>")
    .description("stop pushing; what was imported stays in the remote vault")
    .action((name: string, _o: unknown, command: Command) =>
      withCore(command, async (core) => {
        await core.pushTargets.remove(name);
        console.log(`deleted ${name}`);
      }),
    );
}
