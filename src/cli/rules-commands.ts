import type { Command } from "commander";
import type { Rule } from "../domain/rules/model.js";
import { parseRuleValue, RULE_KINDS, type RuleTargetInput } from "../domain/rules/rules-service.js";
import { findingView, ruleView } from "../http/admin/rules-routes.js";
import { gradingSummary } from "../jobs/grading-job.js";
import { jsonOption, printJson, wholeNumber, withCore } from "./program.js";

interface WhereFlags {
  vault?: string;
  ca?: string;
  profile?: string;
  owner?: string;
}

const where = (o: WhereFlags): RuleTargetInput => ({
  vault: o.vault,
  ca: o.ca,
  profile: o.profile,
  owner: o.owner,
});

const whereOptions = (c: Command): Command =>
  c
    .option("--vault <name>", "a vault's rule (default: the installation's)")
    .option("--ca <name>", "a private CA's rule")
    .option("--profile <kind:name>", "an ACME, EST or SCEP server profile's rule, e.g. acme:internal")
    .option("--owner <team-or-application>", "an owner's rule: grades the certificates it answers for");

const ruleLine = (r: Rule) =>
  [
    r.id,
    r.level === "installation" ? "installation" : `${r.level}:${r.targetName}`,
    r.kind,
    JSON.stringify(r.value),
    r.locked ? "locked" : "",
    r.entries ? `only ${r.entries.join(",")}` : "",
  ].join("\t");

/** `strongroom rules set|list|show|delete|grade|findings`: organisation rules and what grading finds. */
export function registerRulesCommands(program: Command): void {
  const rules = program
    .command("rules")
    .description(
      "organisation rules every certificate entering Strongroom must satisfy, and inventory grading",
    );

  jsonOption(
    whereOptions(
      rules
        .command("set")
        .argument("<kind>", `one of ${RULE_KINDS.join(", ")}`)
        .argument("<value>", "a list (comma-separated), a number, or true/false, as the kind takes")
        .option("--lock", "an installation rule that vaults, CAs and profiles cannot replace, only add to")
        .option("--entry <entry...>", "only at these entry points (keyvault-create, ca-sign, acme-issuer…)"),
    ),
  )
    .description("set (add or replace) a rule at the installation, a vault, a CA, a profile or an owner")
    .action(
      (
        kind: string,
        value: string,
        o: WhereFlags & { lock?: boolean; entry?: string[]; json?: boolean },
        command: Command,
      ) =>
        withCore(command, async (core) => {
          const rule = await core.rules.set({
            ...where(o),
            kind,
            value: parseRuleValue(kind, value),
            locked: o.lock,
            entries: o.entry,
          });
          if (o.json) printJson(ruleView(rule));
          else console.log(ruleLine(rule));
        }),
    );

  jsonOption(
    whereOptions(rules.command("list")).option(
      "--effective",
      "the rules that apply there, inherited ones included",
    ),
  )
    .description("list rules: all, those set at one place, or (--effective) those that apply there")
    .action((o: WhereFlags & { effective?: boolean; json?: boolean }, command: Command) =>
      withCore(command, async (core) => {
        const found = o.effective ? await core.rules.effective(where(o)) : await core.rules.list(where(o));
        if (o.json) printJson(found.map(ruleView));
        else for (const r of found) console.log(ruleLine(r));
      }),
    );

  jsonOption(rules.command("show").argument("<id>"))
    .description("show one rule")
    .action((id: string, o: { json?: boolean }, command: Command) =>
      withCore(command, async (core) => {
        const rule = await core.rules.show(id);
        if (o.json) printJson(ruleView(rule));
        else console.log(ruleLine(rule));
      }),
    );

  rules
    .command("delete")
    .argument("<id>")
    .description("delete a rule; what it governed falls back to the installation's rule of its kind")
    .action((id: string, _o, command: Command) =>
      withCore(command, async (core) => {
        await core.rules.remove(id);
        console.log(`deleted ${id}`);
      }),
    );

  jsonOption(
    rules.command("grade").option("--changed", "only the records changed since they were last graded"),
  )
    .description("grade the inventory now (every record, or --changed), printing progress")
    .action((o: { changed?: boolean; json?: boolean }, command: Command) =>
      withCore(command, async (core) => {
        const signal = new AbortController().signal;
        const report = (p: Parameters<typeof gradingSummary>[0]) => {
          if (!o.json) process.stderr.write(`\r${p.graded} graded`);
        };
        const progress = o.changed
          ? await core.grading.gradeChanged(signal, report)
          : await core.grading.gradeAll(signal, report);
        if (!o.json) process.stderr.write("\n");
        if (o.json) printJson(progress);
        else console.log(gradingSummary(progress));
      }),
    );

  jsonOption(
    rules
      .command("findings")
      .option("--limit <n>", "at most this many", "100")
      .option("--after <id>", "the page after this finding id"),
  )
    .description("list open findings, oldest first")
    .action((o: { limit: string; after?: string; json?: boolean }, command: Command) =>
      withCore(command, async (core) => {
        const page = await core.findings.listOpen(
          wholeNumber(o.limit, "--limit"),
          wholeNumber(o.after, "--after"),
        );
        if (o.json) printJson({ value: page.items.map(findingView), next: page.next ?? null });
        else
          for (const f of page.items)
            console.log([f.id, f.fingerprintSha256, f.kind, f.locationUri ?? "", f.reason].join("\t"));
      }),
    );
}
