import { join } from "node:path";
import { CompiledQuery, sql } from "kysely";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { migrate, openDatabase, type StorageHandle } from "../../src/storage/database.js";
import { VALUES_ROWS_PER_STATEMENT, valuesTable } from "../../src/storage/sql-values.js";
import { tempDataDir } from "../support/server-process.js";

/**
 * The set-based updates of a campaign batch join a VALUES list to a large table. Past about 200
 * rows SQLite's planner (with no statistics) scans the whole table for each statement instead of
 * searching its index for each listed row: a statement never holds more rows than that.
 */
describe("a VALUES list joined to a table on SQLite", () => {
  const data = tempDataDir();
  let storage: StorageHandle;
  beforeAll(async () => {
    storage = openDatabase(join(data.dir, "strongroom.db"));
    await migrate(storage);
  });
  afterAll(async () => {
    await storage.close();
    data.remove();
  });

  const plan = async (rows: number) => {
    const list = Array.from({ length: rows }, (_, i) => ["ca", `0${i}`, "revoked", 1, "cACompromise"]);
    const update = sql`with ${valuesTable(
      "new_status",
      [
        ["ca_id", "text"],
        ["serial", "text"],
        ["status", "text"],
        ["revoked_at", "bigint"],
        ["reason", "text"],
      ],
      list,
    )} update ca_issued set status = new_status.status from new_status
      where ca_issued.ca_id = new_status.ca_id and ca_issued.serial = new_status.serial`.compile(storage.db);
    const { rows: steps } = await storage.db.executeQuery<{ detail: string }>(
      CompiledQuery.raw(`explain query plan ${update.sql}`, [...update.parameters]),
    );
    return steps.map((s) => s.detail).join("; ");
  };

  it("searches the table's index for each listed row at the most rows a statement holds", async () => {
    expect(await plan(VALUES_ROWS_PER_STATEMENT)).toMatch(/SCAN new_status; SEARCH ca_issued USING/);
  });
});
