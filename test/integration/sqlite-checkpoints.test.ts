import { statSync } from "node:fs";
import { join } from "node:path";
import SQLite from "better-sqlite3";
import { type Kysely, sql } from "kysely";
import { afterEach, describe, expect, it } from "vitest";
import {
  auditFile,
  checkpointInBackground,
  openDatabase,
  type StorageHandle,
} from "../../src/storage/database.js";
import type { Database } from "../../src/storage/schema.js";
import { writeTransaction } from "../../src/storage/transactions.js";
import { tempDataDir } from "../support/server-process.js";

const PAGE = 4096;

/** Writes `pages` pages of random bytes in one transaction. */
async function fill(db: Kysely<Database>, pages: number): Promise<void> {
  await sql`create table filler (x blob)`.execute(db);
  await sql`with recursive n(i) as (select 1 union all select i + 1 from n where i < ${pages})
    insert into filler select randomblob(${PAGE}) from n`.execute(db);
}

async function until(condition: () => boolean, timeoutMs = 10_000): Promise<void> {
  const started = Date.now();
  while (!condition()) {
    if (Date.now() - started > timeoutMs) throw new Error("condition not met in time");
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe("SQLite WAL checkpoints", () => {
  const cleanups: (() => Promise<void> | void)[] = [];
  afterEach(async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  });

  /** A database file in a directory of its own, removed after the test. */
  function freshFile(): string {
    const data = tempDataDir();
    cleanups.push(data.remove);
    return join(data.dir, "strongroom.db");
  }

  it("are left to a thread of their own: the connections never checkpoint, yet the log reaches the database file", async () => {
    const file = freshFile();
    const storage: StorageHandle = openDatabase(file);
    cleanups.push(() => storage.close());
    const autocheckpoint = await sql<{ wal_autocheckpoint: number }>`pragma wal_autocheckpoint`.execute(
      storage.db,
    );
    expect(autocheckpoint.rows[0]?.wal_autocheckpoint).toBe(0);
    const audit = await sql<{ wal_autocheckpoint: number }>`pragma wal_autocheckpoint`.execute(
      storage.audit.db,
    );
    expect(audit.rows[0]?.wal_autocheckpoint).toBe(0);

    // 2,000 pages: twice SQLite's own threshold. Without a checkpoint they stay in the -wal file and
    // the database file keeps its first few pages.
    await fill(storage.db, 2000);
    await until(() => statSync(file).size > 2000 * PAGE);
  });

  it("checkpoint the audit file too", async () => {
    const file = freshFile();
    const storage = openDatabase(file);
    cleanups.push(() => storage.close());
    await fill(storage.audit.db, 1500);
    await until(() => statSync(auditFile(file)).size > 1500 * PAGE);
  });

  it("go back to each connection when the thread cannot run, with a warning that says so", async () => {
    const file = freshFile();
    const connection = new SQLite(file);
    cleanups.push(() => void connection.close());
    connection.pragma("journal_mode = WAL");
    const warned = new Promise<Error>((resolve) => process.once("warning", resolve));
    const checkpointer = checkpointInBackground([connection], { driver: join(file, "no-such-driver.js") });
    cleanups.push(() => checkpointer.stop());
    expect(connection.pragma("wal_autocheckpoint", { simple: true })).toBe(0);
    expect((await warned).message).toMatch(/SQLite checkpoints are back on the event loop/);
    expect(connection.pragma("wal_autocheckpoint", { simple: true })).toBe(1000);
  });

  it("keep the log under its limit while write transactions follow each other without a pause", async () => {
    const file = freshFile();
    const limit = 1024 * 1024;
    const storage = openDatabase(file, { walLimitBytes: limit });
    cleanups.push(() => storage.close());
    await sql`create table filler (x blob)`.execute(storage.db);
    // 800 transactions of 64 pages (256 KiB) each: 200 MiB in all. With passive checkpoints only, a
    // writer that never pauses keeps SQLite from rewinding the log, and it grows with every
    // transaction to more than the 200 MiB written.
    let largest = 0;
    for (let i = 0; i < 800; i++) {
      await writeTransaction(storage, (trx) =>
        sql`with recursive n(i) as (select 1 union all select i + 1 from n where i < 64)
          insert into filler select randomblob(${PAGE}) from n`.execute(trx),
      );
      largest = Math.max(largest, statSync(`${file}-wal`).size);
    }
    // The limit plus what the writer adds between two checkpoint ticks (100 ms; about 30 MiB when
    // measured): under half of what was written, so the log was emptied again and again on the way.
    expect(largest).toBeLessThan(100 * 1024 * 1024);
    const rows = await sql<{ n: number }>`select count(*) as n from filler`.execute(storage.db);
    expect(rows.rows[0]?.n).toBe(800 * 64);
  });

  it("leave no log behind once the database is closed", async () => {
    const file = freshFile();
    const storage = openDatabase(file);
    await fill(storage.db, 10);
    await storage.close();
    expect(() => statSync(`${file}-wal`)).toThrow(/ENOENT/);
  });
});
