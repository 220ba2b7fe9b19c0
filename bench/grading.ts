/**
 * Grading at scale: `--count` inventory records (default 1,000,000), each with one location (two in
 * three a TLS endpoint reached by name, one in three a vault), graded in full against the
 * organisation rules and the built-in findings after a rule change, on SQLite and on PostgreSQL;
 * beside a plain sequential scan of the same table (every column but the DER, pages of 2,000 in id
 * order: twice grading's page, so the scan makes half its round trips) in the same run. Target:
 * grading at ≥ 0.5 of the scan's rate, and under 2 minutes. Beside the wall-clock times, this
 * process's CPU time for each (the steadier figure on a shared machine), the whole machine's (PostgreSQL's
 * included) and the load average.
 *
 * The records are written by SQL (generate_series / a recursive CTE) with facts spread as a real
 * estate's are (EC and RSA keys, 1% RSA-1024, 0.5% SHA-1, validity from a year ago to two years on,
 * four issuing CAs): grading never reads the DER, so the benchmark measures grading, not ingestion,
 * which bench/inventory measures.
 *
 *   node --import tsx bench/grading.ts [--count 1000000] [--engines sqlite,postgres] [--regrades 1]
 *     [--threads N]   (PostgreSQL's grading threads, one per core by default; 1 grades in this thread)
 */
