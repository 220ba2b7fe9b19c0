#!/usr/bin/env node
import { registerAccessCommands } from "./access-commands.js";
import { registerAcmeCommands } from "./acme-commands.js";
import { registerAuditCommands } from "./audit-commands.js";
import { registerCaCommands } from "./ca-commands.js";
import { registerCertCommands } from "./cert-commands.js";
import { describeFailure } from "./failure.js";
import { registerInventoryCommands } from "./inventory-commands.js";
import { registerIssuerCommands } from "./issuer-commands.js";
import { registerJobsCommands } from "./jobs-commands.js";
import { createProgram } from "./program.js";
import { registerRemoteVaultCommands } from "./remote-vault-commands.js";
import { registerServeCommands } from "./serve-commands.js";
import { registerVaultCommands } from "./vault-commands.js";
import { registerWebhookCommands } from "./webhook-commands.js";

const program = createProgram();
registerServeCommands(program);
registerAccessCommands(program, registerVaultCommands(program));
registerCertCommands(program);
registerIssuerCommands(program);
registerWebhookCommands(program);
registerAcmeCommands(program);
registerCaCommands(program);
registerJobsCommands(program);
registerAuditCommands(program);
registerInventoryCommands(program);
registerRemoteVaultCommands(program);

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
