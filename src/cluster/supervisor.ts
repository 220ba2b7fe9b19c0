import cluster, { type Worker } from "node:cluster";
import { isOurs, type PrimaryMessage, type WorkerMessage } from "./messages.js";

/** A worker that dies this soon after it started is restarted only after a growing delay. */
const STABLE_AFTER_MS = 10_000;
const MAX_RESTART_DELAY_MS = 30_000;

export interface SupervisorOptions {
  /** How many workers serve; each is this program run again with the same arguments. */
  count: number;
  /** Whether one worker runs the scheduled jobs (the `jobs` setting). */
  jobs: boolean;
  /** Where the primary's own lines go (the first worker's start-up summary, restarts, shutdown). */
  print: (line: string) => void;
  warn: (line: string) => void;
}

interface Slot {
  worker: Worker;
  startedAt: number;
  ready: boolean;
  failures: number;
}

/**
 * The primary process of a server with several workers. Node's cluster module shares the listening
 * sockets: the primary accepts connections and hands each to a worker in turn, and every worker is a
 * whole server over the same database (leases keep scheduled jobs to one at a time anyway; one
 * worker is told to run them). The primary relays what one worker announces about cached state to
 * the others and answers once each has acknowledged it. Resolves when the server has stopped.
 */
export function superviseWorkers(options: SupervisorOptions): Promise<number> {
  const slots: Slot[] = [];
  let stopping = false;
  let jobsSlot: Slot | undefined;
  /** Announcements in flight: the workers yet to acknowledge, and whom to tell when they have. */
  const relays = new Map<number, { from: Worker; id: number; pending: Set<Worker> }>();
  let relaySeq = 0;

  return new Promise<number>((resolveStopped) => {
    /** Until every first worker is ready; the first one's start-up summary is printed then. */
    let starting = true;
    let summary: string[] | undefined;

    const send = (worker: Worker, message: PrimaryMessage) => {
      if (worker.isConnected()) worker.send(message);
    };

    const settle = (key: number) => {
      const relay = relays.get(key);
      if (!relay || relay.pending.size > 0) return;
      relays.delete(key);
      send(relay.from, { strongroom: "announced", id: relay.id });
    };

    const assignJobs = () => {
      if (!options.jobs || stopping || jobsSlot) return;
      jobsSlot = slots.find((s) => s.ready);
      if (jobsSlot) send(jobsSlot.worker, { strongroom: "run-jobs" });
    };

    const fork = (failures: number): Slot => {
      const slot: Slot = { worker: cluster.fork(), startedAt: Date.now(), ready: false, failures };
      slots.push(slot);
      slot.worker.on("message", (message: unknown) => {
        if (!isOurs<WorkerMessage>(message)) return;
        if (message.strongroom === "ready") {
          slot.ready = true;
          if (starting) {
            summary ??= message.lines;
            if (slots.length < options.count) {
              for (let i = slots.length; i < options.count; i++) fork(0);
            } else if (slots.every((s) => s.ready)) {
              // Started means every worker serves, so a client's first requests already spread.
              starting = false;
              for (const line of summary) options.print(line);
            }
          }
          assignJobs();
        } else if (message.strongroom === "announce") {
          const key = ++relaySeq;
          const others = slots.map((s) => s.worker).filter((w) => w !== slot.worker && w.isConnected());
          relays.set(key, { from: slot.worker, id: message.id, pending: new Set(others) });
          for (const other of others) send(other, { strongroom: "change", id: key, change: message.change });
          settle(key);
        } else if (message.strongroom === "ack") {
          relays.get(message.id)?.pending.delete(slot.worker);
          settle(message.id);
        }
      });
      slot.worker.on("exit", (code, signal) => {
        slots.splice(slots.indexOf(slot), 1);
        // An exited worker acknowledges nothing more.
        for (const [key, relay] of relays) {
          relay.pending.delete(slot.worker);
          settle(key);
        }
        if (stopping) {
          if (slots.length === 0) resolveStopped(0);
          return;
        }
        if (starting) {
          // A worker could not start (its error is on stderr): the others would fail alike.
          stopping = true;
          for (const s of slots) s.worker.kill("SIGTERM");
          if (slots.length === 0) resolveStopped(code || 1);
          return;
        }
        if (slot === jobsSlot) {
          jobsSlot = undefined;
          assignJobs();
        }
        const failing = Date.now() - slot.startedAt < STABLE_AFTER_MS ? slot.failures + 1 : 0;
        const delay = failing === 0 ? 0 : Math.min(MAX_RESTART_DELAY_MS, 500 * 2 ** failing);
        options.warn(
          `worker ${slot.worker.process.pid} exited (${signal ?? `code ${code}`}); starting another${delay ? ` in ${delay} ms` : ""}`,
        );
        setTimeout(() => {
          if (!stopping) fork(failing);
        }, delay);
      });
      return slot;
    };

    const stop = (signal: string) => {
      if (stopping) return;
      stopping = true;
      options.print(`${signal} received: finishing requests in flight, then stopping`);
      for (const slot of slots) slot.worker.kill("SIGTERM");
      if (slots.length === 0) resolveStopped(0);
    };
    process.on("SIGTERM", () => stop("SIGTERM"));
    process.on("SIGINT", () => stop("SIGINT"));

    // The first worker creates what a first start creates (TLS files, the default vault, admin.json)
    // before the others look for it.
    fork(0);
  });
}
