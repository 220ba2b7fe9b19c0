import { type Kysely, sql } from "kysely";
import type { ViolationCount } from "../domain/reports/posture.js";
import type { Database } from "./schema.js";

/**
 * Reads the inventory grading's findings (issue 19 part 3, table `inventory_findings`) where an
 * installation has them. Until that migration has run the table does not exist, and the readers
 * answer undefined so alerts and reports leave the findings out instead of failing.
 */
const missingTable = (error: unknown) =>
  /no such table|does not exist/i.test(String((error as Error).message));

export const hex = (v: Buffer | string) =>
  typeof v === "string" ? v.toLowerCase() : Buffer.from(v).toString("hex");

async function orMissing<T>(read: () => Promise<T>): Promise<T | undefined> {
  try {
    return await read();
  } catch (error) {
    if (missingTable(error)) return undefined;
    throw error;
  }
}

/** Unresolved findings; undefined when the table does not exist. */
export async function openFindingRows(db: Kysely<Database>) {
  const rows = await orMissing(async () => {
    const result = await sql<{
      fingerprint_sha256: Buffer | string;
      location_uri: string | null;
      kind: string;
      rule_id: string | null;
      reason: string;
    }>`select fingerprint_sha256, location_uri, kind, rule_id, reason
       from inventory_findings where resolved_at is null`.execute(db);
    return result.rows;
  });
  return rows?.map((r) => ({
    fingerprint: hex(r.fingerprint_sha256),
    location: r.location_uri ?? undefined,
    kind: r.kind,
    ruleId: r.rule_id ?? undefined,
    reason: r.reason,
  }));
}

/** Unresolved rule violations counted by rule; undefined when the table does not exist. */
export async function violationsByRule(db: Kysely<Database>): Promise<ViolationCount[] | undefined> {
  return orMissing(async () => {
    const result = await sql<{ rule_id: string | null; kind: string; count: number | string }>`
      select rule_id, kind, count(*) as count from inventory_findings
      where resolved_at is null group by rule_id, kind`.execute(db);
    // Sorted here: the engines order NULL rule ids differently.
    return result.rows
      .map((r) => ({ ruleId: r.rule_id ?? "(built-in)", kind: r.kind, count: Number(r.count) }))
      .sort((a, b) => b.count - a.count || a.ruleId.localeCompare(b.ruleId) || a.kind.localeCompare(b.kind));
  });
}
