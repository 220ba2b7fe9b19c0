import { type FileScanEvent, walkCertificateFiles } from "../discovery/file-scanner.js";
import type { RunReporter } from "../discovery/scan-runner.js";
import type { EndpointResult, FileScanSpec } from "../domain/discovery/model.js";
import { fileLocation } from "../domain/inventory/observation.js";
import type { AgentJob, Assignment } from "./agent.js";

export interface FileJobOptions {
  /** The agent's name: the host part of every `file://` location it reports. */
  agent: string;
  /** From the agent's own password file; never sent to the server. */
  passwords: readonly string[];
  log: (line: string) => void;
}

/** Results go up in batches of this many, or sooner when the last batch is this old. */
const BATCH = 200;
/** Well inside the server's 60 s lease, so a long walk is not handed to another run. */
const FLUSH_MS = 10_000;
/** The agent API takes at most 32 certificates per result: a leaf and what came with it. */
const MAX_CHAIN = 32;

export interface FileScanTally {
  files: number;
  certificates: number;
  unread: number;
  errors: number;
  skipped: number;
}

/**
 * What one walk event reports: a result per certificate (`ok`), one for an encrypted store no
 * password opens (`unread`), one for a damaged or unreadable file (`error`). Files holding only
 * keys report nothing of their own: their key shows on the certificate it belongs to.
 */
export function fileResults(agent: string, event: FileScanEvent, tally: FileScanTally): EndpointResult[] {
  if (event.kind === "skipped") {
    const { path, reason, detail } = event.skipped;
    if (reason !== "unreadable") {
      tally.skipped++;
      return [];
    }
    tally.errors++;
    return [
      {
        location: fileLocation(agent, path),
        outcome: "error",
        error: `unreadable: ${detail ?? "no reason given"}`,
        chain: [],
        detail: { path },
        seenAt: new Date(),
      },
    ];
  }
  const { facts, observations } = event;
  tally.files++;
  const fileDetail = {
    path: facts.path,
    format: facts.format,
    owner: facts.owner,
    group: facts.group,
    mode: facts.mode,
    worldReadable: facts.worldReadable,
    status: facts.status,
  };
  if (facts.status === "encrypted-unread") {
    tally.unread++;
    return [
      {
        location: facts.location,
        outcome: "unread",
        error: "encrypted, unread: no configured password opens it",
        chain: [],
        detail: fileDetail,
        seenAt: new Date(),
      },
    ];
  }
  if (facts.status === "damaged") {
    tally.errors++;
    return [
      {
        location: facts.location,
        outcome: "error",
        error: `damaged: ${facts.reason ?? "not parseable"}`,
        chain: [],
        detail: fileDetail,
        seenAt: new Date(),
      },
    ];
  }
  tally.certificates += observations.length;
  return observations.map((o) => ({
    location: o.location,
    outcome: "ok",
    chain: [o.der, ...(o.chain ?? []).slice(0, MAX_CHAIN - 1)],
    detail: {
      ...o.detail,
      status: facts.status,
      lockedKeys: facts.lockedKeys,
      ...(facts.integrity !== undefined && { integrity: facts.integrity }),
    },
    seenAt: o.seenAt,
  }));
}

/** Walks the spec's roots and reports as it goes; `cancelled` once the server says stop. */
export async function runFileScan(
  spec: FileScanSpec,
  options: FileJobOptions,
  reporter: RunReporter,
  signal: AbortSignal,
): Promise<{ end: "completed" | "cancelled" | "stopped"; tally: FileScanTally }> {
  const tally: FileScanTally = { files: 0, certificates: 0, unread: 0, errors: 0, skipped: 0 };
  let pending: EndpointResult[] = [];
  let reported = 0;
  let lastFlush = performance.now();
  const flush = async () => {
    reported += pending.length;
    const batch = pending;
    pending = [];
    lastFlush = performance.now();
    // The total grows with the walk: nobody knows how many files a tree holds until it is walked.
    return reporter.record(batch, reported);
  };
  const walk = walkCertificateFiles({
    agent: options.agent,
    roots: spec.roots,
    exclude: spec.exclude,
    ...(spec.maxDepth !== undefined && { maxDepth: spec.maxDepth }),
    passwords: options.passwords,
    seenAt: new Date(),
  });
  for await (const event of walk) {
    if (signal.aborted) return { end: "stopped", tally };
    pending.push(...fileResults(options.agent, event, tally));
    if (pending.length >= BATCH || performance.now() - lastFlush >= FLUSH_MS) {
      if (!(await flush())) return { end: "cancelled", tally };
    }
  }
  if (!(await flush())) return { end: "cancelled", tally };
  await reporter.complete();
  return { end: "completed", tally };
}

/** File scans on this host, whether the server assigned them or the agent's own roots queued them. */
export function createFileJob(options: FileJobOptions): AgentJob {
  return {
    kind: "files",
    async run(assignment: Assignment, reporter, signal) {
      if (assignment.spec.kind !== "files") return "cancelled";
      const { end, tally } = await runFileScan(assignment.spec, options, reporter, signal);
      options.log(
        `run ${assignment.id}: ${tally.files} certificate files, ${tally.certificates} certificates, ` +
          `${tally.unread} encrypted unread, ${tally.errors} errors, ${tally.skipped} paths skipped`,
      );
      return end;
    },
  };
}
