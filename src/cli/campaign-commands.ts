import { setTimeout as delay } from "node:timers/promises";
import type { Command } from "commander";
import type { RevocationReason } from "../domain/ca/model.js";
import type { CampaignService } from "../domain/campaigns/campaign-service.js";
import type { CampaignProgress } from "../domain/campaigns/model.js";
import { campaignView, itemView, progressView } from "../http/admin/campaign-wire.js";
import { type InventoryFilters, inventoryQuery } from "../http/admin/inventory-wire.js";
import { campaignJob } from "../main.js";
import { inventoryFilterOptions } from "./inventory-commands.js";
import { jsonOption, printJson, wholeNumber, withCore } from "./program.js";

interface CreateFlags extends Omit<InventoryFilters, "expired"> {
  expired?: boolean;
  issuerName?: string;
  keyType?: string;
  newKeyType?: "EC" | "RSA";
  newKeySize?: string;
  newCurve?: string;
  revoke?: string;
  rate?: string;
  json?: boolean;
}

const BAR_WIDTH = 30;

/** `[#####.....] 50% 500/1000 done, 3 failed, 12.5/s, ETA 40s` */
export function progressBar(p: CampaignProgress): string {
  const settled = p.done + p.failed;
  const work = settled + p.remaining;
  const share = work === 0 ? 1 : settled / work;
  const filled = Math.round(share * BAR_WIDTH);
  return [
    `[${"#".repeat(filled)}${".".repeat(BAR_WIDTH - filled)}] ${Math.floor(share * 100)}%`,
    `${p.done}/${work} done, ${p.failed} failed, ${p.tasks} tasks`,
    `${p.ratePerSecond.toFixed(1)}/s`,
    p.etaSeconds === undefined ? "" : `ETA ${p.etaSeconds}s`,
  ]
    .filter(Boolean)
    .join(", ");
}

const statusLine = async (campaigns: CampaignService, name: string) => {
  const { campaign, progress } = await campaigns.status(name);
  return `${campaign.name}\t${campaign.state}\t${progressBar(progress)}`;
};

