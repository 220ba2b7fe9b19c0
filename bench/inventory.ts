/**
 * The inventory at scale: `--count` real certificates (default 1,000,000; generated once, cached in
 * bench/.cache) with three locations each, ingested through the inventory's ObservationSink on
 * SQLite and on PostgreSQL; then a mix of filter queries, each run with varying parameters, reported
 * as p95 beside the p95 of a plain indexed SELECT on the same table in the same run (the ratio), and
 * this process's peak RSS. Before that, the facts reader against @peculiar/x509 and asn1js's parse
 * on the same DER.
 *
 *   npm run bench:inventory -- --count 1000000 [--engines sqlite,postgres] [--runs 40]
 */
import "reflect-metadata";
import { mkdtempSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import * as x509 from "@peculiar/x509";
import * as asn1js from "asn1js";
import { sql } from "kysely";
import pg from "pg";
import { readCertificateFacts } from "../src/crypto/certificate-facts-reader.js";
import { createInventoryService, type InventoryService } from "../src/domain/inventory/inventory-service.js";
import type { InventoryQuery } from "../src/domain/inventory/model.js";
import type { Observation } from "../src/domain/inventory/observation.js";
import { migrate, openDatabase, type StorageHandle } from "../src/storage/database.js";
import { createSqlInventoryStore } from "../src/storage/sql-inventory-store.js";
import { type Corpus, corpus, domainOf, hostOf, observations } from "./inventory-corpus.js";

const DAY = 86_400_000;
const BATCH = 500;
const TARGET_MS = 100;
const RSS_TARGET = 1024 ** 3;

function argument(name: string, fallback: string): string {
  const at = process.argv.indexOf(`--${name}`);
  return at >= 0 ? (process.argv[at + 1] ?? fallback) : fallback;
}

const count = Number(argument("count", "1000000"));
const engines = argument("engines", "sqlite,postgres").split(",");
const runs = Number(argument("runs", "40"));
const log = (line: string) => console.log(line);

let peakRss = 0;
const sampleRss = () => {
  peakRss = Math.max(peakRss, process.memoryUsage().rss);
};
setInterval(sampleRss, 100).unref();

function parseComparison(c: Corpus): void {
  const sample = Array.from({ length: Math.min(20_000, c.count) }, (_, i) => c.cert(i));
  const time = (work: () => void) => {
    const started = performance.now();
    work();
    return (performance.now() - started) / 1000;
  };
  const lean = time(() => {
    for (const { der } of sample) readCertificateFacts(der);
  });
  const peculiar = time(() => {
    for (const { der } of sample) {
      const cert = new x509.X509Certificate(der as Uint8Array<ArrayBuffer>);
      void [
        cert.subject,
        cert.issuer,
        cert.serialNumber,
        cert.notBefore,
        cert.notAfter,
        cert.signatureAlgorithm,
      ];
      void cert.publicKey.algorithm;
      void cert.getExtension(x509.SubjectAlternativeNameExtension)?.names.toJSON();
      void cert.getExtension(x509.SubjectKeyIdentifierExtension)?.keyId;
      void cert.getExtension(x509.AuthorityKeyIdentifierExtension)?.keyId;
      void cert.getExtension(x509.BasicConstraintsExtension)?.ca;
    }
  });
  const tree = time(() => {
    for (const { der } of sample) asn1js.fromBER(der);
  });
  const rate = (s: number) => Math.round(sample.length / s);
  log(`facts from DER, ${sample.length.toLocaleString("en")} certificates:`);
  log(`  DER walker (readCertificateFacts)  ${rate(lean).toLocaleString("en").padStart(9)} /s`);
  log(`  asn1js fromBER, tree only          ${rate(tree).toLocaleString("en").padStart(9)} /s`);
  log(`  @peculiar/x509, the same facts     ${rate(peculiar).toLocaleString("en").padStart(9)} /s`);
  log(
    `  ratio walker/peculiar ${(peculiar / lean).toFixed(1)}, walker/asn1js tree ${(tree / lean).toFixed(1)}`,
  );
}

/** The size of a file, 0 when it does not exist (the WAL between checkpoints that truncate it). */
const sizeOf = (file: string) => {
  try {
    return statSync(file).size;
  } catch {
    return 0;
  }
};
const mib = (bytes: number) => `${(bytes / 1024 ** 2).toFixed(0)} MiB`;

async function ingest(inventory: InventoryService, c: Corpus, file?: string): Promise<void> {
  const seenAt = new Date(c.madeAt);
  let peakWal = 0;
  const started = performance.now();
  let locations = 0;
  for (let i = 0; i < c.count; i += BATCH) {
    const batch: Observation[] = [];
    for (let j = i; j < Math.min(i + BATCH, c.count); j++) batch.push(...observations(c, j, seenAt));
    await inventory.observe(batch);
    locations += batch.length;
    if (file) peakWal = Math.max(peakWal, sizeOf(`${file}-wal`));
    if ((i / BATCH) % 200 === 0 && i > 0) {
      const s = (performance.now() - started) / 1000;
      log(`  ${i.toLocaleString("en")} certificates, ${Math.round(i / s).toLocaleString("en")}/s`);
    }
  }
  const s = (performance.now() - started) / 1000;
  log(
    `  ingested ${c.count.toLocaleString("en")} certificates and ${locations.toLocaleString("en")} locations in ${s.toFixed(0)} s: ${Math.round(c.count / s).toLocaleString("en")} certificates/s, ${Math.round(locations / s).toLocaleString("en")} locations/s`,
  );
  if (file) log(`  SQLite: database ${mib(sizeOf(file))}, largest WAL seen after a batch ${mib(peakWal)}`);
}

const p95 = (samples: number[]) => {
  const sorted = [...samples].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil(sorted.length * 0.95) - 1)] ?? 0;
};

