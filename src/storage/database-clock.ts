import { type RawBuilder, sql } from "kysely";
import type { Engine } from "./database.js";

/**
 * `at` as a time on the database's clock, for lease and claim expiry. Nodes sharing PostgreSQL may
 * disagree about the time by many minutes; a node running ahead would take over claims that are
 * still in hand and renew the same certificate twice. So PostgreSQL decides: its clock plus how far
 * `at` lies from this node's present. An injected test clock keeps its offset from the real one, so
 * tests that move time still move it here. SQLite has one node, whose clock is the database's.
 */
export function databaseTime(engine: Engine, at: Date): number | RawBuilder<number> {
  if (engine !== "postgres") return at.getTime();
  const fromNowMs = Math.round(at.getTime() - Date.now());
  return sql<number>`(floor(extract(epoch from clock_timestamp()) * 1000) + ${fromNowMs})::bigint`;
}
