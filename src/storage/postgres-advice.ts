import { sql } from "kysely";
import type { StorageHandle } from "./database.js";

/**
 * What to tell an operator whose PostgreSQL runs with `autovacuum` off: nothing then keeps the
 * tables' statistics, and the planner, guessing without them, can check each new version's foreign
 * key by scanning its whole vault (3 ms a row at 100,000 certificates, growing with the vault, in
 * bench/campaign).
 */
export function autovacuumAdvice(setting: string): string | undefined {
  if (setting !== "off") return undefined;
  return (
    "PostgreSQL's autovacuum is off, so nothing keeps the tables' statistics and writes slow down as " +
    "vaults grow: set autovacuum = on in postgresql.conf and reload, or run ANALYZE after large " +
    "imports and at least daily"
  );
}

/** Advice on the database server's settings, for the log at start; none on SQLite. */
export async function databaseAdvice(storage: Pick<StorageHandle, "db" | "engine">): Promise<string[]> {
  if (storage.engine !== "postgres") return [];
  const { rows } = await sql<{ setting: string }>`select current_setting('autovacuum') as setting`.execute(
    storage.db,
  );
  const advice = autovacuumAdvice(rows[0]?.setting ?? "on");
  return advice ? [advice] : [];
}
