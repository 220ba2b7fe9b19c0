#!/usr/bin/env node
import { createCli } from "./commands.js";
import { describeFailure } from "./failure.js";

const program = createCli();

// The group a failing command belongs to, for the next step its error line suggests.
let group: string | undefined;
program.hook("preAction", (_program, action) => {
  group = action.parent?.name();
});

program.parseAsync().catch((error: unknown) => {
  const level = program.opts<{ logLevel?: string }>().logLevel;
  for (const line of describeFailure(error, group, level === "debug" || level === "trace"))
    console.error(line);
  process.exit(1);
});
