import { mkdirSync } from "node:fs";
import { dirname, extname } from "node:path";
import SQLite from "better-sqlite3";
import {
  type CompiledQuery,
  Kysely,
  type Migration,
  type MigrationProvider,
  Migrator,
  PostgresDialect,
  SqliteDialect,
  sql,
} from "kysely";
import pg from "pg";
import type { ChangeAudit } from "./change-audit.js";
import * as foundation from "./migrations/0001-foundation.js";
import * as certificates from "./migrations/0002-certificates.js";
import * as jobs from "./migrations/0003-jobs.js";
import * as access from "./migrations/0004-access.js";
import * as ca from "./migrations/0005-ca.js";
import * as acme from "./migrations/0006-acme.js";
import * as auditRowid from "./migrations/0007-audit-rowid.js";
import * as auditProof from "./migrations/0008-audit-proof.js";
import * as inventory from "./migrations/0009-inventory.js";
import * as discovery from "./migrations/0010-discovery.js";
import * as remoteVaults from "./migrations/0011-remote-vaults.js";
import * as rules from "./migrations/0012-rules.js";
import * as alerts from "./migrations/0013-alerts.js";
import * as acmeServer from "./migrations/0014-acme-server.js";
import * as enrollment from "./migrations/0015-enrollment.js";
import * as approvals from "./migrations/0016-approvals.js";
import * as campaigns from "./migrations/0017-campaigns.js";
import * as operationApproval from "./migrations/0018-operation-approval.js";
import * as approvalIssued from "./migrations/0019-approval-issued.js";
import * as uiSignIn from "./migrations/0021-ui-sign-in.js";
import * as acmeServerGaps from "./migrations/0023-acme-server-gaps.js";
import * as discoveryCertificates from "./migrations/0024-discovery-certificates.js";
import * as locationChanges from "./migrations/0025-location-changes.js";
import * as campaignClaims from "./migrations/0026-campaign-claims.js";
import * as deployments from "./migrations/0027-deployments.js";
import * as signingLeases from "./migrations/0028-signing-leases.js";
import * as campaignAbandonedClaims from "./migrations/0029-campaign-abandoned-claims.js";
import * as campaignClaimOrder from "./migrations/0030-campaign-claim-order.js";
import type { Database } from "./schema.js";
import { type Checkpointer, startCheckpointer } from "./sqlite-checkpointer.js";
import { type SqliteReader, startSqliteReader } from "./sqlite-reader.js";
import { busy, type SqliteWriteLock, sqliteWriteLock, untilLocked } from "./sqlite-write-lock.js";
import { writeTransaction } from "./transactions.js";

export type Engine = "sqlite" | "postgres";

export interface StorageHandle {
  db: Kysely<Database>;
  engine: Engine;
  /**
   * On SQLite, a number that moves on whenever the database may have changed: a write through this
   * handle's Kysely instance, or a commit by another connection to the same file. The audit log is in
   * a file of its own (see `audit`), so appending to it moves no stamp. Undefined on PostgreSQL,
   * where other nodes' writes are not visible without a round trip.
   */
  changeStamp?: () => number;
  /**
   * On SQLite, a number that moves on whenever another connection commits to the file (another
   * process, the CLI): a cache of rows that only one store of this process writes combines it with
   * its own count of those writes, so the writes of other stores do not empty it. Undefined on
   * PostgreSQL.
   */
  othersChangeStamp?: () => number;
  /**
   * On SQLite, the write-lock statements of the connection behind `db`, for a caller that already
   * holds it through `db.connection()`: through Kysely each costs as much as a real statement, and
   * BEGIN IMMEDIATE must not wait in SQLite's busy handler, which sleeps on the event loop.
   */
  sqliteLock?: SqliteWriteLock;
  /**
   * One read whose rows come back as arrays of column values in select order, for the hot paths
   * (grading reads every record) where a keyed object per row and Kysely's compiling of each
   * statement cost more than the query. Placeholders: `$1`, `$2`… on PostgreSQL, `?` on SQLite.
   * Each text is prepared once per connection and kept: only fixed statements, never built from values.
   */
  arrayRows(text: string, values: readonly unknown[]): Promise<unknown[][]>;
  /**
   * A read that may scan many rows (facet counts over a broad filter). On a SQLite file it runs on a
   * thread of its own (sqlite-reader.ts), so the event loop keeps answering other requests meanwhile;
   * on PostgreSQL, and on an in-memory SQLite database, it is an ordinary query.
   */
  longRead<R>(query: CompiledQuery): Promise<R[]>;
  /** Where the audit log is kept. */
  audit: AuditStorage;
  /**
   * Writes the intent row of a change made inside an audit scope, in the change's transaction; set
   * once the audit service exists (see main.ts). Until then, and outside scopes, writes are not audited.
   */
  changeAudit?: ChangeAudit;
  close(): Promise<void>;
}

