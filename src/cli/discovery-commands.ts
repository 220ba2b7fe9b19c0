import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { hostname } from "node:os";
import { join } from "node:path";
import type { Command } from "commander";
import type { ScanInput } from "../domain/discovery/discovery-service.js";
import type { Agent, RunStatus, ScanRun } from "../domain/discovery/model.js";
import { badParameter } from "../domain/errors.js";
import { newId } from "../domain/ids.js";
import { agentView, resultView, runView } from "../http/admin/discovery-wire.js";
import { drainServerRuns } from "../jobs/discovery-job.js";
import type { Core } from "../main.js";
import { config, jsonOption, printJson, wholeNumber, withCore } from "./program.js";

type AgentView = ReturnType<typeof agentView>;

const repeat = (value: string, all: string[]) => [...all, ...value.split(",").filter(Boolean)];
const repeatWhole = (value: string, all: string[]) => [...all, value];

/** The `discovery` group, shared with the remote-vault commands: found if already there, else made. */
export function discoveryGroup(program: Command): Command {
  return (
    program.commands.find((c) => c.name() === "discovery") ??
    program.command("discovery").description("find certificates on networks, hosts and other vaults")
  );
}

interface ScanFlags {
  target: string[];
  port: string[];
  exclude: string[];
  sni: string[];
  starttls: string[];
  knownNames: boolean;
  concurrency?: string;
  timeoutMs?: string;
  rate?: string;
  name?: string;
  agent?: string;
  root: string[];
  maxDepth?: string;
  every?: string;
  wait?: boolean;
  json?: boolean;
}

/** `30s`, `15m`, `6h`, `1d` or plain seconds. */
function duration(text: string): number {
  const m = /^(\d+)([smhd]?)$/.exec(text.trim());
  if (!m?.[1]) throw badParameter(`"${text}" is not a duration such as 90s, 15m, 6h or 1d`);
  const unit = { "": 1, s: 1, m: 60, h: 3600, d: 86_400 }[m[2] ?? ""] ?? 1;
  return Number(m[1]) * unit * 1000;
}

function scanInput(o: ScanFlags): ScanInput {
  const starttls = Object.fromEntries(
    o.starttls.map((pair) => {
      const [port, protocol] = pair.split("=", 2);
      if (!port || !protocol) throw badParameter(`--starttls "${pair}" must look like 2525=smtp`);
      return [port, protocol];
    }),
  );
  const files = o.root.length > 0;
  return {
    kind: files ? "files" : "tls",
    ...(o.name !== undefined && { name: o.name }),
    ...(o.agent !== undefined && { agent: o.agent }),
    targets: o.target,
    ports: o.port,
    exclude: o.exclude,
    sni: o.sni,
    knownNames: o.knownNames,
    starttls,
    concurrency: wholeNumber(o.concurrency, "--concurrency"),
    timeoutMs: wholeNumber(o.timeoutMs, "--timeout-ms"),
    ratePerSecond: wholeNumber(o.rate, "--rate"),
    ...(files && { roots: o.root, maxDepth: wholeNumber(o.maxDepth, "--max-depth") }),
  };
}

const runLine = (r: ScanRun) =>
  [
    r.id,
    r.status.padEnd(9),
    `${r.done}/${r.total}`.padStart(11),
    `${r.failed} failed`.padStart(10),
    r.createdAt.toISOString(),
    r.name,
  ].join("  ");

/** One line redrawn in place on a terminal; a line per change elsewhere (logs, pipes). */
function progressBar(run: ScanRun): string {
  const width = 30;
  const filled = run.total > 0 ? Math.round((run.done / run.total) * width) : 0;
  return `[${"#".repeat(filled)}${"-".repeat(width - filled)}] ${run.done}/${run.total} done, ${run.failed} failed, ${Math.max(0, run.total - run.done)} remaining (${run.status})`;
}

const FINISHED: readonly RunStatus[] = ["completed", "cancelled", "failed"];

/**
 * Waits for a run to end, drawing its progress. A run for the server is scanned here too when no
 * server has taken it yet, so `--wait` works with or without a running server; the lease makes
 * sure only one of them scans it.
 */