async function timed(work: (run: number) => Promise<unknown>): Promise<number> {
  const samples: number[] = [];
  await work(-1);
  for (let run = 0; run < runs; run++) {
    const started = performance.now();
    await work(run);
    samples.push(performance.now() - started);
    sampleRss();
  }
  return p95(samples);
}

/** The query mix: what an operator asks of a large inventory, with parameters varied per run. */
function mix(
  c: Corpus,
  inventory: InventoryService,
  fifth: { sort: "notAfter" | "-notAfter"; cursor?: string | undefined }[],
): [string, (run: number) => Promise<unknown>][] {
  const pick = (run: number, salt: number) => ((run + 1) * 7_919 + salt * 104_729) % c.count;
  const list = (q: (run: number) => InventoryQuery) => (run: number) =>
    inventory.list({ limit: 100, ...q(run) });
  return [
    ["first page, soonest expiry", list(() => ({}))],
    ["expiring within 30 days", list(() => ({ expiringWithinMs: 30 * DAY }))],
    ["expired", list(() => ({ expired: true, sort: "-notAfter" }))],
    ["issuer words", list((r) => ({ issuer: `Bench RSA Issuing CA ${(r % 4) + 1}` }))],
    ["subject word (one host)", list((r) => ({ subject: `host${pick(r, 1)}` }))],
    ["SAN under a domain", list((r) => ({ san: domainOf(pick(r, 2)) }))],
    ["key type RSA, min 2048 bits", list(() => ({ keyType: "RSA", minKeySize: 2048 }))],
    ["signature algorithm SHA-1", list(() => ({ signatureAlgorithm: "sha1WithRSAEncryption" }))],
    ["source akv", list(() => ({ source: "akv" }))],
    ["location prefix (a /24)", list((r) => ({ location: `tls://10.${r % 16}.${(r * 37) % 256}.` }))],
    ["owner", list((r) => ({ owner: `team-${r % 40}` }))],
    [
      "EC, tls, expiring within 90 days",
      list(() => ({ keyType: "EC", source: "tls", expiringWithinMs: 90 * DAY })),
    ],
    ["sorted by subject", list(() => ({ sort: "subject" }))],
    [
      "page 5 by its cursor (expiring within 365 days)",
      (r) => inventory.list({ limit: 100, expiringWithinMs: 365 * DAY, ...fifth[r % fifth.length] }),
    ],
    ["one record by fingerprint", async (r) => inventory.list({ san: hostOf(pick(r, 3)), limit: 1 })],
    ["facets, whole inventory", () => inventory.facets({})],
    ["facets of a domain's certificates", (r) => inventory.facets({ san: domainOf(pick(r, 4)) })],
  ];
}

