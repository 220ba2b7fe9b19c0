import { type Command, Option } from "commander";
import { APPROVAL_STATES, type ApprovalRequest, approvalData } from "../domain/approvals/model.js";
import { cliPrincipal } from "./cli-audit.js";
import { jsonOption, printJson, wholeNumber, withCore } from "./program.js";

const line = (a: ApprovalRequest) =>
  [
    a.id,
    a.state.padEnd(8),
    `${a.votes.filter((v) => v.decision === "approve").length}/${a.required}`.padEnd(5),
    a.entry.padEnd(16),
    a.requester,
    a.summary,
  ].join("  ");

const show = (a: ApprovalRequest, json: boolean | undefined) => {
  if (json) return printJson(approvalData(a));
  for (const [k, v] of Object.entries(approvalData(a)))
    console.log(`${k.padEnd(10)} ${typeof v === "object" ? JSON.stringify(v) : v}`);
};

/** `strongroom approvals list|show|approve|deny`, straight from the database as the CLI's principal. */
export function registerApprovalCommands(program: Command): void {
  const approvals = program
    .command("approvals")
    .description("requests the organisation rules hold until enough approvers agree");

  jsonOption(
    approvals
      .command("list")
      .description(
        "approval requests, newest first: id, state, approvals/required, entry, requester, summary",
      )
      .addOption(new Option("--state <state>", "which state (default pending)").choices([...APPROVAL_STATES]))
      .option("--limit <n>", "at most this many (default 100)"),
  ).action((o: { state?: string; limit?: string; json?: boolean }, command: Command) =>
    withCore(command, async (core) => {
      const list = await core.approvals.list({
        state: (o.state ?? "pending") as ApprovalRequest["state"],
        limit: wholeNumber(o.limit, "--limit"),
      });
      if (o.json) printJson({ value: list.map(approvalData) });
      else for (const a of list) console.log(line(a));
    }),
  );

  jsonOption(approvals.command("show <id>").description("one approval request, every field")).action(
    (id: string, o: { json?: boolean }, command: Command) =>
      withCore(command, async (core) => show(await core.approvals.get(id), o.json)),
  );

  jsonOption(
    approvals
      .command("approve <id>")
      .description("approve a request (never one's own); it goes ahead once enough approvers agree")
      .option("--reason <text>", "why"),
  ).action((id: string, o: { reason?: string; json?: boolean }, command: Command) =>
    withCore(command, async (core) =>
      show(await core.approvals.approve(id, cliPrincipal(), o.reason), o.json),
    ),
  );

  jsonOption(
    approvals
      .command("deny <id>")
      .description("deny a request; the requester reads the reason in the failure")
      .requiredOption("--reason <text>", "why"),
  ).action((id: string, o: { reason: string; json?: boolean }, command: Command) =>
    withCore(command, async (core) => show(await core.approvals.deny(id, cliPrincipal(), o.reason), o.json)),
  );
}
