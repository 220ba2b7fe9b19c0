import { matches } from "./audit-export.js";
import {
  type AuditCheckpoint,
  type AuditEntry,
  type AuditFilter,
  type AuditHead,
  type AuditProblem,
  type AuditRecord,
  type AuditVerdict,
  checkpointMessage,
  GENESIS_HASH,
} from "./model.js";
import type { AuditChain, AuditSigner, AuditStore } from "./ports.js";

export interface AuditServiceDeps {
  store: AuditStore;
  chain: AuditChain;
}

export type AuditService = ReturnType<typeof createAuditService>;

interface Waiting {
  entry: AuditEntry;
  resolve: (row: { seq: number; hash: string }) => void;
  reject: (error: unknown) => void;
}

const MAX_BATCH = 1000;
const READ_BATCH = 5000;

export function createAuditService({ store, chain }: AuditServiceDeps) {
  const waiting: Waiting[] = [];
  let flushing: Promise<void> | undefined;
  /** Rows up to here hold no intent left to complete (see completeInterrupted). */
  let settledThrough: number | undefined;

  // Group commit: entries that arrive while a batch is being written go into the next one, so each
  // request still waits until its own row is durable, but rows share transactions under load.
  async function flushAll(): Promise<void> {
    while (waiting.length > 0) {
      const batch = waiting.splice(0, MAX_BATCH);
      try {
        const rows = await store.append(
          batch.map((w) => w.entry),
          chain,
        );
        batch.forEach((w, i) => {
          w.resolve(rows[i] as { seq: number; hash: string });
        });
      } catch (error) {
        for (const w of batch) w.reject(error);
      }
    }
    flushing = undefined;
  }

  /** Resolves with the row's sequence number and hash once it is committed to the chain. */
  function recordWritten(entry: AuditEntry): Promise<{ seq: number; hash: string }> {
    const done = new Promise<{ seq: number; hash: string }>((resolve, reject) =>
      waiting.push({ entry, resolve, reject }),
    );
    // Waiting one turn of the event loop lets the requests already in flight add their rows to
    // the same transaction; without it every row pays a commit of its own.
    flushing ??= new Promise<void>((resolve) => setImmediate(resolve)).then(flushAll);
    return done;
  }

  async function* records(afterSeq = 0): AsyncGenerator<AuditRecord> {
    let after = afterSeq;
    for (;;) {
      const rows = await store.read(after, READ_BATCH);
      yield* rows;
      const last = rows[rows.length - 1];
      if (!last || rows.length < READ_BATCH) return;
      after = last.seq;
    }
  }

  async function* changes() {
    let after = 0;
    for (;;) {
      const rows = await store.changes(after, READ_BATCH);
      yield* rows;
      const last = rows[rows.length - 1];
      if (!last || rows.length < READ_BATCH) return;
      after = last.seq;
    }
  }

  /** The head, or why it cannot be trusted. */
  async function trustedHead(): Promise<{ head: AuditHead } | { missing: string }> {
    try {
      return { head: await store.head() };
    } catch (error) {
      return { missing: (error as Error).message };
    }
  }

  /**
   * Walks the chain from the head's base and reports the first row altered, inserted or deleted.
   * Where it ends is reported as of `throughSeq`, the head's row when the walk began: on a live
   * server rows arrive during the walk, and comparing the head with the last of them would report
   * the log as cut. Those rows are still checked, so a forged row after the head is found.
   */
  async function walk(
    head: AuditHead,
    throughSeq: number,
    hashes: Map<number, string>,
    onProgress?: (rows: number) => void,
  ): Promise<{ verdict?: AuditVerdict; lastSeq: number; lastHash: string; rows: number }> {
    let prevHash = head.baseHash;
    let expectedSeq = head.baseSeq + 1;
    let rows = 0;
    const bad = (firstBadSeq: number, problem: AuditProblem, message: string) => ({
      verdict: { intact: false as const, rows, firstBadSeq, problem, message },
      lastSeq: expectedSeq - 1,
      lastHash: prevHash,
      rows,
    });
    // A row whose hash does not match is judged by what links to it: if the next row (or the head)
    // still follows its stored hash, only its contents changed; otherwise the whole row was forged,
    // since whoever wrote it could link it to its predecessor but not compute the keyed hash.
    const unmatched = (row: AuditRecord, followedBy: string | undefined) =>
      followedBy === row.hash
        ? bad(row.seq, "altered", `row ${row.seq} does not match its hash: its contents were altered`)
        : bad(
            row.seq,
            "inserted",
            `row ${row.seq} does not match its hash and the chain does not go on from it: a forged row was inserted or replaced one`,
          );
    let suspect: AuditRecord | undefined;
    let atBound = { lastSeq: expectedSeq - 1, lastHash: prevHash };
    for await (const row of records(head.baseSeq)) {
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
      if (hashes.has(row.seq)) hashes.set(row.seq, row.hash);
      prevHash = row.hash;
      expectedSeq = row.seq + 1;
      rows += 1;
      if (row.seq <= throughSeq) atBound = { lastSeq: row.seq, lastHash: row.hash };
      if (onProgress && rows % 10_000 === 0) onProgress(rows);
    }
    if (suspect) return unmatched(suspect, head.seq === suspect.seq ? head.hash : undefined);
    return { ...atBound, rows };
  }

  /**
   * Checks the chain, its keyed head, every change recorded beside the stored state and, when given,
   * a checkpoint held outside the database.
   */
  async function verify(
    options: {
      onProgress?: (rows: number) => void;
      checkpoint?: AuditCheckpoint;
      signer?: Pick<AuditSigner, "verify" | "publicKey">;
    } = {},
  ): Promise<AuditVerdict> {
    const { checkpoint } = options;
    if (checkpoint) {
      const { signer } = options;
      const signed =
        signer !== undefined &&
        checkpoint.publicKey === signer.publicKey &&
        signer.verify(checkpointMessage(checkpoint), checkpoint.signature, signer.publicKey);
      if (!signed) {
        return {
          intact: false,
          rows: 0,
          firstBadSeq: checkpoint.seq,
          problem: "checkpoint",
          message: `the checkpoint at row ${checkpoint.seq} is not signed by this installation's key`,
        };
      }
    }
    const found = await trustedHead();
    if ("missing" in found) {
      // Without the head the end of the log cannot be proved: report the row after the last one.
      const fallback = { seq: 0, hash: GENESIS_HASH, baseSeq: 0, baseHash: GENESIS_HASH, mac: null };
      const walked = await walk(fallback, Number.POSITIVE_INFINITY, new Map());
      if (walked.verdict) return walked.verdict;
      return {
        intact: false,
        rows: walked.rows,
        firstBadSeq: walked.lastSeq + 1,
        problem: "head",
        message: `the audit head is gone (${found.missing}): nothing proves the log ends at row ${walked.lastSeq}, so rows from ${walked.lastSeq + 1} on may have been cut`,
      };
    }
    const { head } = found;
    const headValid =
      head.mac !== null && head.mac === chain.mac("head", head.seq, head.hash, head.baseSeq, head.baseHash);
    const checkpointHash = new Map<number, string>();
    if (checkpoint) checkpointHash.set(checkpoint.seq, "");
    const walked = await walk(head, head.seq, checkpointHash, options.onProgress);
    if (walked.verdict) return walked.verdict;
    const { rows, lastSeq, lastHash } = walked;
    if (!headValid) {
      return {
        intact: false,
        rows,
        firstBadSeq: Math.min(lastSeq, head.seq) + 1,
        problem: "head",
        message: `the audit head (rows ${head.baseSeq + 1} to ${head.seq}) does not carry this installation's MAC: its start or end was moved, or it was reset, so rows after ${Math.min(lastSeq, head.seq)} may have been cut`,
      };
    }
    if (head.seq !== lastSeq || head.hash !== lastHash) {
      return {
        intact: false,
        rows,
        firstBadSeq: lastSeq + 1,
        problem: "truncated",
        message: `the log ends at row ${lastSeq} but ${head.seq} rows were written: the newest rows were deleted`,
      };
    }
    // Every change recorded beside the stored state must have its intent row: a log cut, reset or
    // replaced by an older copy no longer reaches them.
    for await (const change of changes()) {
      if (change.seq <= head.baseSeq) continue;
      if (change.seq > lastSeq && !(await writtenSince(head, change.seq))) {
        return {
          intact: false,
          rows,
          firstBadSeq: lastSeq + 1,
          problem: "rolled-back",
          message: `a change committed with audit row ${change.seq} (request ${change.requestId}) but the log ends at row ${lastSeq}: rows from ${lastSeq + 1} on were cut, or the log was replaced by an older copy`,
        };
      }
    }
    const mismatch = await firstChangeMismatch(head.baseSeq, lastSeq);
    if (mismatch !== undefined) {
      return {
        intact: false,
        rows,
        firstBadSeq: mismatch,
        problem: "inserted",
        message: `row ${mismatch} is not the row its change recorded: the log was replaced`,
      };
    }
    if (checkpoint) {
      if (checkpoint.seq > lastSeq) {
        return {
          intact: false,
          rows,
          firstBadSeq: lastSeq + 1,
          problem: "rolled-back",
          message: `the checkpoint of ${checkpoint.time.toISOString()} saw row ${checkpoint.seq} but the log ends at row ${lastSeq}: it was cut or rolled back to an earlier copy`,
        };
      }
      const seen = checkpointHash.get(checkpoint.seq);
      if (checkpoint.seq > head.baseSeq && seen !== checkpoint.hash) {
        return {
          intact: false,
          rows,
          firstBadSeq: checkpoint.seq,
          problem: "checkpoint",
          message: `row ${checkpoint.seq} differs from the row the checkpoint of ${checkpoint.time.toISOString()} saw: the log was rewritten since`,
        };
      }
    }
    return { intact: true, rows };
  }

  /**
   * Whether a change beyond the walked head is one written since: the head now reaches it under the
   * audit key from the same base. A log rolled back to an older copy keeps its older head, so a
   * change it lost is still reported.
   */
  async function writtenSince(walked: AuditHead, changeSeq: number): Promise<boolean> {
    const now = await trustedHead();
    if ("missing" in now) return false;
    const { head } = now;
    return (
      head.seq >= changeSeq &&
      head.baseSeq === walked.baseSeq &&
      head.mac === chain.mac("head", head.seq, head.hash, head.baseSeq, head.baseHash)
    );
  }

  /** The first change whose MAC does not match the row at its sequence number, if any. */
  async function firstChangeMismatch(baseSeq: number, throughSeq: number): Promise<number | undefined> {
    const pending = new Map<number, string>();
    for await (const change of changes())
      if (change.seq > baseSeq && change.seq <= throughSeq) pending.set(change.seq, change.mac);
    if (pending.size === 0) return undefined;
    for await (const row of records(baseSeq)) {
      if (row.seq > throughSeq) break;
      const mac = pending.get(row.seq);
      if (mac !== undefined && mac !== chain.mac("change", row.seq, row.hash)) return row.seq;
    }
    return undefined;
  }

  return {
    /** What was last changed, by whom: the intent rows of the last `limit` committed changes, newest first. */
    recentChanges: (limit: number): Promise<AuditRecord[]> => store.recentChanges(limit),

    /** Resolves once the entry is committed to the chain. */
    async record(entry: AuditEntry): Promise<void> {
      await recordWritten(entry);
    },

    recordWritten,

    /** Resolves when every entry recorded so far is written. */
    async drain(): Promise<void> {
      while (flushing) await flushing;
    },

    records,

    /** Rows matching `filter`, newest first, below `beforeSeq` when given, at most `limit`. */
    search: (filter: AuditFilter, page: { beforeSeq?: number | undefined; limit: number }) =>
      store.search(filter, page),

    /** Every row matching `filter`, oldest first. */
    async *matching(filter: AuditFilter): AsyncGenerator<AuditRecord> {
      for await (const row of records()) if (matches(row, filter)) yield row;
    },

    /** Gives an installation from before keyed heads its head MAC. */
    keyHead: () => store.keyHead(chain),

    verify,

    /** A signed checkpoint of the log as it is now. */
    async checkpoint(signer: AuditSigner, now: Date): Promise<AuditCheckpoint> {
      await drainAll();
      const head = await store.head();
      const fields = { seq: head.seq, hash: head.hash, time: now };
      return { ...fields, signature: signer.sign(checkpointMessage(fields)), publicKey: signer.publicKey };
    },

    /**
     * Completes intents older than `before` that no row of their request followed: their process
     * stopped between the change and the answer. Whether the change committed is read from beside
     * the stored state. Scans only the rows written since the last call found everything settled.
     */
    async completeInterrupted(before: Date, now: Date): Promise<number> {
      if (settledThrough === undefined) settledThrough = (await store.head()).baseSeq;
      const open = new Map<string, AuditRecord[]>();
      let scannedThrough = settledThrough;
      for await (const row of records(settledThrough)) {
        scannedThrough = row.seq;
        if (row.outcome === "pending") {
          const intents = open.get(row.requestId) ?? [];
          intents.push(row);
          open.set(row.requestId, intents);
        } else {
          open.delete(row.requestId);
        }
      }
      let completed = 0;
      let firstYoung = Number.POSITIVE_INFINITY;
      for (const intents of open.values()) {
        for (const intent of intents) {
          if (intent.time >= before) {
            firstYoung = Math.min(firstYoung, intent.seq);
            continue;
          }
          const committed = await store.changeCommitted(intent.seq);
          await recordWritten({
            ...intent,
            time: now,
            outcome: committed ? "unknown" : "failure",
            status: 0,
            detail: committed
              ? `change of row ${intent.seq} committed; the process stopped before it answered`
              : `change of row ${intent.seq} was not committed; the process stopped first`,
          });
          completed += 1;
        }
      }
      // Rows before the oldest intent still in flight are settled; the next call starts there.
      settledThrough = Number.isFinite(firstYoung) ? firstYoung - 1 : scannedThrough;
      return completed;
    },

    /**
     * Removes rows written before `cutoff`, after `archive` has stored them with a checkpoint signed
     * at the cut (the last removed row); the head's base moves there under the audit key, so the kept
     * log still verifies from its first row. Returns the rows removed.
     */
    async prune(
      cutoff: Date,
      signer: AuditSigner,
      now: Date,
      archive: (rows: AuditRecord[], cut: AuditCheckpoint) => Promise<void>,
    ): Promise<number> {
      const head = await store.head();
      const old: AuditRecord[] = [];
      for await (const row of records(head.baseSeq)) {
        if (row.time >= cutoff || row.seq > head.seq) break;
        old.push(row);
      }
      const last = old[old.length - 1];
      if (!last) return 0;
      const fields = { seq: last.seq, hash: last.hash, time: now };
      await archive(old, {
        ...fields,
        signature: signer.sign(checkpointMessage(fields)),
        publicKey: signer.publicKey,
      });
      await store.prune(last.seq, chain);
      return old.length;
    },
  };

  async function drainAll(): Promise<void> {
    while (flushing) await flushing;
  }
}
