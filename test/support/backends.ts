import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { sql } from "kysely";
import { type Engine, migrate, openDatabase, type StorageHandle } from "../../src/storage/database.js";
import { createTestDatabase, postgresAvailable } from "./postgres.js";

/** A database of its own for one suite or test; `drop` removes every trace of it. */
export interface TestDatabase {
  engine: Engine;
  url: string;
  /** The SQLite database file; absent on PostgreSQL. */
  file?: string;
  drop(): Promise<void>;
}

/** One storage engine the contract suites run against, `for (const backend of backends)`. */
export interface Backend {
  engine: Engine;
  /** False when the engine is missing on this machine (never under CI=true: that throws instead). */
  available: boolean;
  createDatabase(): Promise<TestDatabase>;
}

const sqlite: Backend = {
  engine: "sqlite",
  available: true,
  async createDatabase() {
    // A directory per database, so files running in parallel never share a path.
    const dir = await mkdtemp(join(tmpdir(), "strongroom-storage-"));
    const file = join(dir, "strongroom.db");
    return { engine: "sqlite", url: file, file, drop: () => rm(dir, { recursive: true, force: true }) };
  },
};

const postgres: Backend = {
  engine: "postgres",
  available: postgresAvailable,
  async createDatabase() {
    const { url, drop } = await createTestDatabase();
    return { engine: "postgres", url, drop };
  },
};

export const backends: readonly Backend[] = [sqlite, postgres];

/** A fresh, migrated database and an open handle on it; `dispose` closes the handle and drops it. */
export async function openFreshStorage(
  backend: Backend,
): Promise<{ database: TestDatabase; storage: StorageHandle; dispose(): Promise<void> }> {
  const database = await backend.createDatabase();
  const storage = openDatabase(database.url);
  try {
    await migrate(storage);
  } catch (error) {
    await storage.close();
    await database.drop();
    throw error;
  }
  return {
    database,
    storage,
    async dispose() {
      await storage.close();
      await database.drop();
    },
  };
}

/**
 * Every row of every table, one line per row, with bytes as hex: for checks that must hold whatever
 * the schema looks like (nothing left behind by a purge, no plaintext at rest). `except` leaves out
 * tables whose rows are history by design, such as the event outbox.
 */
export async function dumpAllRows(
  { db, engine, audit }: StorageHandle,
  except: readonly string[] = [],
): Promise<string> {
  // On SQLite the audit log is a file of its own.
  const dumps = [await dumpEveryRow({ db, engine })];
  if (engine === "sqlite") dumps.push(await dumpEveryRow({ db: audit.db, engine }));
  return dumps
    .join("\n")
    .split("\n")
    .filter((line) => !except.includes(line.slice(0, line.indexOf(" "))))
    .join("\n");
}

async function dumpEveryRow({ db, engine }: Pick<StorageHandle, "db" | "engine">): Promise<string> {
  const lines: string[] = [];
  if (engine === "postgres") {
    const tables = await sql<{ name: string }>`
      select table_name as name from information_schema.tables
      where table_schema = 'public' and table_type = 'BASE TABLE' order by table_name`.execute(db);
    for (const { name } of tables.rows) {
      // A row cast to text prints bytea as \x… hex.
      const rows = await sql<{ row: string }>`select t::text as row from ${sql.table(name)} t`.execute(db);
      lines.push(...rows.rows.map((r) => `${name} ${r.row}`));
    }
    return lines.join("\n");
  }
  const tables = await sql<{ name: string }>`
    select name from sqlite_master where type = 'table' order by name`.execute(db);
  for (const { name } of tables.rows) {
    const rows = await sql<Record<string, unknown>>`select * from ${sql.table(name)}`.execute(db);
    for (const row of rows.rows) {
      // Buffer's toJSON runs before any replacer would, so convert bytes first.
      const values = Object.entries(row).map(([column, value]) => [
        column,
        value instanceof Uint8Array ? Buffer.from(value).toString("hex") : value,
      ]);
      lines.push(`${name} ${JSON.stringify(Object.fromEntries(values))}`);
    }
  }
  return lines.join("\n");
}
