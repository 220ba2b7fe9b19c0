import type { EndpointResult, TlsScanSpec } from "../domain/discovery/model.js";
import { type Endpoint, endpoints } from "../domain/discovery/targets.js";
import { scanEndpoints } from "./tls-scanner.js";

/**
 * Where a running scan reports to: the discovery service on the server, or the server's agent API
 * from an agent. The runner does not care which.
 */
export interface RunReporter {
  /** DNS names earlier scans saw at these hosts. */
  knownNames(hosts: readonly string[]): Promise<ReadonlyMap<string, readonly string[]>>;
  /** Locations that already have a result (a run taken over after its first scanner stopped). */
  doneLocations(): Promise<ReadonlySet<string>>;
  /** Keeps a batch; false when the run was cancelled or taken over, and the scan must stop. */
  record(results: readonly EndpointResult[], total: number): Promise<boolean>;
  complete(): Promise<void>;
}

export type RunEnd = "completed" | "cancelled" | "stopped";

/**
 * Results are sent in batches of this many, or sooner when this long has passed. Each batch pays a
 * transaction, the run's counts and lease and the inventory's lookups once: a 1,000-endpoint run
 * recorded in batches of 100 cost 98–126 ms of CPU, of 200 79–94 ms, of 500 79–86 ms (and a
 * loaded machine's slow scan had the timer cut it into nine batches at 500 ms). The timer still
 * moves a progress bar every second.
 */
const BATCH = 500;
const BATCH_MS = 1000;
/**
 * A scan whose endpoints all hang reports nothing for a while; an empty batch this often keeps its
 * lease (60 s) from running out, which would hand the run to a second scanner.
 */
const KEEPALIVE_MS = 15_000;
/** How many hosts a known-names lookup asks about at once. */
const NAME_LOOKUP = 500;

/**
 * Runs one TLS scan to its end, reporting results in batches: `completed`, `cancelled` (the
 * reporter said stop) or `stopped` (the process is shutting down; another scanner may resume).
 */
export async function runTlsScan(
  spec: TlsScanSpec,
  reporter: RunReporter,
  signal?: AbortSignal,
): Promise<RunEnd> {
  let names: ReadonlyMap<string, readonly string[]> = new Map();
  if (spec.knownNames) {
    const hosts = [...new Set(Array.from(endpoints({ ...spec, knownNames: false }), (e) => e.host))];
    const merged = new Map<string, readonly string[]>();
    for (let i = 0; i < hosts.length; i += NAME_LOOKUP) {
      for (const [host, known] of await reporter.knownNames(hosts.slice(i, i + NAME_LOOKUP)))
        merged.set(host, known);
    }
    names = merged;
  }
  const all: Endpoint[] = [...endpoints(spec, names)];
  const done = await reporter.doneLocations();
  const todo = all.filter((e) => !done.has(e.location));

  const stop = new AbortController();
  const onAbort = () => stop.abort();
  signal?.addEventListener("abort", onAbort);
  let cancelled = false;
  let pending: EndpointResult[] = [];
  let flushing: Promise<void> = Promise.resolve();
  let lastFlush = performance.now();
  const flush = () => {
    const batch = pending;
    pending = [];
    lastFlush = performance.now();
    flushing = flushing.then(async () => {
      if (batch.length === 0 && cancelled) return;
      if (!(await reporter.record(batch, all.length))) {
        cancelled = true;
        stop.abort();
      }
    });
    return flushing;
  };
  // A scan where every endpoint hangs until its timeout still shows progress and keeps its lease.
  const ticker = setInterval(() => {
    if (pending.length > 0 || performance.now() - lastFlush >= KEEPALIVE_MS) void flush();
  }, BATCH_MS);
  try {
    await scanEndpoints(todo, { ...spec, signal: stop.signal }, (result) => {
      pending.push(result);
      if (pending.length >= BATCH || performance.now() - lastFlush >= BATCH_MS) void flush();
    });
    await flush();
  } finally {
    clearInterval(ticker);
    signal?.removeEventListener("abort", onAbort);
  }
  if (cancelled) return "cancelled";
  if (signal?.aborted) return "stopped";
  await reporter.complete();
  return "completed";
}
