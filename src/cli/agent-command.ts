import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { isAbsolute } from "node:path";
import type { Command } from "commander";
import { runAgent, tlsJob } from "../agent/agent.js";
import { createFileJob } from "../agent/file-job.js";
import { type AgentCredentials, type ClientCertificate, createServerClient } from "../agent/server-client.js";
import { readAgentConfig } from "../agent/sync/config.js";
import { keepInSync, vaultReader } from "../agent/sync/runner.js";
import { createStateReporter } from "../agent/sync/state-reporter.js";
import { createWakeup } from "../agent/sync/wakeup.js";
import { watchVersions } from "../agent/sync/watcher.js";
import { badParameter } from "../domain/errors.js";
import { wholeNumber } from "./program.js";

const { version } = createRequire(import.meta.url)("../../package.json") as { version: string };

function readCredentials(file: string, withCertificate: boolean): AgentCredentials {
  let parsed: Partial<AgentCredentials>;
  try {
    parsed = JSON.parse(readFileSync(file, "utf8")) as Partial<AgentCredentials>;
  } catch (error) {
    throw badParameter(`${file} is not a readable agent credentials file: ${(error as Error).message}`);
  }
  for (const key of ["name", "serverUrl", "tenantId", "clientId", "authorityHost", "scope"] as const) {
    if (typeof parsed[key] !== "string" || !parsed[key]) throw badParameter(`${file} has no ${key}`);
  }
  if (!withCertificate && (typeof parsed.clientSecret !== "string" || !parsed.clientSecret)) {
    throw badParameter(`${file} has no clientSecret; sign in with --certificate and --key instead`);
  }
  if (!parsed.serverUrl?.startsWith("https://")) throw badParameter(`${file}: serverUrl must be https://`);
  return parsed as AgentCredentials;
}

function readText(file: string, what: string): string {
  try {
    return readFileSync(file, "utf8");
  } catch (error) {
    throw badParameter(`${what} ${file} cannot be read: ${(error as Error).message}`);
  }
}

/** One password a line; a last empty line is the file's final newline, not an empty password. */
function readPasswords(file: string): string[] {
  const lines = readText(file, "--password-file").split(/\r?\n/);
  if (lines.at(-1) === "") lines.pop();
  return lines;
}

function clientCertificate(o: { certificate?: string; key?: string }): ClientCertificate | undefined {
  if (o.certificate === undefined && o.key === undefined) return undefined;
  if (o.certificate === undefined || o.key === undefined) {
    throw badParameter("--certificate and --key go together");
  }
  return { certificate: readText(o.certificate, "--certificate"), key: readText(o.key, "--key") };
}

const repeat = (value: string, all: string[]) => [...all, value];

interface AgentOptions {
  credentials: string;
  agentConfig?: string;
  pollMs: string;
  heartbeatMs: string;
  certificate?: string;
  key?: string;
  root: string[];
  exclude: string[];
  maxDepth?: string;
  passwordFile?: string;
  filesInterval: string;
}

/**
 * `strongroom agent`: the discovery agent process. It talks to the server only over HTTPS, with the
 * credentials `strongroom discovery agent create` wrote, and stops cleanly on SIGTERM or SIGINT.
 */
export function registerAgentCommand(program: Command): void {
  program
    .command("agent")
    .description(
      "run an agent: keeps the --config syncs' certificate files in step with the vault, scans what its server assigns it and its own --root trees, and reports back over HTTPS",
    )
    .requiredOption("--credentials <file>", "the file `strongroom discovery agent create --out` wrote")
    .option(
      "--agent-config <file>",
      "the agent's JSON configuration: the certificates it keeps on this host (syncs)",
    )
    .option("--poll-ms <ms>", "how often to ask for work when idle", "5000")
    .option("--heartbeat-ms <ms>", "how often to tell the server it is alive", "30000")
    .option(
      "--certificate <pem>",
      "sign in with this client certificate (registered on the agent's principal)",
    )
    .option("--key <pem>", "the private key of --certificate")
    .option("--root <dir>", "scan this directory tree for certificate files (repeatable)", repeat, [])
    .option(
      "--exclude <glob>",
      "leave out paths matching this glob (repeatable; with a / whole paths)",
      repeat,
      [],
    )
    .option("--max-depth <n>", "directory levels entered below each root (default 16)")
    .option("--password-file <file>", "passwords for PKCS#12 files and keystores, one a line")
    .option("--files-interval <seconds>", "how often the roots are scanned again", "3600")
    .action(async (o: AgentOptions) => {
      const certificate = clientCertificate(o);
      const credentials = readCredentials(o.credentials, certificate !== undefined);
      const config = o.agentConfig === undefined ? { syncs: [] } : readAgentConfig(o.agentConfig);
      const passwords = o.passwordFile === undefined ? [] : readPasswords(o.passwordFile);
      for (const root of o.root) {
        if (!isAbsolute(root)) throw badParameter(`--root ${root} must be an absolute path`);
      }
      const maxDepth = wholeNumber(o.maxDepth, "--max-depth");
      const filesIntervalS = wholeNumber(o.filesInterval, "--files-interval");
      if (filesIntervalS < 60) throw badParameter("--files-interval must be at least 60 seconds");
      let server: ReturnType<typeof createServerClient>;
      try {
        server = createServerClient(credentials, certificate);
      } catch (error) {
        throw badParameter(`cannot sign in: ${(error as Error).message}`);
      }
      const stop = new AbortController();
      for (const signal of ["SIGTERM", "SIGINT"] as const) process.once(signal, () => stop.abort());
      const log = (line: string) =>
        console.log(`${new Date().toISOString()} agent ${credentials.name}: ${line}`);
      const vault = vaultReader(server);
      const states = createStateReporter(server, log);
      const watched = config.syncs.map((spec) => ({ spec, wakeup: createWakeup() }));
      const syncs = [
        watchVersions(server, watched, stop.signal, log),
        ...watched.map(({ spec, wakeup }) =>
          keepInSync(spec, { vault, states, wakeup, signal: stop.signal, log }),
        ),
      ];
      await runAgent({
        server,
        jobs: [tlsJob, createFileJob({ agent: credentials.name, passwords, log })],
        version,
        pollMs: wholeNumber(o.pollMs, "--poll-ms"),
        heartbeatMs: wholeNumber(o.heartbeatMs, "--heartbeat-ms"),
        files:
          o.root.length === 0
            ? undefined
            : {
                spec: { roots: o.root, exclude: o.exclude, ...(maxDepth !== undefined && { maxDepth }) },
                intervalMs: filesIntervalS * 1000,
              },
        signal: stop.signal,
        log,
      });
      await Promise.all(syncs);
      log("stopped");
    });
}
