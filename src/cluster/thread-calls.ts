import type { Worker } from "node:worker_threads";

/** A reply of a worker thread to the call numbered `id`. */
export type ThreadReply = { id: number; result: unknown } | { id: number; error: string };

/**
 * Numbered calls to a worker thread that answers each with a ThreadReply. Idle, the thread does not
 * keep the process alive; while a call waits it does. Once the thread fails or exits, every call
 * waiting and every later one fails.
 */
export interface ThreadCalls {
  call<T>(message: Record<string, unknown>, transfer?: readonly ArrayBuffer[]): Promise<T>;
  /** Calls not yet answered. */
  waiting(): number;
  /** Why the thread can take no more calls, once it cannot. */
  failure(): Error | undefined;
  /** Settles when the thread has exited. */
  exited: Promise<void>;
}

export function threadCalls(worker: Worker, name: string): ThreadCalls {
  worker.unref();
  const waiting = new Map<number, { resolve: (value: unknown) => void; reject: (e: Error) => void }>();
  let next = 0;
  let failure: Error | undefined;
  const failAll = (error: Error) => {
    failure = error;
    for (const { reject } of waiting.values()) reject(error);
    waiting.clear();
  };
  worker.on("message", (reply: ThreadReply) => {
    const pending = waiting.get(reply.id);
    if (!pending) return;
    waiting.delete(reply.id);
    if (waiting.size === 0) worker.unref();
    if ("error" in reply) pending.reject(new Error(reply.error));
    else pending.resolve(reply.result);
  });
  worker.once("error", failAll);
  const exited = new Promise<void>((resolve) =>
    worker.once("exit", (code) => {
      failAll(new Error(`${name} exited with code ${code}`));
      resolve();
    }),
  );
  return {
    call<T>(message: Record<string, unknown>, transfer: readonly ArrayBuffer[] = []) {
      if (failure) return Promise.reject(failure);
      const id = next++;
      if (waiting.size === 0) worker.ref();
      return new Promise<T>((resolve, reject) => {
        waiting.set(id, { resolve: resolve as (value: unknown) => void, reject });
        worker.postMessage({ ...message, id }, transfer);
      });
    },
    waiting: () => waiting.size,
    failure: () => failure,
    exited,
  };
}
