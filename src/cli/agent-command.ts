import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import type { Command } from "commander";
import { runAgent, tlsJob } from "../agent/agent.js";
import { type AgentCredentials, createServerClient } from "../agent/server-client.js";
import { badParameter } from "../domain/errors.js";
import { wholeNumber } from "./program.js";

const { version } = createRequire(import.meta.url)("../../package.json") as { version: string };

function readCredentials(file: string): AgentCredentials {
  let parsed: Partial<AgentCredentials>;
  try {
    parsed = JSON.parse(readFileSync(file, "utf8")) as Partial<AgentCredentials>;
  } catch (error) {
    throw badParameter(`${file} is not a readable agent credentials file: ${(error as Error).message}`);
  }
  for (const key of [
    "name",
    "serverUrl",
    "tenantId",
    "clientId",
    "clientSecret",
    "authorityHost",
    "scope",
  ] as const) {
    if (typeof parsed[key] !== "string" || !parsed[key]) throw badParameter(`${file} has no ${key}`);
  }
  if (!parsed.serverUrl?.startsWith("https://")) throw badParameter(`${file}: serverUrl must be https://`);
  return parsed as AgentCredentials;
}

/**
 * `strongroom agent`: the discovery agent process. It talks to the server only over HTTPS, with the
 * credentials `strongroom discovery agent create` wrote, and stops cleanly on SIGTERM or SIGINT.
 */
export function registerAgentCommand(program: Command): void {
  program
    .command("agent")
    .description("run a discovery agent: scans what its server assigns it and reports back over HTTPS")
    .requiredOption("--credentials <file>", "the file `strongroom discovery agent create --out` wrote")
    .option("--poll-ms <ms>", "how often to ask for work when idle", "5000")
    .option("--heartbeat-ms <ms>", "how often to tell the server it is alive", "30000")
    .action(async (o: { credentials: string; pollMs: string; heartbeatMs: string }) => {
      const credentials = readCredentials(o.credentials);
      const stop = new AbortController();
      for (const signal of ["SIGTERM", "SIGINT"] as const) process.once(signal, () => stop.abort());
      const log = (line: string) =>
        console.log(`${new Date().toISOString()} agent ${credentials.name}: ${line}`);
      await runAgent({
        server: createServerClient(credentials),
        jobs: [tlsJob],
        version,
        pollMs: wholeNumber(o.pollMs, "--poll-ms"),
        heartbeatMs: wholeNumber(o.heartbeatMs, "--heartbeat-ms"),
        signal: stop.signal,
        log,
      });
      log("stopped");
    });
}
