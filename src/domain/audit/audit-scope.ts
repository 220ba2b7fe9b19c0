import { AsyncLocalStorage } from "node:async_hooks";
import type { AuditEntry } from "./model.js";

/**
 * Who is acting, carried from where a request, command or job starts down to the stores: each write
 * transaction run inside a scope writes an intent row from `entry()` and commits only with it.
 */
export interface AuditScope {
  /** The entry as far as it is known now (the outcome is filled in by the caller at the end). */
  entry(): AuditEntry;
  /** Intent rows committed so far, with their changes. */
  intents: number;
}

const storage = new AsyncLocalStorage<AuditScope>();

/** Runs `work` with `scope` as the acting audit context. */
export function inAuditScope<T>(scope: AuditScope, work: () => T): T {
  return storage.run(scope, work);
}

/** The audit context of the code running now, if any. */
export function currentAuditScope(): AuditScope | undefined {
  return storage.getStore();
}
