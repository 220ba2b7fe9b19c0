/**
 * `pending` marks the intent row a change writes inside its own transaction, before its outcome is
 * known; `unknown` completes an intent whose change committed but whose process stopped before
 * answering.
 */
export type AuditOutcome = "success" | "failure" | "pending" | "unknown";

/** What happened in one request, command or job step. Never holds secret values, key material or tokens. */
export interface AuditEntry {
  time: Date;
  requestId: string;
  /** The principal's id, `cli:<os user>` for the command line, `system:<job>` for jobs. */
  principalId?: string | undefined;
  clientId?: string | undefined;
  vault?: string | undefined;
  operation: string;
  objectId?: string | undefined;
  version?: string | undefined;
  outcome: AuditOutcome;
  /** The HTTP status; 0 where there is none (intents, commands, jobs). */
  status: number;
  clientAddress: string;
  /** Short, non-secret context: the access rule that allowed or denied, an error code. */
  detail?: string | undefined;
}

/** Which rows an export or a search keeps; every given field must match. */
export interface AuditFilter {
  since?: Date | undefined;
  until?: Date | undefined;
  /** The principal's id or its client id. */
  principal?: string | undefined;
  /** The operation, exactly as recorded (`SecretGet`, `CampaignCreate`). */
  operation?: string | undefined;
  /** Rows whose object id starts with this (a vault URL, a collection, one object). */
  object?: string | undefined;
  outcome?: AuditOutcome | undefined;
}

/** An entry as chained: `hash` covers the entry, its sequence number and the previous row's hash. */
export interface AuditRecord extends AuditEntry {
  seq: number;
  prevHash: string;
  hash: string;
}

/**
 * Where the chain ends, as the writers recorded it. `baseSeq`/`baseHash` is the row the kept log
 * goes on from (0 and the genesis hash until retention prunes); `mac` binds all four under the
 * audit key, so the head cannot be moved back or reset without it.
 */
export interface AuditHead {
  seq: number;
  hash: string;
  baseSeq: number;
  baseHash: string;
  mac: string | null;
}

/** A change committed to stored state, recorded beside it: the sequence number of its intent row. */
export interface AuditChange {
  seq: number;
  requestId: string;
  mac: string;
}

export type AuditProblem =
  | "altered"
  | "deleted"
  | "inserted"
  | "truncated"
  | "head"
  | "rolled-back"
  | "checkpoint";

export type AuditVerdict =
  | { intact: true; rows: number }
  | { intact: false; rows: number; firstBadSeq: number; problem: AuditProblem; message: string };

/**
 * A signed statement that the log held `seq` rows ending in `hash` at `time`. Kept outside the
 * database, it proves later that the log was not cut or rolled back before it.
 */
export interface AuditCheckpoint {
  seq: number;
  hash: string;
  time: Date;
  /** Ed25519 over `checkpointMessage(…)`, base64. */
  signature: string;
  /** The installation key's public key, SPKI DER base64, so a reader can check it without the database. */
  publicKey: string;
}

/** The bytes a checkpoint's signature covers. */
export function checkpointMessage(c: Pick<AuditCheckpoint, "seq" | "hash" | "time">): string {
  return `strongroom-audit-checkpoint/1\n${c.seq}\n${c.hash}\n${c.time.toISOString()}`;
}

/** The hash that precedes the first row. */
export const GENESIS_HASH = "0".repeat(64);
