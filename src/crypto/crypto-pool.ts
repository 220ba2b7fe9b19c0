import { availableParallelism } from "node:os";
import type { Worker } from "node:worker_threads";
import { moduleWorker } from "../cluster/module-worker.js";
import { type ThreadCalls, threadCalls } from "../cluster/thread-calls.js";
import type { KeyCreateSpec, PublicKeyParts } from "../domain/keys/model.js";
import type { CryptoTask } from "./crypto-worker.js";

/**
 * CPU-bound crypto on threads beside the event loop: a new key's generation and PKCS#8 export, a
 * PKCS#12's assembly. A campaign re-issues thousands of certificates a minute, and this work was
 * ~20% of its main thread; on the pool it runs on every core while the main thread stores and signs.
 */
export interface CryptoPool {
  /** A new RSA, EC or Ed25519 key: its PKCS#8 DER (the caller seals and wipes it) and public parts. */
  generateKey(spec: KeyCreateSpec): Promise<{ pkcs8: Buffer; publicKey: PublicKeyParts }>;
  /** assemblePfx on a thread of the pool; `pkcs8` is copied there and wiped after use. */
  pfx(pkcs8: Buffer | undefined, certificates: Buffer[], salt: Buffer): Promise<Buffer>;
  /** Ends the threads; work still on them fails. */
  stop(): Promise<void>;
}

/** Starts `size` threads (by default one per core); idle, they do not keep the process alive. */
export function startCryptoPool(size = availableParallelism()): CryptoPool {
  const threads: ThreadCalls[] = [];
  const workers: Worker[] = [];
  function start(): ThreadCalls {
    const worker = moduleWorker(import.meta.url, "crypto-worker");
    workers.push(worker);
    return threadCalls(worker, "a thread of the crypto pool");
  }

  /** The least busy live thread; one that died is replaced. */
  function run<T>(work: CryptoTask, transfer: ArrayBuffer[] = []): Promise<T> {
    for (let i = 0; i < size; i++) if (!threads[i] || threads[i]?.failure()) threads[i] = start();
    const thread = threads.reduce((a, b) => (b.waiting() < a.waiting() ? b : a));
    return thread.call<T>({ work }, transfer);
  }

  const buffer = (bytes: Uint8Array) => Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  // A Buffer may be a view on a shared slab: only its own bytes, copied, cross to the thread.
  const own = (bytes: Buffer) => new Uint8Array(bytes);

  return {
    async generateKey(spec) {
      const made = await run<{ pkcs8: Uint8Array; publicKey: PublicKeyParts }>({ task: "key", spec });
      return { pkcs8: buffer(made.pkcs8), publicKey: made.publicKey };
    },
    async pfx(pkcs8, certificates, salt) {
      const key = pkcs8 && own(pkcs8);
      return buffer(
        await run<Uint8Array>(
          { task: "pfx", pkcs8: key, certificates: certificates.map(own), salt: own(salt) },
          key && [key.buffer],
        ),
      );
    },
    async stop() {
      await Promise.all(workers.map((w) => w.terminate()));
      threads.length = 0;
      workers.length = 0;
    },
  };
}
