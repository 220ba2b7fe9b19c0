import { mkdirSync } from "node:fs";
import { dirname } from "node:path";
import SQLite from "better-sqlite3";
import {
  Kysely,
  type KyselyPlugin,
  type Migration,
  type MigrationProvider,
  Migrator,
  PostgresDialect,
  SqliteDialect,
} from "kysely";
import pg from "pg";
import * as foundation from "./migrations/0001-foundation.js";
import * as certificates from "./migrations/0002-certificates.js";
import * as jobs from "./migrations/0003-jobs.js";
import * as access from "./migrations/0004-access.js";
import * as ca from "./migrations/0005-ca.js";
import * as acme from "./migrations/0006-acme.js";
import * as auditRowid from "./migrations/0007-audit-rowid.js";
import type { Database } from "./schema.js";

export type Engine = "sqlite" | "postgres";

export interface StorageHandle {
  db: Kysely<Database>;
  engine: Engine;
  /**
   * On SQLite, runs `work` synchronously against the raw connection while holding Kysely's lock on
   * it, so a multi-statement write holds the single connection for microseconds instead of across
   * event-loop turns. Undefined on PostgreSQL.
   */
  sqliteExclusive?: <T>(work: (sqlite: SQLite.Database) => T) => Promise<T>;
  /**
   * On SQLite, a number that moves on whenever the database may have changed: a write through this
   * handle's Kysely instance, or a commit by another connection to the same file. Writes made through
   * `sqliteExclusive` do not move it; only the audit log, which no cache reads, is written that way.
   * Undefined on PostgreSQL, where other nodes' writes are not visible without a round trip.
   */
  changeStamp?: () => number;
  /**
   * On SQLite, runs BEGIN IMMEDIATE, COMMIT or ROLLBACK on the connection at once, for a caller that
   * already holds it through `db.connection()`: through Kysely each costs as much as a real statement.
   */
  sqliteControl?: (statement: "begin immediate" | "commit" | "rollback") => void;
  close(): Promise<void>;
}

const INT8_OID = 20;

/** Opens the database named by `url`: `postgres://…` or a SQLite file path (`sqlite:` prefix optional). */
export function openDatabase(url: string, options: { poolSize?: number } = {}): StorageHandle {
  if (/^postgres(ql)?:\/\//.test(url)) {
    const pool = new pg.Pool({
      connectionString: url,
      max: options.poolSize ?? 10,
      // Epoch-millisecond columns are bigint; they fit a double exactly.
      types: {
        getTypeParser: (oid, format) => (oid === INT8_OID ? Number : pg.types.getTypeParser(oid, format)),
      },
    });
    // An idle connection that the server drops (restart, failover, pg_terminate_backend) is reported
    // here; the pool has already discarded it and the next query connects afresh. Without a listener
    // the 'error' event is unhandled and crashes the process.
    pool.on("error", () => undefined);
    const db = new Kysely<Database>({ dialect: new PostgresDialect({ pool }) });
    return { db, engine: "postgres", close: () => db.destroy() };
  }
  const file = url.replace(/^sqlite:/, "");
  if (file !== ":memory:") mkdirSync(dirname(file), { recursive: true });
  const sqlite = new SQLite(file);
  sqlite.pragma("journal_mode = WAL");
  sqlite.pragma("synchronous = NORMAL");
  sqlite.pragma("foreign_keys = ON");
  sqlite.pragma("busy_timeout = 5000");
  const cached = withStatementCache(sqlite);
  const writes = new WriteCounter();
  const db = new Kysely<Database>({ dialect: new SqliteDialect({ database: cached }), plugins: [writes] });
  const dataVersion = sqlite.prepare("pragma data_version").pluck();
  let seenDataVersion = dataVersion.get() as number;
  let dataVersionChecked = false;
  return {
    db,
    engine: "sqlite",
    sqliteExclusive: (work) => db.connection().execute(async () => work(cached)),
    sqliteControl: (statement) => {
      cached.prepare(statement).run();
    },
    changeStamp: () => {
      // Asking SQLite costs a statement; once per event-loop turn is enough, because the reads in one
      // turn are concurrent with another process's commit in that turn whichever state they see.
      if (!dataVersionChecked) {
        dataVersionChecked = true;
        setImmediate(() => {
          dataVersionChecked = false;
        });
        const current = dataVersion.get() as number;
        if (current !== seenDataVersion) {
          seenDataVersion = current;
          writes.count += 1;
        }
      }
      return writes.count;
    },
    close: () => db.destroy(),
  };
}

/**
 * Counts every statement that is not a plain select as it is compiled, before it runs: a reader that
 * took the stamp earlier cannot cache what the write changes. Raw SQL counts too (it may write).
 */
class WriteCounter implements KyselyPlugin {
  count = 0;
  transformQuery: KyselyPlugin["transformQuery"] = ({ node }) => {
    if (node.kind !== "SelectQueryNode") this.count += 1;
    return node;
  };
  transformResult: KyselyPlugin["transformResult"] = async ({ result }) => result;
}

const STATEMENT_CACHE_SIZE = 1000;

/**
 * Kysely's SQLite driver prepares every statement anew, which costs more than running it; the
 * queries are few and fixed, so prepared statements are kept by their SQL text (bounded).
 */
function withStatementCache(sqlite: SQLite.Database): SQLite.Database {
  const cache = new Map<string, SQLite.Statement>();
  const prepare = (source: string) => {
    let statement = cache.get(source);
    if (!statement) {
      statement = sqlite.prepare(source);
      if (cache.size >= STATEMENT_CACHE_SIZE) {
        const oldest = cache.keys().next().value;
        if (oldest !== undefined) cache.delete(oldest);
      }
      cache.set(source, statement);
    }
    return statement;
  };
  return new Proxy(sqlite, {
    get: (target, property) => {
      if (property === "prepare") return prepare;
      const value = Reflect.get(target, property, target);
      return typeof value === "function" ? value.bind(target) : value;
    },
  });
}

const MIGRATIONS: Record<string, (db: Kysely<unknown>, engine: Engine) => Promise<void>> = {
  "0001-foundation": foundation.up,
  "0002-certificates": certificates.up,
  "0003-jobs": jobs.up,
  "0004-access": access.up,
  "0005-ca": ca.up,
  "0006-acme": acme.up,
  "0007-audit-rowid": auditRowid.up,
};

/** Applies every migration not yet applied, in order; each in its own transaction. */
export async function migrate({ db, engine }: StorageHandle): Promise<string[]> {
  const provider: MigrationProvider = {
    getMigrations: async () =>
      Object.fromEntries(
        Object.entries(MIGRATIONS).map(([name, up]): [string, Migration] => [
          name,
          { up: (d) => up(d, engine) },
        ]),
      ),
  };
  const { error, results } = await new Migrator({ db, provider }).migrateToLatest();
  if (error) throw new Error(`Database migration failed: ${String(error)}`, { cause: error });
  return (results ?? []).filter((r) => r.status === "Success").map((r) => r.migrationName);
}