async function waitFor(core: Core, id: string): Promise<ScanRun> {
  const stop = new AbortController();
  const first = await core.discovery.get(id);
  const scanning = first.agentId
    ? Promise.resolve()
    : drainServerRuns(core.discovery, `cli:${hostname()}:${process.pid}:${newId().slice(0, 8)}`, stop.signal);
  const tty = process.stderr.isTTY;
  let last = "";
  try {
    for (;;) {
      const run = await core.discovery.get(id);
      const bar = progressBar(run);
      if (bar !== last) process.stderr.write(tty ? `\r${bar}` : `${bar}\n`);
      last = bar;
      if (FINISHED.includes(run.status)) {
        if (tty) process.stderr.write("\n");
        return run;
      }
      await new Promise((r) => setTimeout(r, 250));
    }
  } finally {
    stop.abort();
    await scanning;
  }
}

const agentNames = async (core: Core) => new Map((await core.discovery.agents()).map((a) => [a.id, a.name]));

function printRun(run: ScanRun, json: boolean | undefined, agents: ReadonlyMap<string, string>) {
  if (json) return printJson(runView(run, agents));
  console.log(`id:        ${run.id}`);
  console.log(`name:      ${run.name}`);
  console.log(`status:    ${run.status}${run.error ? ` (${run.error})` : ""}`);
  console.log(
    `progress:  ${run.done}/${run.total} done, ${run.failed} failed, ${Math.max(0, run.total - run.done)} remaining`,
  );
  if (run.diff) {
    console.log(
      `changes:   ${run.diff.new.length} new, ${run.diff.changed.length} changed, ${run.diff.gone.length} gone`,
    );
    for (const e of run.diff.new) console.log(`  new      ${e.location}  ${e.fingerprint}`);
    for (const e of run.diff.changed)
      console.log(`  changed  ${e.location}  ${e.previous} -> ${e.fingerprint}`);
    for (const e of run.diff.gone) console.log(`  gone     ${e.location}  ${e.previous}`);
  }
}

