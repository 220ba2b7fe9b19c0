import type { PeerChange, Peers } from "../domain/peers.js";
import { isOurs, type PrimaryMessage, type WorkerMessage } from "./messages.js";

/**
 * A worker stops waiting for the others after this long: a worker stuck in a long synchronous task
 * must not hold up the request that announced, and its own cache times still bound what it serves.
 */
const ACK_TIMEOUT_MS = 2000;

/** The peers of a cluster worker, reached through the primary over the IPC channel. */
export function createIpcPeers(): Peers {
  const handlers: ((change: PeerChange) => void)[] = [];
  const waiting = new Map<number, () => void>();
  let nextId = 0;
  const send = (message: WorkerMessage) => process.send?.(message);

  process.on("message", (message: unknown) => {
    if (!isOurs<PrimaryMessage>(message)) return;
    if (message.strongroom === "change") {
      for (const handler of handlers) handler(message.change);
      send({ strongroom: "ack", id: message.id });
    } else if (message.strongroom === "announced") {
      waiting.get(message.id)?.();
    }
  });

  return {
    announce(change) {
      const id = ++nextId;
      return new Promise<void>((resolve) => {
        const done = () => {
          clearTimeout(timer);
          waiting.delete(id);
          resolve();
        };
        const timer = setTimeout(done, ACK_TIMEOUT_MS);
        waiting.set(id, done);
        send({ strongroom: "announce", id, change });
      });
    },
    onChange(handler) {
      handlers.push(handler);
    },
  };
}
