import { hostname } from "node:os";
import { type RunReporter, runTlsScan } from "../discovery/scan-runner.js";
import { sleep } from "../domain/clock.js";
import type { EndpointResult, FileScanSpec, ScanSpec } from "../domain/discovery/model.js";
import type { ServerClient } from "./server-client.js";

/** A run the server assigned to this agent. */
export interface Assignment {
  id: string;
  name: string;
  spec: ScanSpec;
}

/**
 * One kind of work the agent does: network scans and file scans now; certificate delivery, in a
 * later issue, is a further job of the same process.
 */
export interface AgentJob {
  kind: ScanSpec["kind"];
  run(
    assignment: Assignment,
    reporter: RunReporter,
    signal: AbortSignal,
  ): Promise<"completed" | "cancelled" | "stopped">;
}

export interface AgentOptions {
  server: ServerClient;
  jobs: readonly AgentJob[];
  version: string;
  /** How often to ask for work when there is none. */
  pollMs: number;
  heartbeatMs: number;
  /**
   * This host's own roots: a file scan of them is queued on the server at start and then every
   * `intervalMs`, and runs through the same assignment path as a scan the server assigns.
   */
  files?: { spec: Omit<FileScanSpec, "kind">; intervalMs: number } | undefined;
  signal: AbortSignal;
  log: (line: string) => void;
}

/** What a batch of results looks like on the wire: chains as base64 DER. */
const wireResult = (r: EndpointResult) => ({
  location: r.location,
  outcome: r.outcome,
  ...(r.error !== undefined && { error: r.error.slice(0, 1000) }),
  chain: r.chain.map((der) => Buffer.from(der).toString("base64")),
  ...(r.tlsVersion !== undefined && { tlsVersion: r.tlsVersion }),
  ...(r.cipher !== undefined && { cipher: r.cipher }),
  ...(r.detail !== undefined && { detail: r.detail }),
  seenAt: r.seenAt.toISOString(),
});

/** Results in requests of at most this many: a chain can be tens of kilobytes. */
const UPLOAD_BATCH = 200;

/** Reports a run to the server's agent API. */
export function httpReporter(server: ServerClient, runId: string): RunReporter {
  const path = (tail: string) => `/agent/v1/runs/${encodeURIComponent(runId)}/${tail}`;
  return {
    async knownNames(hosts) {
      const answer = await server.call<{ names: Record<string, string[]> }>("POST", path("known-names"), {
        hosts,
      });
      return new Map(Object.entries(answer?.names ?? {}));
    },
    async doneLocations() {
      const answer = await server.call<{ locations: string[] }>("GET", path("done"));
      return new Set(answer?.locations ?? []);
    },
    async record(results, total) {
      let going = true;
      for (let i = 0; i === 0 || i < results.length; i += UPLOAD_BATCH) {
        const answer = await server.call<{ continue: boolean }>("POST", path("results"), {
          total,
          results: results.slice(i, i + UPLOAD_BATCH).map(wireResult),
        });
        going = answer?.continue ?? false;
        if (!going) break;
      }
      return going;
    },
    async complete() {
      await server.call("POST", path("complete"), {});
    },
  };
}

/** Network scans, with the same scanner the server runs. */
export const tlsJob: AgentJob = {
  kind: "tls",
  run: (assignment, reporter, signal) =>
    assignment.spec.kind === "tls"
      ? runTlsScan(assignment.spec, reporter, signal)
      : Promise.resolve("cancelled"),
};

/**
 * The agent's main loop: registers (a first heartbeat), then heartbeats on its own timer while it
 * takes assignments one at a time and runs each with the job for its kind. Returns when `signal`
 * aborts; a run in progress then stays leased and the server hands it out again when the lease ends.
 */
export async function runAgent(options: AgentOptions): Promise<void> {
  const { server, signal, log } = options;
  const me = { hostname: hostname(), version: options.version };
  await server.call("POST", "/agent/v1/heartbeat", { ...me, starting: true });
  log(`registered with ${options.jobs.map((j) => j.kind).join(", ")} jobs`);
  const beat = setInterval(() => {
    server
      .call("POST", "/agent/v1/heartbeat", me)
      .catch((error: unknown) => log(`heartbeat failed: ${(error as Error).message}`));
  }, options.heartbeatMs);
  const files = options.files;
  const queueFileScan = async () => {
    if (!files) return;
    try {
      const run = await server.call<{ id: string; status: string }>(
        "POST",
        "/agent/v1/file-scans",
        files.spec,
      );
      log(`file scan of ${files.spec.roots.join(", ")}: run ${run?.id} ${run?.status}`);
    } catch (error) {
      log(`queueing the file scan failed: ${(error as Error).message}`);
    }
  };
  await queueFileScan();
  const fileTimer = files && setInterval(() => void queueFileScan(), files.intervalMs);
  try {
    while (!signal.aborted) {
      let assignment: Assignment | undefined;
      try {
        assignment = await server.call<Assignment>("POST", "/agent/v1/assignments/claim");
      } catch (error) {
        log(`asking for work failed: ${(error as Error).message}`);
      }
      if (!assignment) {
        await sleep(options.pollMs, signal);
        continue;
      }
      const job = options.jobs.find((j) => j.kind === assignment.spec.kind);
      const reporter = httpReporter(server, assignment.id);
      if (!job) {
        await server.call("POST", `/agent/v1/runs/${assignment.id}/complete`, {
          error: `this agent has no ${assignment.spec.kind} job`,
        });
        continue;
      }
      log(`run ${assignment.id} (${assignment.name}) started`);
      try {
        log(`run ${assignment.id} ${await job.run(assignment, reporter, signal)}`);
      } catch (error) {
        const message = (error as Error).message;
        log(`run ${assignment.id} failed: ${message}`);
        await server
          .call("POST", `/agent/v1/runs/${assignment.id}/complete`, { error: message.slice(0, 1000) })
          .catch(() => undefined);
      }
    }
  } finally {
    clearInterval(beat);
    clearInterval(fileTimer);
  }
}
