import type { StoredEvent } from "../events/model.js";

/** A certificate an agent watches; `name` undefined watches every certificate of the vault. */
export interface WatchedCertificate {
  vaultName: string;
  name?: string | undefined;
}

/** What a watch answers: the outbox position to ask from next, and the new versions after `since`. */
export interface WatchAnswer {
  seq: number;
  versions: { vaultName: string; name: string; version: string }[];
}

/** Events that put a new version in place: a created one, or versions a restore brought back. */
const NEW_VERSION = new Set(["CertificateNewVersionCreated", "CertificateRestored", "CertificateRecovered"]);

interface Waiter {
  watched: readonly WatchedCertificate[];
  checked: number;
  done: (answer: WatchAnswer) => void;
}

export type VersionWatch = ReturnType<typeof createVersionWatch>;

/**
 * Long-polls for new certificate versions over the event outbox. The outbox is in the database, so
 * a version created through any node wakes a watch held on any other. One reader per node serves
 * every waiting agent: each tick reads the outbox once, from the oldest position a waiter has not
 * seen, so a thousand idle agents cost one query per tick, not a thousand.
 */
export function createVersionWatch({
  events,
  pollMs,
}: {
  events: { latestSeq(): Promise<number>; after(afterSeq: number, limit: number): Promise<StoredEvent[]> };
  /** How often the outbox is read while anyone waits: the added delay of a push, at most. */
  pollMs: number;
}) {
  const waiters = new Set<Waiter>();
  let timer: NodeJS.Timeout | undefined;
  const BATCH = 1000;

  const matches = (watched: readonly WatchedCertificate[], e: StoredEvent) =>
    e.objectType === "Certificate" &&
    NEW_VERSION.has(e.type) &&
    watched.some(
      (w) =>
        w.vaultName.toLowerCase() === e.vaultName.toLowerCase() &&
        (w.name === undefined || w.name.toLowerCase() === e.objectName.toLowerCase()),
    );

  /** Reads the outbox after `from` and answers every waiter an event concerns. */
  async function tick(): Promise<void> {
    timer = undefined;
    if (waiters.size === 0) return;
    try {
      const from = Math.min(...[...waiters].map((w) => w.checked));
      const found = await events.after(from, BATCH);
      const last = found.at(-1)?.seq ?? from;
      for (const waiter of waiters) {
        const hits = found.filter((e) => e.seq > waiter.checked && matches(waiter.watched, e));
        if (hits.length > 0) {
          waiter.done({
            seq: last,
            versions: hits.map((e) => ({ vaultName: e.vaultName, name: e.objectName, version: e.version })),
          });
        } else waiter.checked = Math.max(waiter.checked, last);
      }
      if (found.length === BATCH) {
        void tick();
        return;
      }
    } catch {
      // The database is unreachable for a moment: the waiters stay and the next tick tries again.
    }
    schedule();
  }

  function schedule() {
    if (timer === undefined && waiters.size > 0) timer = setTimeout(() => void tick(), pollMs);
  }

  return {
    /** The outbox's current end: where a watch with no `since` starts. */
    latest: () => events.latestSeq(),

    /**
     * Answers as soon as a watched certificate gets a version after `since`, or with none after
     * `timeoutMs` or when `signal` aborts (the agent went away).
     */
    wait(
      watched: readonly WatchedCertificate[],
      since: number,
      timeoutMs: number,
      signal: AbortSignal,
    ): Promise<WatchAnswer> {
      return new Promise((resolve) => {
        const waiter: Waiter = {
          watched,
          checked: since,
          done: (answer) => {
            if (!waiters.delete(waiter)) return;
            clearTimeout(expiry);
            signal.removeEventListener("abort", quit);
            resolve(answer);
          },
        };
        const quit = () => waiter.done({ seq: waiter.checked, versions: [] });
        const expiry = setTimeout(quit, timeoutMs);
        signal.addEventListener("abort", quit, { once: true });
        waiters.add(waiter);
        // The first look is now: a version made since the agent last asked answers at once.
        if (timer !== undefined) clearTimeout(timer);
        timer = undefined;
        void tick();
      });
    },
  };
}
