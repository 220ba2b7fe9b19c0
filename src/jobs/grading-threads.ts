import type { Worker } from "node:worker_threads";
import { moduleWorker } from "../cluster/module-worker.js";
import { type ThreadCalls, threadCalls } from "../cluster/thread-calls.js";
import type { GradingProgress, GradingThreads } from "../domain/rules/grading-service.js";
import type { GradingTask } from "./grading-thread.js";

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
 * first given work; idle, they do not keep the process alive.
 */
export function startGradingThreads(url: string, size: number): GradingThreadPool {
  const threads: ThreadCalls[] = [];
  const workers: Worker[] = [];
  /** Per thread, the sessions it has been given the inputs of. */
  const knows = new Map<ThreadCalls, Set<number>>();
  let sessions = 0;

  function start(): ThreadCalls {
    const worker = moduleWorker(import.meta.url, "grading-thread", { url, poolSize: CONNECTIONS_PER_THREAD });
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
      return {
        grade(range) {
          const thread = pick();
          const given = knows.get(thread) as Set<number>;
          const first = !given.has(session);
          given.add(session);
          return call<GradingProgress>(thread, {
            task: "grade",
            session,
            range,
            ...(first && { inputs }),
          });
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
