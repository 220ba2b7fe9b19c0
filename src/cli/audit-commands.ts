import { createWriteStream, readFileSync, writeFileSync } from "node:fs";
import { type Command, Option } from "commander";
import { matches, toJsonLine, toOcsf } from "../domain/audit/audit-export.js";
import { checkpointFromText, checkpointToJson } from "../domain/audit/checkpoint-codec.js";
import type { AuditFilter, AuditOutcome, AuditRecord } from "../domain/audit/model.js";
import { badParameter } from "../domain/errors.js";
import { withCore } from "./program.js";

const FOLLOW_POLL_MS = 1000;

const time = (value: string | undefined, what: string): Date | undefined => {
  if (value === undefined) return undefined;
  const at = new Date(value);
  if (Number.isNaN(at.getTime()))
    throw badParameter(`${what} must be a date or time, e.g. 2026-01-31T12:00:00Z`);
  return at;
};

/** `strongroom audit`: verify, checkpoint and export the tamper-evident audit log. */
export function registerAuditCommands(program: Command): void {
  const audit = program
    .command("audit")
    .description("check, checkpoint and export the tamper-evident audit log");

  audit
    .command("verify")
    .description("walk the chain and report the first altered, inserted, deleted or cut row")
    .option("--checkpoint <file>", "also prove the log was not cut or rolled back since this checkpoint")
    .action((o: { checkpoint?: string }, command: Command) =>
      withCore(command, async (core) => {
        const checkpoint = o.checkpoint ? checkpointFromText(readFileSync(o.checkpoint, "utf8")) : undefined;
        const verdict = await core.audit.verify({
          onProgress: (rows) => process.stderr.write(`\rverified ${rows} rows…`),
          ...(checkpoint && { checkpoint, signer: core.auditSigner }),
        });
        process.stderr.write("\r");
        if (verdict.intact) {
          console.log(
            `Audit log intact: ${verdict.rows} rows verified${checkpoint ? `, consistent with the checkpoint at row ${checkpoint.seq}` : ""}`,
          );
          return;
        }
        console.error(
          `Audit log TAMPERED at row ${verdict.firstBadSeq} (${verdict.problem}): ${verdict.message}`,
        );
        console.error(
          "Restore the database from a backup taken before that row and investigate who had write access.",
        );
        process.exitCode = 2;
      }),
    );

  audit
    .command("checkpoint")
    .description("sign a checkpoint of the log as it is now and write it to a file kept elsewhere")
    .requiredOption("-o, --output <file>", "where to write the checkpoint (JSON)")
    .action((o: { output: string }, command: Command) =>
      withCore(command, async (core) => {
        const checkpoint = await core.audit.checkpoint(core.auditSigner, core.clock.now());
        writeFileSync(o.output, `${checkpointToJson(checkpoint)}\n`, { mode: 0o600 });
        console.error(`checkpoint at row ${checkpoint.seq} written to ${o.output}`);
      }),
    );

  audit
    .command("export")
    .description("write the audit log as JSON lines or OCSF API Activity events")
    .option("-o, --output <file>", "write to a file instead of standard output")
    .addOption(
      new Option("--format <format>", "json: the rows as stored; ocsf: OCSF 1.1 API Activity")
        .choices(["json", "ocsf"])
        .default("json"),
    )
    .option("--since <time>", "rows from this time on")
    .option("--until <time>", "rows before this time")
    .option("--principal <id>", "rows of this principal (id, client id, cli:<user> or system:<job>)")
    .option("--object <prefix>", "rows whose object id starts with this")
    .addOption(
      new Option("--outcome <outcome>", "rows with this outcome").choices([
        "success",
        "failure",
        "pending",
        "unknown",
      ]),
    )
    .option("--follow", "keep running and write new rows as they are committed")
    .action(
      (
        o: {
          output?: string;
          format: "json" | "ocsf";
          since?: string;
          until?: string;
          principal?: string;
          object?: string;
          outcome?: AuditOutcome;
          follow?: boolean;
        },
        command: Command,
      ) =>
        withCore(command, async (core) => {
          const filter: AuditFilter = {
            since: time(o.since, "--since"),
            until: time(o.until, "--until"),
            principal: o.principal,
            object: o.object,
            outcome: o.outcome,
          };
          const format = o.format === "ocsf" ? (r: AuditRecord) => JSON.stringify(toOcsf(r)) : toJsonLine;
          const out: NodeJS.WritableStream = o.output
            ? createWriteStream(o.output, { mode: 0o600 })
            : process.stdout;
          // Progress goes to stderr whenever it does not mix with the rows: a file, or a terminal.
          const showProgress = o.output !== undefined || process.stderr.isTTY;
          let scanned = 0;
          let written = 0;
          let after = 0;
          const drain = async () => {
            for await (const record of core.audit.records(after)) {
              after = record.seq;
              scanned += 1;
              if (matches(record, filter)) {
                if (!out.write(`${format(record)}\n`))
                  await new Promise<void>((r) => out.once("drain", () => r()));
                written += 1;
              }
              if (showProgress && scanned % 10_000 === 0) {
                process.stderr.write(`\rscanned ${scanned} rows, exported ${written}…`);
              }
            }
          };
          await drain();
          if (o.follow) {
            let stopped = false;
            const stop = () => {
              stopped = true;
            };
            process.once("SIGINT", stop);
            process.once("SIGTERM", stop);
            while (!stopped) {
              await new Promise((r) => setTimeout(r, FOLLOW_POLL_MS));
              await drain();
            }
          }
          if (o.output) {
            await new Promise<void>((resolve, reject) =>
              out.end((error?: Error | null) => (error ? reject(error) : resolve())),
            );
          }
          if (showProgress)
            process.stderr.write(
              `\rscanned ${scanned} rows, exported ${written}${o.output ? ` to ${o.output}` : ""}\n`,
            );
        }),
    );
}