async function runEngine(engine: string, c: Corpus): Promise<void> {
  let storage: StorageHandle;
  let cleanup: () => Promise<void>;
  let file: string | undefined;
  if (engine === "sqlite") {
    const dir = mkdtempSync(join(tmpdir(), "strongroom-bench-inventory-"));
    file = join(dir, "strongroom.db");
    storage = openDatabase(file);
    cleanup = async () => {
      await storage.close();
      rmSync(dir, { recursive: true, force: true });
    };
  } else {
    const admin = new pg.Client({ connectionString: "postgres://postgres@127.0.0.1:5432/test" });
    await admin.connect();
    const name = `bench_inventory_${process.pid}`;
    await admin.query(`create database ${name}`);
    storage = openDatabase(`postgres://postgres@127.0.0.1:5432/${name}`);
    cleanup = async () => {
      await storage.close();
      await admin.query(`drop database ${name}`);
      await admin.end();
    };
  }
  try {
    await migrate(storage);
    const clock = { now: () => new Date(c.madeAt) };
    const inventory = createInventoryService({
      store: createSqlInventoryStore(storage),
      reader: { read: readCertificateFacts },
      clock,
    });
    log(`\n${engine}:`);
    await ingest(inventory, c, file);
    // On PostgreSQL, what autovacuum does after a bulk insert (autovacuum_vacuum_insert_threshold):
    // without the visibility map an index-only scan of the terms visits the heap for every row.
    if (engine === "postgres") await sql`vacuum analyze`.execute(storage.db);
    else await sql`analyze`.execute(storage.db);
    const baseline = await timed((r) =>
      sql`select id, not_after from inventory_certificates where not_after >= ${c.madeAt + r * DAY}
        order by not_after limit 100`.execute(storage.db),
    );
    log(`  baseline: plain indexed SELECT (100 rows by not_after)  p95 ${baseline.toFixed(2)} ms`);
    log(`  ${"query".padEnd(46)} ${"p95 ms".padStart(9)} ${"ratio".padStart(8)}  target`);
    const missed: string[] = [];
    // Cursors of page 5 (of 100) for two query variants, so that query times one page, not five.
    const fifth: { sort: "notAfter" | "-notAfter"; cursor?: string | undefined }[] = [];
    for (const sort of ["notAfter", "-notAfter"] as const) {
      let cursor: string | undefined;
      for (let page = 0; page < 4; page++)
        cursor = (await inventory.list({ limit: 100, expiringWithinMs: 365 * DAY, sort, cursor })).next;
      fifth.push({ sort, cursor });
    }
    for (const [name, work] of mix(c, inventory, fifth)) {
      const ms = await timed(work);
      if (ms >= TARGET_MS) missed.push(name);
      log(
        `  ${name.padEnd(46)} ${ms.toFixed(2).padStart(9)} ${(ms / baseline).toFixed(1).padStart(8)}  ${ms < TARGET_MS ? "met" : "MISSED"}`,
      );
    }
    sampleRss();
    log(
      `  peak RSS of this process ${(peakRss / 1024 ** 2).toFixed(0)} MiB (target < 1024 MiB: ${peakRss < RSS_TARGET ? "met" : "MISSED"})`,
    );
    log(
      missed.length === 0
        ? `  every query p95 < ${TARGET_MS} ms`
        : `  p95 >= ${TARGET_MS} ms: ${missed.join("; ")}`,
    );
  } finally {
    await cleanup();
  }
}

async function main(): Promise<void> {
  log(
    `bench/inventory: ${count.toLocaleString("en")} certificates, ${(count * 3).toLocaleString("en")} locations, ${runs} runs per query`,
  );
  const c = corpus(count, log);
  parseComparison(c);
  for (const engine of engines) {
    peakRss = 0;
    await runEngine(engine, c);
  }
}

main().catch((error: unknown) => {
  console.error(error);
  process.exitCode = 1;
});