/** `strongroom campaign create|dry-run|run|status|pause|resume|cancel|retry|list`: bulk re-issuance. */
export function registerCampaignCommands(program: Command): void {
  const campaign = program
    .command("campaign")
    .description("re-issue certificates in bulk: select by an inventory query, dry-run, run, follow");

  jsonOption(
    inventoryFilterOptions(campaign.command("create").argument("<name>", "the campaign's name"))
      .option("--issuer-name <issuer>", "the vault issuer new versions come from (e.g. a new intermediate's)")
      .option("--new-key-type <kty>", "a new key type for the new versions: EC or RSA")
      .option("--new-key-size <bits>", "RSA key size of the new versions")
      .option("--new-curve <curve>", "EC curve of the new versions: P-256, P-384, P-521")
      .option(
        "--revoke <reason>",
        "revoke the old certificates once replaced (RFC 5280 reason, e.g. cACompromise)",
      )
      .option("--rate <per-second>", "at most this many certificates per second"),
  )
    .description("select the certificates now into a draft campaign; nothing is changed until `run`")
    .action((name: string, o: CreateFlags, command: Command) =>
      withCore(command, async (core) => {
        const { issuerName, newKeyType, newKeySize, newCurve, revoke, rate, json, ...filters } = o;
        const rateNumber = rate === undefined ? undefined : Number(rate);
        await core.campaigns.create(name, inventoryQuery(filters), {
          issuer: issuerName,
          keyType: newKeyType,
          keySize: wholeNumber(newKeySize, "--new-key-size"),
          curve: newCurve,
          revokeReason: revoke as RevocationReason | undefined,
          ratePerSecond: rateNumber,
        });
        const { campaign: made, progress } = await core.campaigns.status(name);
        if (json) printJson({ ...campaignView(made), progress: progressView(progress) });
        else
          console.log(`${made.name}\t${made.state}\t${progress.total} certificates, ${progress.tasks} tasks`);
      }),
    );

  jsonOption(
    campaign
      .command("dry-run")
      .argument("<name>", "the campaign")
      .option("--limit <n>", "at most this many certificates (default: all)"),
  )
    .description("exactly what running the campaign does to each certificate it selected")
    .action((name: string, o: { limit?: string; json?: boolean }, command: Command) =>
      withCore(command, async (core) => {
        const limit = wholeNumber(o.limit, "--limit");
        const items: ReturnType<typeof itemView>[] = [];
        let after: string | undefined;
        do {
          const page = await core.campaigns.dryRun(name, 1000, after);
          for (const item of page.items) {
            if (limit !== undefined && items.length >= limit) break;
            items.push(itemView(item));
          }
          after = limit !== undefined && items.length >= limit ? undefined : page.next;
        } while (after);
        if (o.json) printJson({ value: items });
        else for (const i of items) console.log(`${i.state}\t${i.subject}\t${i.step ?? ""}`);
      }),
    );

  jsonOption(
    campaign
      .command("run")
      .argument("<name>", "the campaign")
      .option("--detach", "only mark it running: the server's campaign job works through it"),
  )
    .description("start the campaign and work through it here, with a progress bar (stderr)")
    .action((name: string, o: { detach?: boolean; json?: boolean }, command: Command) =>
      withCore(command, async (core) => {
        const { campaign: current } = await core.campaigns.status(name);
        if (current.state === "draft") await core.campaigns.run(name);
        else if (current.state === "paused") await core.campaigns.resume(name);
        if (!o.detach) {
          const job = campaignJob(core);
          const abort = new AbortController();
          const stop = () => abort.abort();
          process.once("SIGINT", stop);
          const draw = setInterval(async () => {
            if (!o.json) process.stderr.write(`\r${await statusLine(core.campaigns, name)}`);
          }, 500);
          try {
            // The job works through every running campaign until none has items left or Ctrl-C.
            while (!abort.signal.aborted && (await core.campaigns.get(name)).state === "running") {
              await job.run(abort.signal);
              // Still running after a round: another process holds the last items; look again soon.
              await delay(1000);
            }
          } finally {
            clearInterval(draw);
            process.off("SIGINT", stop);
          }
        }
        const { campaign: after, progress } = await core.campaigns.status(name);
        if (o.json) printJson({ ...campaignView(after), progress: progressView(progress) });
        else console.log(`${o.detach ? "" : "\r"}${after.name}\t${after.state}\t${progressBar(progress)}`);
      }),
    );

  jsonOption(campaign.command("status").argument("<name>", "the campaign"))
    .option("--failures", "also list the certificates that failed, with their error")
    .description("progress: done, failed, remaining, rate and ETA")
    .action((name: string, o: { json?: boolean; failures?: boolean }, command: Command) =>
      withCore(command, async (core) => {
        const { campaign: found, progress } = await core.campaigns.status(name);
        const failed: ReturnType<typeof itemView>[] = [];
        if (o.failures) {
          let after: string | undefined;
          do {
            const page = await core.campaigns.items(name, 1000, after);
            failed.push(...page.items.filter((i) => i.state === "failed").map(itemView));
            after = page.next;
          } while (after);
        }
        if (o.json)
          printJson({
            ...campaignView(found),
            progress: progressView(progress),
            ...(o.failures && { failures: failed }),
          });
        else {
          console.log(`${found.name}\t${found.state}\t${progressBar(progress)}`);
          for (const f of failed) console.log(`failed\t${f.vault}/${f.certificate}\t${f.error}`);
        }
      }),
    );

  for (const [action, description] of [
    ["pause", "stop taking new certificates; those in hand finish"],
    ["resume", "carry on with a paused campaign"],
    ["cancel", "stop for good; what is done stays done"],
  ] as const) {
    jsonOption(campaign.command(action).argument("<name>", "the campaign"))
      .description(description)
      .action((name: string, o: { json?: boolean }, command: Command) =>
        withCore(command, async (core) => {
          const changed = await core.campaigns[action](name);
          if (o.json) printJson(campaignView(changed));
          else console.log(`${changed.name}\t${changed.state}`);
        }),
      );
  }

  jsonOption(campaign.command("retry").argument("<name>", "the campaign"))
    .description("put the failed certificates back in line; those done are not touched")
    .action((name: string, o: { json?: boolean }, command: Command) =>
      withCore(command, async (core) => {
        const { campaign: changed, retried } = await core.campaigns.retry(name);
        if (o.json) printJson({ ...campaignView(changed), retried });
        else console.log(`${changed.name}\t${changed.state}\t${retried} to retry`);
      }),
    );

  jsonOption(campaign.command("list"))
    .description("every campaign with its state")
    .action((o: { json?: boolean }, command: Command) =>
      withCore(command, async (core) => {
        const all = await core.campaigns.list();
        if (o.json) printJson({ value: all.map(campaignView) });
        else for (const c of all) console.log(await statusLine(core.campaigns, c.name));
      }),
    );
}
