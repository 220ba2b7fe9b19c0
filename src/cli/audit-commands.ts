import { createWriteStream } from "node:fs";
import type { Command } from "commander";
import { withCore } from "./program.js";

/** `strongroom audit`: the tamper-evident audit log. */
export function registerAuditCommands(program: Command): void {
  const audit = program.command("audit").description("check and export the tamper-evident audit log");

  audit
    .command("verify")
    .description("walk the hash chain and report the first altered, inserted or deleted row")
    .action((_o, command: Command) =>
      withCore(command, async (core) => {
        const verdict = await core.audit.verify((rows) => process.stderr.write(`\rverified ${rows} rows…`));
        process.stderr.write("\r");
        if (verdict.intact) {
          console.log(`Audit log intact: ${verdict.rows} rows verified`);
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
    .command("export")
    .description("write the audit log as JSON lines")
    .option("-o, --output <file>", "write to a file instead of standard output")
    .action((o: { output?: string }, command: Command) =>
      withCore(command, async (core) => {
        const out: NodeJS.WritableStream = o.output
          ? createWriteStream(o.output, { mode: 0o600 })
          : process.stdout;
        let rows = 0;
        for await (const record of core.audit.records()) {
          if (!out.write(`${JSON.stringify(record)}\n`))
            await new Promise<void>((r) => out.once("drain", () => r()));
          rows += 1;
          if (o.output && rows % 10_000 === 0) process.stderr.write(`\rexported ${rows} rows…`);
        }
        if (o.output) {
          await new Promise<void>((resolve, reject) =>
            out.end((error?: Error | null) => (error ? reject(error) : resolve())),
          );
          process.stderr.write(`\rexported ${rows} rows to ${o.output}\n`);
        }
      }),
    );
}
