import type {
  AuditChange,
  AuditCheckpoint,
  AuditEntry,
  AuditFilter,
  AuditHead,
  AuditRecord,
} from "./model.js";

/** Computes a row's link in the chain under a key an attacker with database access does not hold. */
export interface AuditChain {
  link(prevHash: string, seq: number, entry: AuditEntry): string;
  /** A MAC under the same key over a labelled tuple: the head, a change's record beside the change. */
  mac(label: "head" | "change", ...parts: (string | number)[]): string;
}

/** Signs checkpoints with the installation's key. */
export interface AuditSigner {
  publicKey: string;
  sign(message: string): string;
  /** Whether `signature` is valid for `message` under `publicKey` (SPKI DER base64). */
  verify(message: string, signature: string, publicKey: string): boolean;
}

/** Where checkpoints go outside the database: a file, a webhook, syslog. */
export interface CheckpointSink {
  name: string;
  send(checkpoint: AuditCheckpoint): Promise<void>;
}

export interface AuditStore {
  /**
   * Appends entries after the current head in one transaction, serialised against other writers
   * (other processes included), linking each with `chain`; returns the rows as written.
   */
  append(entries: AuditEntry[], chain: AuditChain): Promise<{ seq: number; hash: string }[]>;
  /** Rows in sequence order from `afterSeq` on, at most `limit`. */
  read(afterSeq: number, limit: number): Promise<AuditRecord[]>;
  /** Rows matching `filter`, newest first, below `beforeSeq` when given, at most `limit`. */
  search(
    filter: AuditFilter,
    page: { beforeSeq?: number | undefined; limit: number },
  ): Promise<AuditRecord[]>;
  /** The head as recorded by the writers; throws when it is gone. */
  head(): Promise<AuditHead>;
  /** Records the head's MAC where an installation from before keyed heads has none. */
  keyHead(chain: AuditChain): Promise<void>;
  /** Changes recorded beside stored state, in sequence order from `afterSeq` on, at most `limit`. */
  changes(afterSeq: number, limit: number): Promise<AuditChange[]>;
  /** The intent rows of the last `limit` committed changes, newest first. */
  recentChanges(limit: number): Promise<AuditRecord[]>;
  /** Whether the change of the intent at `seq` was committed. */
  changeCommitted(seq: number): Promise<boolean>;
  /**
   * Deletes rows up to and including `throughSeq` and the changes recorded for them, and moves the
   * head's base there, in one transaction per storage file.
   */
  prune(throughSeq: number, chain: AuditChain): Promise<void>;
}
