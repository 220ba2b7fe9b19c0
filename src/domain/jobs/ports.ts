/** A unit of scheduled work, run by whichever node holds its lease. */
export interface Job {
  readonly name: string;
  readonly intervalMs: number;
  /** Does one round of work; returns a short summary for logs and the CLI. */
  run(signal: AbortSignal): Promise<string>;
}

/** Leases make sure one node at a time runs a job, however many share the database. */
export interface LeaseStore {
  /** Takes or renews the lease of `job` for `owner` until `until`; false while another owner holds it. */
  acquire(job: string, owner: string, now: Date, until: Date): Promise<boolean>;
  release(job: string, owner: string): Promise<void>;
}

/** Soft-deleted objects whose retention has ended, oldest first. */
export interface DuePurge {
  vaultId: string;
  collection: "secrets" | "keys" | "certificates";
  name: string;
}
