/**
 * The inventory at scale: `--count` real certificates (default 1,000,000; generated once, cached in
 * bench/.cache) with three locations each, ingested through the inventory's ObservationSink on
 * SQLite and on PostgreSQL; then a mix of filter queries, each run with varying parameters, reported
 * as p95 beside the p95 of a plain indexed SELECT on the same table in the same run (the ratio), and
 * this process's peak RSS. Before that, the facts reader against @peculiar/x509 on the same DER.
 *
 *   npm run bench:inventory -- --count 1000000 [--engines sqlite,postgres] [--runs 40]
 */
import "reflect-metadata";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import * as x509 from "@peculiar/x509";
import { sql } from "kysely";
import pg from "pg";
import { readCertificateFacts } from "../src/crypto/certificate-facts-reader.js";
import { createInventoryService, type InventoryService } from "../src/domain/inventory/inventory-service.js";
import type { InventoryQuery } from "../src/domain/inventory/model.js";
import type { Observation } from "../src/domain/inventory/observation.js";
import { migrate, openDatabase, type StorageHandle } from "../src/storage/database.js";
import { createSqlInventoryStore } from "../src/storage/sql-inventory-store.js";
import { type Corpus, corpus, domainOf, hostOf } from "./inventory-corpus.js";

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

/** Three places per certificate: two TLS endpoints and one of file, vault (with an owner tag), AKV or CA. */
function observations(c: Corpus, i: number, seenAt: Date): (Observation & { owner?: { team: string } })[] {
  const cert = c.certs[i] as Corpus["certs"][number];
  const ip = `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`;
  const host = hostOf(i);
  const chain = [c.cas[cert.ca] as Uint8Array];
  const third = i % 4;
  const place =
    third === 0
      ? { location: `file://agent-${i % 50}/etc/ssl/certs/${host}.pem`, source: "file" as const }
      : third === 1
        ? {
            location: `vault://vault${i % 20}/certificates/c${i}/v1`,
            source: "vault" as const,
            owner: { team: `team-${i % 40}` },
          }
        : third === 2
          ? { location: `akv://kv${i % 10}.vault.azure.net/certificates/c${i}/1`, source: "akv" as const }
          : { location: `ca://ca${cert.ca}/${i.toString(16)}`, source: "ca" as const };
  return [
    { der: cert.der, chain, location: `tls://${ip}:443?sni=${host}`, source: "tls", seenAt },
    { der: cert.der, location: `tls://${ip}:8443`, source: "tls", seenAt },
    { der: cert.der, seenAt, ...place },
  ];
}

function parseComparison(c: Corpus): void {
  const sample = c.certs.slice(0, Math.min(20_000, c.certs.length));
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
  const rate = (s: number) => Math.round(sample.length / s);
  log(`facts from DER, ${sample.length.toLocaleString("en")} certificates:`);
  log(`  lean asn1js reader   ${rate(lean).toLocaleString("en").padStart(9)} /s`);
  log(`  @peculiar/x509       ${rate(peculiar).toLocaleString("en").padStart(9)} /s`);
  log(`  ratio lean/peculiar  ${(peculiar / lean).toFixed(2)}`);
}

async function ingest(inventory: InventoryService, c: Corpus): Promise<void> {
  const seenAt = new Date(c.madeAt);
  const started = performance.now();
  let locations = 0;
  for (let i = 0; i < c.certs.length; i += BATCH) {
    const batch: Observation[] = [];
    for (let j = i; j < Math.min(i + BATCH, c.certs.length); j++) batch.push(...observations(c, j, seenAt));
    await inventory.observe(batch);
    locations += batch.length;
    if ((i / BATCH) % 200 === 0 && i > 0) {
      const s = (performance.now() - started) / 1000;
      log(`  ${i.toLocaleString("en")} certificates, ${Math.round(i / s).toLocaleString("en")}/s`);
    }
  }
  const s = (performance.now() - started) / 1000;
  log(
    `  ingested ${c.certs.length.toLocaleString("en")} certificates and ${locations.toLocaleString("en")} locations in ${s.toFixed(0)} s: ${Math.round(c.certs.length / s).toLocaleString("en")} certificates/s, ${Math.round(locations / s).toLocaleString("en")} locations/s`,
  );
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
function mix(c: Corpus, inventory: InventoryService): [string, (run: number) => Promise<unknown>][] {
  const pick = (run: number, salt: number) => ((run + 1) * 7_919 + salt * 104_729) % c.certs.length;
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
      "page 5 by cursor (expiring within 365 days)",
      async () => {
        let cursor: string | undefined;
        for (let page = 0; page < 5; page++)
          cursor = (await inventory.list({ limit: 100, expiringWithinMs: 365 * DAY, cursor })).next;
        return cursor;
      },
    ],
    ["one record by fingerprint", async (r) => inventory.list({ san: hostOf(pick(r, 3)), limit: 1 })],
    ["facets, whole inventory", () => inventory.facets({})],
    ["facets of a domain's certificates", (r) => inventory.facets({ san: domainOf(pick(r, 4)) })],
  ];
}

async function runEngine(engine: string, c: Corpus): Promise<void> {
  let storage: StorageHandle;
  let cleanup: () => Promise<void>;
  if (engine === "sqlite") {
    const dir = mkdtempSync(join(tmpdir(), "strongroom-bench-inventory-"));
    storage = openDatabase(join(dir, "strongroom.db"));
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
    await ingest(inventory, c);
    if (engine === "postgres") await sql`analyze`.execute(storage.db);
    else await sql`analyze`.execute(storage.db);
    const baseline = await timed((r) =>
      sql`select id, not_after from inventory_certificates where not_after >= ${c.madeAt + r * DAY}
        order by not_after limit 100`.execute(storage.db),
    );
    log(`  baseline: plain indexed SELECT (100 rows by not_after)  p95 ${baseline.toFixed(2)} ms`);
    log(`  ${"query".padEnd(46)} ${"p95 ms".padStart(9)} ${"ratio".padStart(8)}  target`);
    const missed: string[] = [];
    for (const [name, work] of mix(c, inventory)) {
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
  for (const engine of engines) await runEngine(engine, c);
}

main().catch((error: unknown) => {
  console.error(error);
  process.exitCode = 1;
});
