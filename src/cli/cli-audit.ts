import { userInfo } from "node:os";
import type { Command } from "commander";
import { type AuditScope, inAuditScope } from "../domain/audit/audit-scope.js";
import type { AuditService } from "../domain/audit/audit-service.js";
import type { AuditEntry } from "../domain/audit/model.js";
import { newId } from "../domain/ids.js";

/** The principal the log names for the command line: the operating-system user who ran it. */
export function cliPrincipal(): string {
  let name: string;
  try {
    name = userInfo().username;
  } catch {
    // A uid without a passwd entry (containers) still has a number.
    name = `uid ${process.getuid?.() ?? "unknown"}`;
  }
  return `cli:${name}`;
}

/**
 * Commands that do not record themselves: verify must read the log without adding to it, and must
 * still report when the log cannot be written (its head dropped).
 */
const UNRECORDED = new Set(["strongroom audit verify"]);

/** `strongroom ca create`, as the log names the operation. */
function operationOf(command: Command): string {
  const names: string[] = [];
  for (let c: Command | null = command; c; c = c.parent) names.unshift(c.name());
  return names.join(" ");
}

/**
 * Runs one command's work as an audited action of `cli:<os user>`: every change it makes commits
 * with an intent row, and a row with the outcome follows. Arguments are recorded as the object, not
 * options, which may hold secrets.
 */
export async function auditedCommand<T>(
  audit: Pick<AuditService, "record">,
  command: Command,
  work: () => Promise<T>,
): Promise<T> {
  if (UNRECORDED.has(operationOf(command))) return work();
  const started: AuditEntry = {
    time: new Date(),
    requestId: newId(),
    principalId: cliPrincipal(),
    operation: operationOf(command),
    objectId: command.args.length > 0 ? command.args.join(" ") : undefined,
    outcome: "pending",
    status: 0,
    clientAddress: "local",
    detail: "command line: direct access to the storage",
  };
  const scope: AuditScope = { entry: () => ({ ...started, time: new Date() }), intents: 0 };
  try {
    const result = await inAuditScope(scope, work);
    await audit.record({ ...started, time: new Date(), outcome: "success" });
    return result;
  } catch (error) {
    await audit.record({
      ...started,
      time: new Date(),
      outcome: "failure",
      detail: `${started.detail}; failed: ${(error as Error).message}`.slice(0, 500),
    });
    throw error;
  }
}
