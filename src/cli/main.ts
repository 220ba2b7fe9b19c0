#!/usr/bin/env node
import { ConfigError } from "../config/config.js";
import { DomainError } from "../domain/errors.js";
import { registerAccessCommands } from "./access-commands.js";
import { registerAcmeCommands } from "./acme-commands.js";
import { registerAuditCommands } from "./audit-commands.js";
import { registerCaCommands } from "./ca-commands.js";
import { registerCertCommands } from "./cert-commands.js";
import { registerIssuerCommands } from "./issuer-commands.js";
import { registerJobsCommands } from "./jobs-commands.js";
import { createProgram } from "./program.js";
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

program.parseAsync().catch((error: unknown) => {
  if (error instanceof ConfigError || error instanceof DomainError) {
    console.error(`strongroom: ${error.message}`);
  } else {
    console.error("strongroom: unexpected failure", error);
  }
  process.exit(1);
});
