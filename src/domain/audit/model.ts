export type AuditOutcome = "success" | "failure";

/** What happened in one request. Never holds secret values, key material or tokens. */
export interface AuditEntry {
  time: Date;
  requestId: string;
  principalId?: string | undefined;
  clientId?: string | undefined;
  vault?: string | undefined;
  operation: string;
  objectId?: string | undefined;
  version?: string | undefined;
  outcome: AuditOutcome;
  status: number;
  clientAddress: string;
  /** Short, non-secret context such as the error code. */
  detail?: string | undefined;
}

/** An entry as chained: `hash` covers the entry, its sequence number and the previous row's hash. */
export interface AuditRecord extends AuditEntry {
  seq: number;
  prevHash: string;
  hash: string;
}

export type AuditProblem = "altered" | "deleted" | "inserted" | "truncated";

export type AuditVerdict =
  | { intact: true; rows: number }
  | { intact: false; rows: number; firstBadSeq: number; problem: AuditProblem; message: string };

/** The hash that precedes the first row. */
export const GENESIS_HASH = "0".repeat(64);