export interface AuditStorage {
  /**
   * The audit tables. On SQLite they live in a file of their own beside the database
   * (`auditFile`): every request appends a row, and a commit to the main file would make every
   * other process on it drop its read cache (pragma data_version) and SQLite its page cache. On
   * PostgreSQL the same database as everything else.
   */
  db: Kysely<Database>;
  /**
   * On SQLite, runs `work` synchronously on the audit file's connection inside a write transaction
   * (committed when it returns, rolled back when it throws), waiting for another process's lock
   * without blocking. Undefined on PostgreSQL.
   */
  sqliteWrite?: <T>(work: (sqlite: SQLite.Database) => T) => Promise<T>;
}

const INT8_OID = 20;

/** Opens the database named by `url`: `postgres://…` or a SQLite file path (`sqlite:` prefix optional). */
export function openDatabase(
  url: string,
  options: { poolSize?: number; walLimitBytes?: number } = {},
): StorageHandle {
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
    // Named, so PostgreSQL parses and plans each text once per connection instead of once per page.
    const names = new Map<string, string>();
    const arrayRows = async (text: string, values: readonly unknown[]) => {
      let name = names.get(text);
      if (name === undefined) {
        name = `array_rows_${names.size}`;
        names.set(text, name);
      }
      return (await pool.query<unknown[]>({ name, text, values: [...values], rowMode: "array" })).rows;
    };
    return {
      db,
      engine: "postgres",
      arrayRows,
      longRead: (query) => onConnection(db, query),
      audit: { db },
      close: () => db.destroy(),
    };
  }
  const file = url.replace(/^sqlite:/, "");
  if (file !== ":memory:") mkdirSync(dirname(file), { recursive: true });
  const sqlite = openSqlite(file);
  const writes = { count: 0 };
  const cached = withStatementCache(sqlite, () => {
    writes.count += 1;
  });
  const db = new Kysely<Database>({ dialect: new SqliteDialect({ database: cached }) });
  // Set just below; the audit file's lock is made first and asks it only when a write begins.
  let checkpointer: Checkpointer | undefined;
  const audit = openAuditFile(auditFile(file), () => checkpointer?.waiting(1) ?? false);
  checkpointer =
    file === ":memory:"
      ? undefined
      : checkpointInBackground([sqlite, audit.sqlite], { walLimitBytes: options.walLimitBytes });
  // Started with the first long read, when the file surely exists.
  let reader: SqliteReader | undefined;
  const dataVersion = sqlite.prepare("pragma data_version").pluck();
  let seenDataVersion = dataVersion.get() as number;
  let dataVersionChecked = false;
  let othersCommits = 0;
  const othersChangeStamp = () => {
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
        othersCommits += 1;
        writes.count += 1;
      }
    }
    return othersCommits;
  };
  return {
    db,
    engine: "sqlite",
    // Prepared once through the cache; raw mode is the statement's own, and only these texts use it.
    arrayRows: async (text, values) =>
      cached
        .prepare(text)
        .raw(true)
        .all(...values) as unknown[][],
    longRead: async <R>(query: CompiledQuery) => {
      if (file === ":memory:") return onConnection<R>(db, query);
      // A thread that died (its reads failed with it) is replaced, not left failing every read.
      if (!reader?.alive()) reader = startSqliteReader(file);
      return (await reader.all(query.sql, query.parameters)) as R[];
    },
    sqliteLock: sqliteWriteLock(cached, BUSY_TIMEOUT_MS, () => checkpointer?.waiting(0) ?? false),
    changeStamp: () => {
      othersChangeStamp();
      return writes.count;
    },
    othersChangeStamp,
    audit: audit.storage,
    close: async () => {
      await Promise.all([checkpointer?.stop(), reader?.stop()]);
      await Promise.all([db.destroy(), audit.storage.db.destroy()]);
    },
  };
}

/** A long read where no reader thread can take it: an ordinary query on `db`'s own connections. */
async function onConnection<R>(db: Kysely<Database>, query: CompiledQuery): Promise<R[]> {
  return (await db.executeQuery<R>(query)).rows as R[];
}

/** SQLite's own threshold, restored if the checkpoint thread fails. */
const AUTOCHECKPOINT_PAGES = 1000;

