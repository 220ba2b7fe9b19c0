import type { AuditEntry, AuditRecord } from "./model.js";

/** Computes a row's link in the chain under a key an attacker with database access does not hold. */
export interface AuditChain {
  link(prevHash: string, seq: number, entry: AuditEntry): string;
}

export interface AuditStore {
  /**
   * Appends entries after the current head in one transaction, serialised against other writers
   * (other processes included), linking each with `chain`.
   */
  append(entries: AuditEntry[], chain: AuditChain): Promise<void>;
  /** Rows in sequence order from `afterSeq` on, at most `limit`. */
  read(afterSeq: number, limit: number): Promise<AuditRecord[]>;
  /** The sequence number and hash of the newest row as recorded by the writers. */
  head(): Promise<{ seq: number; hash: string }>;
}
