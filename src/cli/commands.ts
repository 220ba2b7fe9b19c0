import type { Command } from "commander";
import { registerAccessCommands } from "./access-commands.js";
import { registerAcmeCommands } from "./acme-commands.js";
import { registerAcmeProfileCommands } from "./acme-profile-commands.js";
import { registerAgentCommand } from "./agent-command.js";
import { registerAlertCommands } from "./alert-commands.js";
import { registerApprovalCommands } from "./approval-commands.js";
import { registerAuditCommands } from "./audit-commands.js";
import { registerCaCommands } from "./ca-commands.js";
import { registerCampaignCommands } from "./campaign-commands.js";
import { registerCertCommands } from "./cert-commands.js";
import { registerDiscoveryCommands } from "./discovery-commands.js";
import { registerEnrollmentCommands } from "./enrollment-commands.js";
import { registerInventoryCommands } from "./inventory-commands.js";
import { registerIssuerCommands } from "./issuer-commands.js";
import { registerJobsCommands } from "./jobs-commands.js";
import { createProgram } from "./program.js";
import { registerRemoteVaultCommands } from "./remote-vault-commands.js";
import { registerRulesCommands } from "./rules-commands.js";
import { registerServeCommands } from "./serve-commands.js";
import { registerUserCommands } from "./user-commands.js";
import { registerVaultCommands } from "./vault-commands.js";
import { registerWebhookCommands } from "./webhook-commands.js";

/** The whole `strongroom` command tree, every group registered, not yet parsed. */
export function createCli(): Command {
  const program = createProgram();
  registerServeCommands(program);
  registerAccessCommands(program, registerVaultCommands(program));
  registerUserCommands(program);
  registerCertCommands(program);
  registerIssuerCommands(program);
  registerWebhookCommands(program);
  registerAcmeCommands(program);
  registerAcmeProfileCommands(program);
  registerCaCommands(program);
  registerEnrollmentCommands(program);
  registerJobsCommands(program);
  registerAuditCommands(program);
  registerInventoryCommands(program);
  registerDiscoveryCommands(program);
  registerRemoteVaultCommands(program);
  registerRulesCommands(program);
  registerCampaignCommands(program);
  registerAlertCommands(program);
  registerApprovalCommands(program);
  registerAgentCommand(program);
  return program;
}
