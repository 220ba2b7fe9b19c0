import type { ServerClient } from "../server-client.js";

/** One sync's state as the agent API takes it (`POST /agent/v1/syncs`). */
export interface SyncStateReport {
  source: string;
  state: "in-sync" | "pending" | "failed";
  error?: string | undefined;
  version?: string | undefined;
  paths: string[];
  delivered?: { version: string; at: Date; certificates: Uint8Array[] } | undefined;
}

const keyOf = (r: SyncStateReport) =>
  JSON.stringify([r.source, r.state, r.error, r.version, r.paths, r.delivered?.version, r.delivered?.at]);

/**
 * Tells the server each sync's state, in order, once per change. A report the server did not take
 * (it is down) stays wanted and goes with the next `flush`, so the server's view catches up after
 * an outage without the agent sending the same state every poll.
 */
export function createStateReporter(server: Pick<ServerClient, "call">, log: (line: string) => void) {
  const wanted = new Map<string, SyncStateReport>();
  const sent = new Map<string, string>();
  let queue = Promise.resolve();

  const post = async (name: string, report: SyncStateReport) => {
    const key = keyOf(report);
    if (sent.get(name) === key) return;
    try {
      await server.call("POST", "/agent/v1/syncs", {
        name,
        source: report.source,
        state: report.state,
        ...(report.error !== undefined && { error: report.error.slice(0, 2000) }),
        ...(report.version !== undefined && { version: report.version }),
        paths: report.paths,
        ...(report.delivered && {
          delivered: {
            version: report.delivered.version,
            at: report.delivered.at.toISOString(),
            chain: report.delivered.certificates.map((der) => Buffer.from(der).toString("base64")),
          },
        }),
      });
      sent.set(name, key);
    } catch (error) {
      log(
        `sync ${name}: reporting ${report.state} to the server failed: ${(error as Error).message.split("\n")[0]}`,
      );
    }
  };

  const enqueue = (name: string, report: SyncStateReport) => {
    queue = queue.then(() => post(name, report));
    return queue;
  };

  return {
    /** The sync's state now; sent unless the server already has it. */
    set(name: string, report: SyncStateReport): Promise<void> {
      // A delivery stays in the report until a newer state replaces it, so a retry still carries it.
      const before = wanted.get(name);
      const next =
        report.delivered === undefined && before?.delivered && report.version === before.delivered.version
          ? { ...report, delivered: before.delivered }
          : report;
      wanted.set(name, next);
      return enqueue(name, next);
    },
    /** Sends again every state the server has not taken yet. */
    flush(): Promise<void> {
      for (const [name, report] of wanted) if (sent.get(name) !== keyOf(report)) void enqueue(name, report);
      return queue;
    },
  };
}

export type StateReporter = ReturnType<typeof createStateReporter>;
