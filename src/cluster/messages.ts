import type { PeerChange } from "../domain/peers.js";

/** What a worker tells the primary. */
export type WorkerMessage =
  | { strongroom: "ready"; lines: string[] }
  | { strongroom: "announce"; id: number; change: PeerChange }
  | { strongroom: "ack"; id: number };

/** What the primary tells a worker. */
export type PrimaryMessage =
  | { strongroom: "change"; id: number; change: PeerChange }
  | { strongroom: "announced"; id: number }
  | { strongroom: "run-jobs" };

/** Our messages carry a `strongroom` member; anything else on the channel is someone else's. */
export function isOurs<M extends { strongroom: string }>(message: unknown): message is M {
  return typeof message === "object" && message !== null && "strongroom" in message;
}
