import { join } from "node:path";
import { sql } from "kysely";
import { afterEach, describe, expect, it } from "vitest";
import { openDatabase } from "../../src/storage/database.js";
import { tempDataDir } from "../support/server-process.js";

// A read that takes a while on any machine: a recursive count to a few million.
const LONG = sql<{
  n: number;
}>`with recursive c(i) as (select 1 union all select i + 1 from c where i < 3000000)
  select count(*) as n from c`;

describe("long reads of a SQLite file, on a thread of their own", () => {
  const cleanups: (() => Promise<void> | void)[] = [];
  afterEach(async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  });
  const open = (file?: string) => {
    let url = ":memory:";
    if (file) {
      const work = tempDataDir();
      cleanups.push(work.remove);
      url = join(work.dir, file);
    }
    const storage = openDatabase(url);
    cleanups.push(() => storage.close());
    return storage;
  };

  it("answers while the event loop keeps turning, which a read on the main connection cannot", async () => {
    const storage = open("reads.db");
    let turns = 0;
    let counting = true;
    const count = () => {
      if (!counting) return;
      turns++;
      setImmediate(count);
    };
    setImmediate(count);
    const [row] = await storage.longRead<{ n: number }>(LONG.compile(storage.db));
    counting = false;
    expect(row?.n).toBe(3_000_000);
    expect(turns).toBeGreaterThan(0);

    // The same statement on the main connection: no turn of the loop until it returns.
    turns = 0;
    counting = true;
    setImmediate(count);
    await LONG.execute(storage.db);
    const during = turns;
    counting = false;
    expect(during).toBe(0);
  });

  it("sees what the main connection committed, and refuses to write", async () => {
    const storage = open("reads.db");
    await sql`create table t (x integer)`.execute(storage.db);
    await sql`insert into t values (1), (2), (3)`.execute(storage.db);
    const read = () => storage.longRead<{ n: number }>(sql`select count(*) as n from t`.compile(storage.db));
    expect((await read())[0]?.n).toBe(3);
    await sql`insert into t values (4)`.execute(storage.db);
    expect((await read())[0]?.n).toBe(4);
    await expect(
      storage.longRead(sql`insert into t values (5) returning x`.compile(storage.db)),
    ).rejects.toThrow(/readonly/);
    await expect(storage.longRead(sql`select x from nowhere`.compile(storage.db))).rejects.toThrow(
      /no such table/,
    );
    expect((await read())[0]?.n).toBe(4);
  });

  it("runs on the main connection for an in-memory database, which no other connection can open", async () => {
    const storage = open();
    const [row] = await storage.longRead<{ n: number }>(sql`select 41 + 1 as n`.compile(storage.db));
    expect(row?.n).toBe(42);
  });
});