import { createHash, randomBytes } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { Session } from "node:inspector/promises";
import { availableParallelism, loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import { sql } from "kysely";
import pg from "pg";
import type { CertificateFacts } from "../src/domain/inventory/model.js";
import { createGradingService, type GradingProgress } from "../src/domain/rules/grading-service.js";
import { createRulesService } from "../src/domain/rules/rules-service.js";
import { type GradingThreadPool, startGradingThreads } from "../src/jobs/grading-threads.js";
import { migrate, openDatabase, type StorageHandle } from "../src/storage/database.js";
import { createSqlGradingStore, gradedColumns } from "../src/storage/sql-grading-store.js";
import { createSqlRuleStore } from "../src/storage/sql-rule-store.js";

const DAY = 86_400_000;
const PAGE = 2000;
const TARGET_RATIO = 0.5;
const TARGET_SECONDS = 120;

function argument(name: string, fallback: string): string {
  const at = process.argv.indexOf(`--${name}`);
  return at >= 0 ? (process.argv[at + 1] ?? fallback) : fallback;
}
const count = Number(argument("count", "1000000"));
const engines = argument("engines", "sqlite,postgres").split(",");
const regradeCount = Number(argument("regrades", "1"));
// Threads a PostgreSQL grading runs on, as the server's gradingThreads: one per core unless given.
const threadCount = Number(argument("threads", String(availableParallelism())));
const log = (line: string) => console.log(line);

const now = Date.now();
const CAS = [0, 1, 2, 3].map((i) => ({
  subject: `CN=Bench CA ${i}, O=Bench`,
  ski: createHash("sha1").update(`ca${i}`).digest("hex"),
  sha256: createHash("sha256").update(`ca${i}`).digest("hex"),
}));

/** The four CA records (ids 1-4) and `count` leaves under them, with one location each. */
async function populate(storage: StorageHandle): Promise<void> {
  const { db, engine } = storage;
  const pgsql = engine === "postgres";
  for (const [i, ca] of CAS.entries()) {
    await db
      .insertInto("inventory_certificates")
      .values({
        sha256: Buffer.from(ca.sha256, "hex"),
        der: Buffer.alloc(1),
        subject: ca.subject,
        subject_key: ca.subject.toLowerCase(),
        issuer: ca.subject,
        serial: `0${i}`,
        not_before: now - 365 * DAY,
        not_after: now + 3650 * DAY,
        key_type: "EC",
        key_size: 384,
        curve: "P-384",
        signature_algorithm: "ecdsa-with-SHA384",
        sans: "[]",
        self_signed: 1,
        is_ca: 1,
        ski: ca.ski,
        aki: ca.ski,
        issuer_id: null,
        first_seen_at: now,
        owner_team: null,
        owner_application: null,
        owner_contact: null,
        owner_origin: null,
      } as never)
      .execute();
  }
  const caCase = (column: (ca: (typeof CAS)[number]) => string) =>
    `case n % 4 ${CAS.map((ca, i) => `when ${i} then '${column(ca)}'`).join(" ")} end`;
  const host = pgsql
    ? `'host' || n || '.d' || (n % 10000) || '.bench.example'`
    : `'host' || n || '.d' || (n % 10000) || '.bench.example'`;
  const series = pgsql
    ? `from generate_series(1::bigint, ${count}::bigint) as g(n)`
    : `from (with recursive s(n) as (select 1 union all select n + 1 from s where n < ${count}) select n from s)`;
  const sha = pgsql ? "decode(md5(n::text) || md5((n + 7)::text), 'hex')" : "randomblob(32)";
  const started = performance.now();
  await sql
    .raw(`insert into inventory_certificates (sha256, der, subject, subject_key, issuer, serial, not_before,
      not_after, key_type, key_size, curve, signature_algorithm, sans, self_signed, is_ca, ski, aki, issuer_id,
      first_seen_at)
    select ${sha}, ${pgsql ? "'\\x00'::bytea" : "x'00'"}, 'CN=' || ${host}, lower('CN=' || ${host}), ${caCase((c) => c.subject)},
      ${pgsql ? "to_hex(n)" : "printf('%x', n)"},
      ${now - 400 * DAY} + (n % 365) * ${DAY},
      ${now - 30 * DAY} + (n % 790) * ${DAY},
      case when n % 10 < 6 then 'EC' else 'RSA' end,
      case when n % 10 < 6 then 256 when n % 100 = 99 then 1024 else 2048 end,
      case when n % 10 < 6 then 'P-256' else null end,
      case when n % 200 = 7 then 'sha1WithRSAEncryption' when n % 10 < 6 then 'ecdsa-with-SHA256' else 'sha256WithRSAEncryption' end,
      '[{"type":"dns","value":"' || ${host} || '"}]', 0, 0, null, ${caCase((c) => c.ski)}, (n % 4) + 1, ${now}
    ${series}`)
    .execute(db);
  await sql
    .raw(`insert into inventory_locations (uri, cert_id, source, first_seen_at, last_seen_at, gone_at, detail)
    select case when id % 3 = 0 then 'vault://vault' || (id % 20) || '/certificates/c' || id || '/v1'
      else 'tls://10.0.' || (id % 250) || '.' || (id % 200) || ':' || (1000 + id % 60000) || '?sni=' || substr(subject, 4) end,
      id, case when id % 3 = 0 then 'vault' else 'tls' end, ${now}, ${now}, null,
      case when id % 3 = 0 then null else '{"presented":"' || ${caCase((c) => c.sha256).replace(/n % 4/, "(id - 1) % 4")} || '"}' end
    from inventory_certificates where id > ${CAS.length}`)
    .execute(db);
  if (pgsql) await sql`analyze`.execute(db);
  log(
    `  wrote ${count.toLocaleString("en")} records and locations in ${((performance.now() - started) / 1000).toFixed(0)} s`,
  );
}

/**
 * The baseline the target is set against: a plain sequential scan, every column of the record but its
 * DER, in keyset pages of the same size in id order, the way any reader of the table reads it.
 */
async function plainScan(storage: StorageHandle): Promise<number> {
  let after = 0;
  let rows = 0;
  for (;;) {
    const page = await storage.db
      .selectFrom("inventory_certificates")
      .select(RECORD_COLUMNS)
      .where("id", ">", after)
      .orderBy("id")
      .limit(PAGE)
      .execute();
    if (!page.length) return rows;
    rows += page.length;
    after = Number(page.at(-1)?.id);
  }
}

/**
 * A stricter floor, printed beside it: only the columns grading reads, read the way grading reads
 * them (row arrays, no statement compiling). The ratio to it is what grading costs beyond reading
 * its records at all, the locations and open findings it also reads included.
 */
async function leanScan(storage: StorageHandle): Promise<number> {
  const p = (n: number) => (storage.engine === "postgres" ? `$${n}` : "?");
  const query = `select ${gradedColumns(storage.engine)} from inventory_certificates
    where id > ${p(1)} order by id limit ${p(2)}`;
  let after = 0;
  let rows = 0;
  for (;;) {
    const page = await storage.arrayRows(query, [after, PAGE]);
    if (!page.length) return rows;
    rows += page.length;
    after = Number(page.at(-1)?.[0]);
  }
}

const RECORD_COLUMNS = [
  "id",
  "sha256",
  "subject",
  "subject_key",
  "issuer",
  "serial",
  "not_before",
  "not_after",
  "key_type",
  "key_size",
  "curve",
  "signature_algorithm",
  "sans",
  "self_signed",
  "is_ca",
  "ski",
  "aki",
  "issuer_id",
  "first_seen_at",
  "owner_team",
  "owner_application",
  "owner_contact",
  "owner_origin",
] as const;

/**
 * CPU seconds the whole machine spent (every process: PostgreSQL's backends as well as this one),
 * from /proc/stat; NaN where there is none. On two cores, what the re-grade and the scan cost
 * together decides how far running them side by side can go.
 */
function machineCpu(): number {
  try {
    const fields = (readFileSync("/proc/stat", "utf8").split("\n")[0] ?? "").trim().split(/\s+/).slice(1);
    const [user, nice, system, , , irq, softirq, steal] = fields.map(Number);
    return ((user ?? 0) + (nice ?? 0) + (system ?? 0) + (irq ?? 0) + (softirq ?? 0) + (steal ?? 0)) / 100;
  } catch {
    return Number.NaN;
  }
}

/** With PROFILE=dir, a CPU profile of `work` alone (not the writing of records) goes to dir/name.cpuprofile. */
async function profiled<T>(name: string, work: () => Promise<T>): Promise<T> {
  const dir = process.env.PROFILE;
  if (!dir) return work();
  const session = new Session();
  session.connect();
  await session.post("Profiler.enable");
  await session.post("Profiler.start");
  try {
    return await work();
  } finally {
    const { profile } = await session.post("Profiler.stop");
    writeFileSync(join(dir, `${name}.cpuprofile`), JSON.stringify(profile));
    session.disconnect();
  }
}

async function run(engine: string): Promise<void> {
  log(
    `\n${engine}: ${count.toLocaleString("en")} records${engine === "postgres" ? `, grading on ${threadCount} thread${threadCount > 1 ? "s" : ""}` : ""}`,
  );
  let storage: StorageHandle;
  let cleanup: () => Promise<void>;
  let threads: GradingThreadPool | undefined;
  if (engine === "sqlite") {
    const dir = mkdtempSync(join(tmpdir(), "strongroom-bench-grading-"));
    storage = openDatabase(join(dir, "strongroom.db"));
    cleanup = async () => {
      await storage.close();
      rmSync(dir, { recursive: true, force: true });
    };
  } else {
    const admin = new pg.Client({ connectionString: "postgres://postgres@127.0.0.1:5432/test" });
    await admin.connect();
    const name = `bench_grading_${process.pid}`;
    await admin.query(`create database ${name}`);
    const url = `postgres://postgres@127.0.0.1:5432/${name}`;
    storage = openDatabase(url);
    if (threadCount > 1) threads = startGradingThreads(url, threadCount, randomBytes(32));
    cleanup = async () => {
      await threads?.stop();
      await storage.close();
      await admin.query(`drop database ${name}`);
      await admin.end();
    };
  }
  try {
    await migrate(storage);
    await populate(storage);
    const clock = { now: () => new Date(now) };
    const ruleStore = createSqlRuleStore(storage);
    const vaultIds = new Map(Array.from({ length: 20 }, (_, i) => [`vault${i}`, `vault-id-${i}`]));
    const rules = createRulesService({
      store: ruleStore,
      clock,
      vaultByName: async (name) => ({ id: vaultIds.get(name) as string, name }),
      caByName: async (name) => ({ id: name, name }),
    });
    const anchors: CertificateFacts[] = CAS.map((ca) => ({
      fingerprintSha256: ca.sha256,
      subject: ca.subject,
      issuer: ca.subject,
      serialNumber: "01",
      notBefore: new Date(now - 365 * DAY),
      notAfter: new Date(now + 3650 * DAY),
      keyType: "EC",
      signatureAlgorithm: "ecdsa-with-SHA384",
      sans: [],
      selfSigned: true,
      isCa: true,
      subjectKeyId: ca.ski,
    }));
    const gradingStore = createSqlGradingStore(storage);
    const spent: Record<string, number> = {};
    if (process.env.BREAKDOWN)
      for (const [name, fn] of Object.entries(gradingStore)) {
        const add = (t: number) => {
          spent[name] = (spent[name] ?? 0) + performance.now() - t;
        };
        // `pages` is an async generator: its time is the time spent waiting for each page.
        (gradingStore as unknown as Record<string, unknown>)[name] =
          fn.constructor.name === "AsyncGeneratorFunction"
            ? async function* (...args: unknown[]) {
                const pages = (fn as (...a: unknown[]) => AsyncGenerator<unknown, unknown>)(...args);
                for (;;) {
                  const t = performance.now();
                  const step = await pages.next();
                  add(t);
                  if (step.done) return step.value;
                  yield step.value;
                }
              }
            : async (...args: unknown[]) => {
                const t = performance.now();
                try {
                  return await (fn as (...a: unknown[]) => Promise<unknown>)(...args);
                } finally {
                  add(t);
                }
              };
      }
    const gradingDeps = {
      store: gradingStore,
      rules: ruleStore,
      anchors: async () => anchors,
      vaultIds: async () => vaultIds,
      caIds: async () => new Map<string, string>(),
      clock,
      threads,
    };
    const grading = createGradingService(gradingDeps);
    await rules.set({ kind: "key-types", value: ["EC", "RSA"] });
    await rules.set({ kind: "min-rsa-key-size", value: 2048 });
    await rules.set({ kind: "dns-names", value: ["bench.example"] });
    await rules.set({ kind: "max-validity-days", value: 398 });
    await rules.set({ kind: "wildcards", value: false });
    await rules.set({ kind: "max-validity-days", value: 200, vault: "vault3" });
    const signal = new AbortController().signal;
    const timed = async <T>(work: () => Promise<T>) => {
      const started = performance.now();
      const cpu = process.cpuUsage();
      const machine = machineCpu();
      const result = await work();
      const used = process.cpuUsage(cpu);
      return {
        result,
        seconds: (performance.now() - started) / 1000,
        cpu: (used.user + used.system) / 1e6,
        machine: machineCpu() - machine,
        load: loadavg()[0] as number,
      };
    };

    const first = await timed(() => grading.grade(signal));
    log(
      `  first grading: ${first.seconds.toFixed(1)} s (CPU ${first.cpu.toFixed(1)} s, load ${first.load.toFixed(1)}), ${first.result.opened.toLocaleString("en")} findings opened`,
    );
    // Scanned before and after the re-gradings, and the faster scan taken: whichever runs first warms
    // the caches for the other, and the baseline must not gain from coming second.
    const before = {
      plain: await timed(() => plainScan(storage)),
      lean: await timed(() => leanScan(storage)),
    };
    for (const k of Object.keys(spent)) delete spent[k];
    // The rule change the target is about: every record is judged again, few findings change. With
    // `--regrades N` it is made and graded N times (390 days, 389, …) and the median run is the figure.
    // On threads, as many again on this thread alone follow, for the comparison in the same run.
    let day = 390;
    const regradeAll = async (service: typeof grading, label: string) => {
      const runs: Awaited<ReturnType<typeof timed<GradingProgress>>>[] = [];
      for (let i = 0; i < regradeCount; i++) {
        await rules.set({ kind: "max-validity-days", value: day-- });
        const one = await timed(() =>
          profiled(`${engine}-regrade-${label}-${i}`, () => service.grade(signal)),
        );
        runs.push(one);
        log(
          `  re-grade after a rule change (${one.result.mode}, ${label}): ${one.result.graded.toLocaleString("en")} records in ${one.seconds.toFixed(1)} s (${Math.round(one.result.graded / one.seconds).toLocaleString("en")} records/s; this process's CPU ${one.cpu.toFixed(2)} s, the machine's ${one.machine.toFixed(2)} s; load ${one.load.toFixed(1)}), ${one.result.opened} opened, ${one.result.resolved} resolved`,
        );
      }
      return [...runs].sort((a, b) => a.seconds - b.seconds)[
        Math.floor(regradeCount / 2)
      ] as (typeof runs)[number];
    };
    const graded = await regradeAll(grading, threads ? `${threadCount} threads` : "this thread");
    const alone = threads
      ? await regradeAll(createGradingService({ ...gradingDeps, threads: undefined }), "this thread")
      : undefined;
    const after = {
      plain: await timed(() => plainScan(storage)),
      lean: await timed(() => leanScan(storage)),
    };
    if (process.env.BREAKDOWN)
      log(
        `  store time: ${JSON.stringify(Object.fromEntries(Object.entries(spent).map(([k, v]) => [k, Math.round(v)])))}`,
      );
    const gradeRate = graded.result.graded / graded.seconds;
    if (regradeCount > 1) log(`  median re-grade: ${graded.seconds.toFixed(1)} s`);
    if (alone) {
      const plain = after.plain.seconds < before.plain.seconds ? after.plain : before.plain;
      log(
        `  median re-grade on this thread alone: ${alone.seconds.toFixed(1)} s (re-grade / plain scan ${(alone.result.graded / alone.seconds / (plain.result / plain.seconds)).toFixed(2)}); the threads were ${(alone.seconds / graded.seconds).toFixed(2)}× as fast`,
      );
    }
    for (const kind of ["plain", "lean"] as const) {
      const scanned = after[kind].seconds < before[kind].seconds ? after[kind] : before[kind];
      const scanRate = scanned.result / scanned.seconds;
      const ratio = gradeRate / scanRate;
      log(
        `  ${kind} scan: ${scanned.result.toLocaleString("en")} rows in ${scanned.seconds.toFixed(1)} s (${Math.round(scanRate).toLocaleString("en")} rows/s; before ${before[kind].seconds.toFixed(1)} s, after ${after[kind].seconds.toFixed(1)} s; CPU ${scanned.cpu.toFixed(2)} s, the machine's ${scanned.machine.toFixed(2)} s, load ${scanned.load.toFixed(1)}); re-grade / scan ${ratio.toFixed(2)}${kind === "plain" ? ` (target ≥ ${TARGET_RATIO}) ${ratio >= TARGET_RATIO ? "PASS" : "FAIL"}` : ""}; CPU per record, scan / re-grade ${(scanned.cpu / scanned.result / (graded.cpu / graded.result.graded)).toFixed(2)}`,
      );
    }
    log(`  ${graded.seconds <= TARGET_SECONDS ? "PASS" : "FAIL"} under ${TARGET_SECONDS} s`);
  } finally {
    await cleanup();
  }
}

for (const engine of engines) await run(engine);
