import type { Command } from "commander";
import { createJobs } from "../main.js";
import { withCore } from "./program.js";

/** `strongroom jobs`: the scheduled jobs, run by hand. */
export function registerJobsCommands(program: Command): void {
  const jobs = program.command("jobs").description("run scheduled jobs by hand");

  jobs
    .command("run")
    .argument("<job>", "purge, expiry-notices, renewals, pending-issuance, acme-upkeep, crl, …")
    .description("run one job now (it waits its turn if another node holds the job's lease)")
    .action((name: string, _o, command: Command) =>
      withCore(command, async (core) => {
        const summary = await createJobs(core).runOnce(name);
        console.log(
          summary === undefined
            ? `Job ${name} is running on another node; try again later`
            : `${name}: ${summary}`,
        );
      }),
    );
}