/**
 * Moves the WAL checkpoints of `connections` off their thread (see sqlite-checkpointer.ts); if that
 * thread fails, each connection checkpoints for itself again. `options` are startCheckpointer's.
 */
export function checkpointInBackground(
  connections: SQLite.Database[],
  options?: Parameters<typeof startCheckpointer>[2],
): Checkpointer {
  for (const c of connections) c.pragma("wal_autocheckpoint = 0");
  return startCheckpointer(
    connections.map((c) => c.name),
    (error) => {
      for (const c of connections) if (c.open) c.pragma(`wal_autocheckpoint = ${AUTOCHECKPOINT_PAGES}`);
      process.emitWarning(`SQLite checkpoints are back on the event loop: ${error.message}`);
    },
    options,
  );
}

/** Blocking waits are left to statements outside transactions, which are few and short. */
const BUSY_TIMEOUT_MS = 5000;

function openSqlite(file: string): SQLite.Database {
  const sqlite = new SQLite(file);
  sqlite.pragma("journal_mode = WAL");
  sqlite.pragma("synchronous = NORMAL");
  sqlite.pragma("foreign_keys = ON");
  sqlite.pragma(`busy_timeout = ${BUSY_TIMEOUT_MS}`);
  return sqlite;
}

/** The audit log's file beside a SQLite database: `strongroom.db` → `strongroom.audit.db`. */
export function auditFile(file: string): string {
  if (file === ":memory:") return file;
  const ext = extname(file);
  return `${file.slice(0, file.length - ext.length)}.audit${ext}`;
}

function openAuditFile(
  file: string,
  yieldLock: () => boolean,
): { storage: AuditStorage; sqlite: SQLite.Database } {
  const sqlite = withStatementCache(openSqlite(file));
  const db = new Kysely<Database>({ dialect: new SqliteDialect({ database: sqlite }) });
  const lock = sqliteWriteLock(sqlite, BUSY_TIMEOUT_MS, yieldLock);
  return {
    sqlite,
    storage: {
      db,
      sqliteWrite: (work) =>
        untilLocked(() =>
          db.connection().execute(async () => {
            if (!lock.tryBegin()) return busy;
            try {
              const result = work(sqlite);
              lock.commit();
              return result;
            } catch (error) {
              lock.rollback();
              throw error;
            }
          }),
        ),
    },
  };
}

const STATEMENT_CACHE_SIZE = 1000;

const EXECUTIONS = new Set<PropertyKey>(["run", "all", "get", "iterate"]);

/**
 * A statement that calls `onWrite` each time before it runs, unless SQLite reports it read-only.
 * Counted when it runs, however it was built (Kysely's builders, a query Kysely compiled once, raw
 * SQL): a reader that took the stamp earlier cannot cache what the write changes.
 */
function countingWrites(statement: SQLite.Statement, onWrite: () => void): SQLite.Statement {
  if (statement.readonly) return statement;
  return new Proxy(statement, {
    get: (target, property) => {
      const value = Reflect.get(target, property, target);
      if (typeof value !== "function") return value;
      if (!EXECUTIONS.has(property)) return value.bind(target);
      return (...args: unknown[]) => {
        onWrite();
        return value.apply(target, args);
      };
    },
  });
}

/**
 * Kysely's SQLite driver prepares every statement anew, which costs more than running it; the
 * queries are few and fixed, so prepared statements are kept by their SQL text (bounded).
 * `onWrite`, when given, is told of every statement that may write, as it runs.
 */
