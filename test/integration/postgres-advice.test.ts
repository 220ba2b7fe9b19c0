import { sql } from "kysely";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { StorageHandle } from "../../src/storage/database.js";
import { autovacuumAdvice, databaseAdvice } from "../../src/storage/postgres-advice.js";
import { backends, openFreshStorage } from "../support/backends.js";

describe("advice on the database server's settings at start", () => {
  it("tells an operator whose autovacuum is off what slows down and what to do, and nothing when it is on", () => {
    expect(autovacuumAdvice("on")).toBeUndefined();
    const advice = autovacuumAdvice("off");
    expect(advice).toMatch(/autovacuum is off/);
    expect(advice).toMatch(/set autovacuum = on in postgresql\.conf and reload, or run ANALYZE/);
  });

  describe.each(backends)("on $engine", (backend) => {
    if (!backend.available) return;
    let storage: StorageHandle;
    let dispose: () => Promise<void>;
    beforeAll(async () => {
      ({ storage, dispose } = await openFreshStorage(backend));
    });
    afterAll(() => dispose());

    it("reads the server's own setting (none on SQLite, which has no such server)", async () => {
      if (backend.engine === "sqlite") {
        expect(await databaseAdvice(storage)).toEqual([]);
        return;
      }
      const { rows } = await sql<{ autovacuum: string }>`show autovacuum`.execute(storage.db);
      const setting = rows[0]?.autovacuum as string;
      const expected = autovacuumAdvice(setting);
      expect(await databaseAdvice(storage)).toEqual(expected ? [expected] : []);
    });
  });
});