/** `strongroom discovery scan|list|show|cancel|schedules|unschedule|agent …`, straight on the database. */
export function registerDiscoveryCommands(program: Command): void {
  const discovery = discoveryGroup(program);

  jsonOption(
    discovery
      .command("scan")
      .description("scan networks for TLS certificates (or, with --root and --agent, an agent's files)")
      .option(
        "--target <spec>",
        "address, CIDR, range (10.0.0.1-20) or host; addr=name,name adds SNI names for it (repeatable)",
        repeatWhole,
        [],
      )
      .option(
        "--port <ports>",
        "ports and ranges, e.g. 443,8443,9000-9010 (repeatable; default 443)",
        repeat,
        [],
      )
      .option("--exclude <spec>", "address, CIDR or range to leave out (repeatable)", repeatWhole, [])
      .option("--sni <name>", "server name to try on every target besides none (repeatable)", repeat, [])
      .option("--no-known-names", "do not try the DNS names earlier scans saw at each address")
      .option(
        "--starttls <port=protocol>",
        "STARTTLS (smtp, imap, pop3, ldap) on a port besides 25, 587, 110, 143, 389",
        repeatWhole,
        [],
      )
      .option("--concurrency <n>", "connections at once (default 64)")
      .option("--timeout-ms <ms>", "per endpoint: connect, STARTTLS and handshake (default 5000)")
      .option("--rate <n>", "new connections per second (default 500)")
      .option("--name <name>", "runs of one name are diffed against each other (default: from the targets)")
      .option("--agent <name>", "let this agent run the scan in its network")
      .option(
        "--root <dir>",
        "a file scan's root directory on the agent's host (repeatable)",
        repeatWhole,
        [],
      )
      .option("--max-depth <n>", "directory levels a file scan enters")
      .option("--every <duration>", "schedule it: run now and then every 15m, 6h, 1d …")
      .option("--wait", "wait for the run to end, with a progress bar on stderr"),
  ).action((o: ScanFlags, command: Command) =>
    withCore(command, async (core) => {
      if (o.every !== undefined) {
        if (!o.name) throw badParameter("A scheduled scan needs --name");
        const schedule = await core.discovery.schedule({
          ...scanInput(o),
          name: o.name,
          intervalMs: duration(o.every),
        });
        console.log(
          `schedule ${schedule.name}: every ${schedule.intervalMs / 1000}s, first run ${schedule.nextRunAt.toISOString()}`,
        );
        return;
      }
      const run = await core.discovery.scan(scanInput(o));
      if (!o.wait) {
        if (o.json) printJson(runView(run, await agentNames(core)));
        else console.log(`${run.id}  queued  ${run.name}`);
        return;
      }
      const ended = await waitFor(core, run.id);
      printRun(ended, o.json, await agentNames(core));
      if (ended.status !== "completed") process.exitCode = 1;
    }),
  );

  jsonOption(
    discovery
      .command("list")
      .description("scan runs, newest first: id, status, progress, failures, created, name")
      .option("--status <status>", "queued, running, completed, cancelled or failed")
      .option("--name <name>", "only runs of this name")
      .option("--limit <n>", "at most this many (default 100)"),
  ).action((o: { status?: string; name?: string; limit?: string; json?: boolean }, command: Command) =>
    withCore(command, async (core) => {
      const runs = await core.discovery.list({
        ...(o.status && { status: o.status as RunStatus }),
        ...(o.name && { name: o.name }),
        limit: wholeNumber(o.limit, "--limit") ?? 100,
      });
      const agents = await agentNames(core);
      if (o.json) printJson(runs.map((r) => runView(r, agents)));
      else for (const r of runs) console.log(runLine(r));
    }),
  );

  jsonOption(
    discovery
      .command("show")
      .argument("<id>", "scan run id")
      .option("--results", "also each endpoint's outcome, leaf fingerprint, TLS version and cipher")
      .option("--wait", "wait for the run to end first, with a progress bar on stderr")
      .description("a run's progress and its changes since the previous run of its name"),
  ).action((id: string, o: { results?: boolean; json?: boolean; wait?: boolean }, command: Command) =>
    withCore(command, async (core) => {
      const run = o.wait ? await waitFor(core, id) : await core.discovery.get(id);
      const results = o.results ? await core.discovery.results(id, { limit: 10_000 }) : [];
      const agents = await agentNames(core);
      if (o.json) {
        return printJson({ ...runView(run, agents), ...(o.results && { results: results.map(resultView) }) });
      }
      printRun(run, false, agents);
      for (const r of results) {
        console.log(
          [
            r.outcome.padEnd(9),
            r.location,
            r.fingerprint ?? r.error ?? "",
            r.tlsVersion ?? "",
            r.cipher ?? "",
          ].join("  "),
        );
      }
    }),
  );

  discovery
    .command("cancel")
    .argument("<id>", "scan run id")
    .description("stop a queued or running scan; what it found so far stays")
    .action((id: string, _o: unknown, command: Command) =>
      withCore(command, async (core) => {
        const run = await core.discovery.cancel(id);
        console.log(`${run.id}  ${run.status}  ${run.done}/${run.total} done`);
      }),
    );

  jsonOption(discovery.command("schedules").description("scheduled scans")).action(
    (o: { json?: boolean }, command: Command) =>
      withCore(command, async (core) => {
        const schedules = await core.discovery.schedules();
        if (o.json) return printJson(schedules);
        for (const s of schedules) {
          console.log(
            `${s.name}  every ${s.intervalMs / 1000}s  next ${s.nextRunAt.toISOString()}  ${s.spec.kind}`,
          );
        }
      }),
  );

  discovery
    .command("unschedule")
    .argument("<name>")
    .description("stop a scheduled scan; its past runs stay")
    .action((name: string, _o: unknown, command: Command) =>
      withCore(command, async (core) => {
        await core.discovery.unschedule(name);
      }),
    );

  const agent = discovery
    .command("agent")
    .description("discovery agents that scan where the server cannot reach");

  agent
    .command("create")
    .argument("<name>")
    .option("--out <file>", "write the agent's credentials file here (mode 0600) instead of printing it")
    .option(
      "--server-url <url>",
      "https://host:port the agent reaches the server at (default: public host and port)",
    )
    .option(
      "--certificate <file>",
      "register this client certificate on the agent's principal and leave the secret out of the file",
    )
    .description("register an agent under a principal of its own with only the agent role")
    .action((name: string, o: { out?: string; serverUrl?: string; certificate?: string }, command: Command) =>
      withCore(command, async (core) => {
        const settings = config(command);
        const serverUrl = o.serverUrl ?? `https://${settings.publicHost}:${settings.port}`;
        const caFile = join(settings.dataDir, "tls", "ca.pem");
        const certificate = o.certificate === undefined ? undefined : readFileSync(o.certificate);
        const created = await core.discovery.registerAgent(name);
        if (certificate) {
          try {
            await core.principals.addCertificate(created.agent.principalId, certificate);
          } catch (error) {
            await core.discovery.removeAgent(name);
            throw error;
          }
        }
        const credentials = {
          name,
          serverUrl,
          tenantId: core.tenantId,
          clientId: created.clientId,
          // With a certificate the secret is never written: the agent proves itself with its key.
          ...(!certificate && { clientSecret: created.clientSecret }),
          authorityHost: serverUrl,
          scope: `https://${settings.dnsSuffix}/.default`,
          ...(existsSync(caFile) && !settings.tlsCertFile && { ca: readFileSync(caFile, "utf8") }),
        };
        const text = `${JSON.stringify(credentials, null, 2)}\n`;
        if (o.out) {
          writeFileSync(o.out, text, { mode: 0o600 });
          console.log(
            `agent ${name} registered; credentials in ${o.out} (run: strongroom agent --credentials ${o.out})`,
          );
        } else process.stdout.write(text);
      }),
    );

  const viewOf = async (core: Core, a: Agent) =>
    agentView(a, await core.discovery.agentFileScan(a), await core.deployments.syncs(a.id));
  const filesLine = (a: AgentView) =>
    a.fileScan
      ? `files ${a.fileScan.status} ${a.fileScan.done} found, ${a.fileScan.failed} failed${a.fileScan.error ? ` (${a.fileScan.error})` : ""}`
      : "files -";

  jsonOption(
    agent
      .command("list")
      .description(
        "agents: name, host, version, last seen, their own file scan's progress, their syncs in sync/pending/failed",
      ),
  ).action((o: { json?: boolean }, command: Command) =>
    withCore(command, async (core) => {
      const views = await Promise.all((await core.discovery.agents()).map((a) => viewOf(core, a)));
      if (o.json) return printJson(views);
      for (const a of views) {
        const count = (state: string) => a.syncs?.filter((s) => s.state === state).length ?? 0;
        const syncs = `syncs ${count("in-sync")} in sync, ${count("pending")} pending, ${count("failed")} failed`;
        console.log(
          [a.name, a.hostname ?? "-", a.version ?? "-", a.lastSeenAt ?? "never", filesLine(a), syncs].join(
            "  ",
          ),
        );
      }
    }),
  );

  jsonOption(
    agent
      .command("show")
      .argument("<name>")
      .description("one agent: its host, last call, file scan, and each sync's state and last delivery"),
  ).action((name: string, o: { json?: boolean }, command: Command) =>
    withCore(command, async (core) => {
      const view = await viewOf(core, await core.discovery.agent(name));
      if (o.json) return printJson(view);
      console.log(
        `${view.name}  ${view.hostname ?? "-"}  ${view.version ?? "-"}  last seen ${view.lastSeenAt ?? "never"}`,
      );
      console.log(filesLine(view));
      for (const s of view.syncs ?? []) {
        const delivered = s.deliveredVersion
          ? `delivered ${s.deliveredVersion} at ${s.deliveredAt}`
          : "nothing delivered";
        console.log(
          `sync ${s.name}  ${s.state}  ${delivered}  ${s.source}${s.error ? `  error: ${s.error}` : ""}`,
        );
      }
    }),
  );

  agent
    .command("delete")
    .argument("<name>")
    .description("remove an agent and its principal: its credentials stop working at once")
    .action((name: string, _o: unknown, command: Command) =>
      withCore(command, async (core) => {
        await core.discovery.removeAgent(name);
      }),
    );
}
