import type { Command } from "commander";
import { badParameter } from "../domain/errors.js";
import { createJobs, jobList } from "../main.js";
import { jsonOption, printJson, withCore } from "./program.js";

/** `strongroom jobs`: the scheduled jobs, listed and run by hand. */
export function registerJobsCommands(program: Command): void {
  const jobs = program.command("jobs").description("list the scheduled jobs and run one by hand");

  jsonOption(jobs.command("list"))
    .description("the scheduled jobs and how often a server runs each")
    .action((o: { json?: boolean }, command: Command) =>
      withCore(command, async (core) => {
        const all = jobList(core).map((j) => ({ name: j.name, intervalSeconds: j.intervalMs / 1000 }));
        if (o.json) return printJson(all);
        for (const j of all) console.log(`${j.name}\tevery ${j.intervalSeconds}s`);
      }),
    );

  jobs
    .command("run")
    .argument("[job]", "a job of `strongroom jobs list`: purge, renewals, pending-issuance, crl, …")
    .description("run one job now (it waits its turn if another node holds the job's lease)")
    .action((name: string | undefined, _o, command: Command) =>
      withCore(command, async (core) => {
        const names = jobList(core).map((j) => j.name);
        if (name === undefined || !names.includes(name))
          throw badParameter(
            `${name === undefined ? "Name the job to run" : `No job named ${name}`}; jobs: ${names.join(", ")}`,
          );
        const summary = await createJobs(core).runOnce(name);
        console.log(
          summary === undefined
            ? `Job ${name} is running on another node; try again later`
            : `${name}: ${summary}`,
        );
      }),
    );
}
