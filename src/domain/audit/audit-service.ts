import {
  type AuditEntry,
  type AuditProblem,
  type AuditRecord,
  type AuditVerdict,
  GENESIS_HASH,
} from "./model.js";
import type { AuditChain, AuditStore } from "./ports.js";

export interface AuditServiceDeps {
  store: AuditStore;
  chain: AuditChain;
}

export type AuditService = ReturnType<typeof createAuditService>;

interface Waiting {
  entry: AuditEntry;
  resolve: () => void;
  reject: (error: unknown) => void;
}

const MAX_BATCH = 1000;
const READ_BATCH = 5000;

export function createAuditService({ store, chain }: AuditServiceDeps) {
  const waiting: Waiting[] = [];
  let flushing: Promise<void> | undefined;

  // Group commit: entries that arrive while a batch is being written go into the next one, so each
  // request still waits until its own row is durable, but rows share transactions under load.
  async function flushAll(): Promise<void> {
    while (waiting.length > 0) {
      const batch = waiting.splice(0, MAX_BATCH);
      try {
        await store.append(
          batch.map((w) => w.entry),
          chain,
        );
        for (const w of batch) w.resolve();
      } catch (error) {
        for (const w of batch) w.reject(error);
      }
    }
    flushing = undefined;
  }

  async function* records(): AsyncGenerator<AuditRecord> {
    let after = 0;
    for (;;) {
      const rows = await store.read(after, READ_BATCH);
      yield* rows;
      const last = rows[rows.length - 1];
      if (!last || rows.length < READ_BATCH) return;
      after = last.seq;
    }
  }

  return {
    /** Resolves once the entry is committed to the chain. */
    record(entry: AuditEntry): Promise<void> {
      const done = new Promise<void>((resolve, reject) => waiting.push({ entry, resolve, reject }));
      // Waiting one turn of the event loop lets the requests already in flight add their rows to
      // the same transaction; without it every row pays a commit of its own.
      flushing ??= new Promise<void>((resolve) => setImmediate(resolve)).then(flushAll);
      return done;
    },

    /** Resolves when every entry recorded so far is written. */
    async drain(): Promise<void> {
      while (flushing) await flushing;
    },

    records,

    /** Walks the chain and reports the first row that was altered, inserted or deleted. */
    async verify(onProgress?: (rows: number) => void): Promise<AuditVerdict> {
      let prevHash = GENESIS_HASH;
      let expectedSeq = 1;
      let rows = 0;
      const bad = (firstBadSeq: number, problem: AuditProblem, message: string): AuditVerdict => ({
        intact: false,
        rows,
        firstBadSeq,
        problem,
        message,
      });
      // A row whose hash does not match is judged by what links to it: if the next row (or the head)
      // still follows its stored hash, only its contents changed; otherwise the whole row was forged,
      // since whoever wrote it could link it to its predecessor but not compute the keyed hash.
      const unmatched = (row: AuditRecord, followedBy: string | undefined): AuditVerdict =>
        followedBy === row.hash
          ? bad(row.seq, "altered", `row ${row.seq} does not match its hash: its contents were altered`)
          : bad(
              row.seq,
              "inserted",
              `row ${row.seq} does not match its hash and the chain does not go on from it: a forged row was inserted or replaced one`,
            );
      let suspect: AuditRecord | undefined;
      for await (const row of records()) {
        if (suspect) return unmatched(suspect, row.prevHash);
        if (row.seq > expectedSeq) {
          return bad(
            expectedSeq,
            "deleted",
            `rows ${expectedSeq} to ${row.seq - 1} are missing before row ${row.seq}`,
          );
        }
        if (row.prevHash !== prevHash) {
          return bad(
            row.seq,
            "inserted",
            `row ${row.seq} does not follow row ${expectedSeq - 1}: a row was inserted or replaced`,
          );
        }
        if (chain.link(prevHash, row.seq, row) !== row.hash) {
          suspect = row;
          continue;
        }
        prevHash = row.hash;
        expectedSeq = row.seq + 1;
        rows += 1;
        if (onProgress && rows % 10_000 === 0) onProgress(rows);
      }
      const head = await store.head();
      if (suspect) return unmatched(suspect, head.seq === suspect.seq ? head.hash : undefined);
      if (head.seq !== expectedSeq - 1 || head.hash !== prevHash) {
        return {
          intact: false,
          rows,
          firstBadSeq: expectedSeq,
          problem: "truncated",
          message: `the log ends at row ${expectedSeq - 1} but ${head.seq} rows were written: the newest rows were deleted`,
        };
      }
      return { intact: true, rows };
    },
  };
}
