import type { Worker } from "node:worker_threads";
import { moduleWorker } from "../cluster/module-worker.js";
import { type ThreadCalls, threadCalls } from "../cluster/thread-calls.js";
import { currentAuditScope } from "../domain/audit/audit-scope.js";
import type { GradingThreads } from "../domain/rules/grading-service.js";
import type { GradedRange, GradingTask } from "./grading-thread.js";

/**
 * Connections each thread keeps: its page's records, locations and open findings are read at once,
 * and the next page's records while it grades.
 */
const CONNECTIONS_PER_THREAD = 3;

export interface GradingThreadPool extends GradingThreads {
  /** Ends the threads and their connections; a grading on them fails. */
  stop(): Promise<void>;
}

/**
 * `size` threads that grade ranges of records against the database at `url` (PostgreSQL: each
 * thread's connections are its own, and the database reads for all of them at once). Started when
 * first given work; idle, they do not keep the process alive. A grading run inside an audit scope
 * (a job, a command, a request) has its threads' writes audited under that scope's entry, with the
 * audit chain's key `auditKey` (auditChainKey), which each thread is given a copy of.
 */
export function startGradingThreads(url: string, size: number, auditKey: Buffer): GradingThreadPool {
  const threads: ThreadCalls[] = [];
  const workers: Worker[] = [];
  /** Per thread, the sessions it has been given the inputs of. */
  const knows = new Map<ThreadCalls, Set<number>>();
  let sessions = 0;

  function start(): ThreadCalls {
    const worker = moduleWorker(import.meta.url, "grading-thread", {
      url,
      poolSize: CONNECTIONS_PER_THREAD,
      auditKey: new Uint8Array(auditKey),
    });
    workers.push(worker);
    const thread = threadCalls(worker, "a grading thread");
    knows.set(thread, new Set());
    return thread;
  }

  /** The least busy live thread; one that died is replaced. */
  function pick(): ThreadCalls {
    for (let i = 0; i < size; i++) if (!threads[i] || threads[i]?.failure()) threads[i] = start();
    return threads.reduce((a, b) => (b.waiting() < a.waiting() ? b : a));
  }

  const call = <T>(thread: ThreadCalls, work: GradingTask) => thread.call<T>({ work });

  return {
    size,
    session(inputs) {
      const session = ++sessions;
      // Called inside the grading's own async context: the job's, command's or request's scope.
      const scope = currentAuditScope();
      return {
        async grade(range) {
          const thread = pick();
          const given = knows.get(thread) as Set<number>;
          const first = !given.has(session);
          given.add(session);
          const done = await call<GradedRange>(thread, {
            task: "grade",
            session,
            range,
            ...(first && { inputs }),
            ...(scope && { audit: scope.entry() }),
          });
          if (scope) scope.intents += done.intents;
          return done.progress;
        },
        end() {
          for (const thread of threads) {
            if (!knows.get(thread)?.delete(session) || thread.failure()) continue;
            call(thread, { task: "end", session }).catch(() => undefined);
          }
        },
      };
    },
    async stop() {
      await Promise.all(workers.map((w) => w.terminate()));
      threads.length = 0;
      workers.length = 0;
      knows.clear();
    },
  };
}
