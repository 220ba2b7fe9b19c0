/** A change that other processes serving the same database may hold in memory. */
export type PeerChange =
  | { kind: "access" }
  | { kind: "vault"; name: string }
  | { kind: "certificate-status"; caId: string; serial: string };

/**
 * The other worker processes of this server. Each drops what it cached about a change when it hears
 * of it, instead of serving it until its cache time runs out.
 */
export interface Peers {
  /** Tells every other worker; resolves once each has dropped what it cached (at once without any). */
  announce(change: PeerChange): Promise<void>;
  /** Calls `handler` for each change another worker announces. */
  onChange(handler: (change: PeerChange) => void): void;
}

/** A process without workers beside it. */
export const noPeers: Peers = {
  announce: async () => undefined,
  onChange: () => undefined,
};