function withStatementCache(sqlite: SQLite.Database, onWrite?: () => void): SQLite.Database {
  const cache = new Map<string, SQLite.Statement>();
  const prepare = (source: string) => {
    let statement = cache.get(source);
    if (!statement) {
      statement = sqlite.prepare(source);
      if (onWrite) statement = countingWrites(statement, onWrite);
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
  "0008-audit-proof": auditProof.up,
  "0009-inventory": inventory.up,
  "0010-discovery": discovery.up,
  "0011-remote-vaults": remoteVaults.up,
  "0012-rules": rules.up,
  "0013-alerts": alerts.up,
  "0014-acme-server": acmeServer.up,
  "0015-enrollment": enrollment.up,
  "0016-approvals": approvals.up,
  "0017-campaigns": campaigns.up,
  "0018-operation-approval": operationApproval.up,
  "0019-approval-issued": approvalIssued.up,
  "0021-ui-sign-in": uiSignIn.up,
  "0023-acme-server-gaps": acmeServerGaps.up,
  "0024-discovery-certificates": discoveryCertificates.up,
  "0025-location-changes": locationChanges.up,
  "0026-campaign-claims": campaignClaims.up,
  "0027-deployments": deployments.up,
  "0028-signing-leases": signingLeases.up,
  "0029-campaign-abandoned-claims": campaignAbandonedClaims.up,
  "0030-campaign-claim-order": campaignClaimOrder.up,
};

/**
 * Applies every migration not yet applied, in order; each in its own transaction. `through` stops
 * after the named one: tests build a database as an older release left it, then migrate the rest.
 */
export async function migrate(storage: StorageHandle, through?: string): Promise<string[]> {
  const { db, engine } = storage;
  const provider: MigrationProvider = {
    getMigrations: async () =>
      Object.fromEntries(
        Object.entries(MIGRATIONS).map(([name, up]): [string, Migration] => [
          name,
          { up: (d) => up(d, engine) },
        ]),
      ),
  };
  const migrator = new Migrator({ db, provider });
  const { error, results } = await (through === undefined
    ? migrator.migrateToLatest()
    : migrator.migrateTo(through));
  if (error) throw new Error(`Database migration failed: ${String(error)}`, { cause: error });
  if (engine === "sqlite") await moveAuditLog(storage);
  return (results ?? []).filter((r) => r.status === "Success").map((r) => r.migrationName);
}

const AUDIT_TABLES = [
  `create table if not exists audit_log (
    seq integer primary key,
    time bigint not null,
    request_id text not null,
    principal_id text,
    client_id text,
    vault text,
    operation text not null,
    object_id text,
    version text,
    outcome text not null,
    status integer not null,
    client_address text not null,
    detail text,
    prev_hash text not null,
    hash text not null
  )`,
  "create table if not exists audit_head (id integer primary key, seq bigint not null, hash text not null)",
  `insert or ignore into audit_head (id, seq, hash) values (1, 0, '${"0".repeat(64)}')`,
];

/** Head columns added by 0008-audit-proof, added to an audit file made before it. */
const AUDIT_HEAD_COLUMNS: Record<string, string> = {
  base_seq: "base_seq bigint not null default 0",
  base_hash: `base_hash text not null default '${"0".repeat(64)}'`,
  mac: "mac text",
};

/**
 * On SQLite the migrations make the audit tables in the main file (as on PostgreSQL, and as
 * installations before the audit file had them); they are created in the audit file and the rows of
 * an existing log moved there. The copy commits before the old tables are dropped: a crash between
 * the two leaves a copy whose head is past the start, which the next start does not copy again.
 */
async function moveAuditLog({ db, audit }: StorageHandle): Promise<void> {
  const { sqliteWrite } = audit;
  if (!sqliteWrite) return;
  // SQLite names an in-memory database's file "".
  const main = await sql<{ file: string }>`select file from pragma_database_list where name = 'main'`.execute(
    db,
  );
  const mainFile = main.rows[0]?.file ?? "";
  const hasLegacy =
    (await sql`select 1 from sqlite_master where type = 'table' and name = 'audit_head'`.execute(db)).rows
      .length > 0;
  await sqliteWrite((sqlite) => {
    for (const statement of AUDIT_TABLES) sqlite.prepare(statement).run();
    const present = new Set(
      (sqlite.prepare("select name from pragma_table_info('audit_head')").all() as { name: string }[]).map(
        (c) => c.name,
      ),
    );
    for (const [column, definition] of Object.entries(AUDIT_HEAD_COLUMNS)) {
      if (!present.has(column)) sqlite.prepare(`alter table audit_head add column ${definition}`).run();
    }
  });
  if (!hasLegacy) return;
  if (mainFile !== "") {
    await db.connection().execute(async (conn) => {
      await sql`attach database ${auditFile(mainFile)} as audit_file`.execute(conn);
      try {
        await writeTransaction({ db: conn, engine: "sqlite" }, async (trx) => {
          const head = await sql<{ seq: number }>`select seq from audit_file.audit_head where id = 1`.execute(
            trx,
          );
          if (head.rows[0]?.seq !== 0) return;
          await sql`insert into audit_file.audit_log select * from main.audit_log order by seq`.execute(trx);
          await sql`update audit_file.audit_head set (seq, hash) =
            (select seq, hash from main.audit_head where id = 1) where id = 1`.execute(trx);
        });
      } finally {
        await sql`detach database audit_file`.execute(conn);
      }
    });
  }
  await writeTransaction({ db, engine: "sqlite" }, async (trx) => {
    await sql`drop table audit_log`.execute(trx);
    await sql`drop table audit_head`.execute(trx);
  });
}
