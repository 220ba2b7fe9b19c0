import { randomBytes } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { hmacAuditChain } from "../../src/crypto/hmac-audit-chain.js";
import { inAuditScope } from "../../src/domain/audit/audit-scope.js";
import { createAuditService } from "../../src/domain/audit/audit-service.js";
import type { AuditEntry } from "../../src/domain/audit/model.js";
import {
  createGradingService,
  type GradingProgress,
  type GradingThreads,
} from "../../src/domain/rules/grading-service.js";
import type { IdRange } from "../../src/domain/rules/ports.js";
import { createRulesService } from "../../src/domain/rules/rules-service.js";
import { type GradingThreadPool, startGradingThreads } from "../../src/jobs/grading-threads.js";
import { createChangeAudit } from "../../src/storage/change-audit.js";
import { migrate, openDatabase, type StorageHandle } from "../../src/storage/database.js";
import { createSqlAuditStore } from "../../src/storage/sql-audit-store.js";
import { createSqlGradingStore } from "../../src/storage/sql-grading-store.js";
import { createSqlRuleStore } from "../../src/storage/sql-rule-store.js";
import { type Backend, backends, openFreshStorage } from "../support/backends.js";
import { inventoryRow } from "../support/inventory-rows.js";
import { createTestDatabase, postgresAvailable } from "../support/postgres.js";

const DAY = 86_400_000;
const now = new Date("2026-12-01T00:00:00Z");
const clock = { now: () => now };
const auditKey = randomBytes(32);
const jobEntry: AuditEntry = {
  time: now,
  requestId: "job-grading-1",
  operation: "JobRun",
  detail: "grading",
  outcome: "pending",
  status: 0,
  clientAddress: "",
};
const RECORDS = 2_500;

/**
 * Records whose facts vary with n: a third in a vault, the rest served over TLS, some on a name they
 * do not carry, some expired, some RSA-1024, validity from 30 to 1,000 days.
 */
async function addRecords(storage: StorageHandle): Promise<void> {
  for (let start = 0; start < RECORDS; start += 250) {
    const rows = Array.from({ length: 250 }, (_, k) => {
      const n = start + k;
      const host = `host${n}.example.com`;
      const rsa = n % 7 === 0;
      return inventoryRow(host, n, now, {
        not_before: now.getTime() - 400 * DAY,
        not_after: now.getTime() - 400 * DAY + (30 + (n % 970)) * DAY,
        key_type: rsa ? "RSA" : "EC",
        key_size: rsa ? (n % 14 === 0 ? 1024 : 2048) : 256,
        curve: rsa ? null : "P-256",
        signature_algorithm: rsa ? "sha256WithRSAEncryption" : "ecdsa-with-SHA256",
      });
    });
    const ids = await storage.db
      .insertInto("inventory_certificates")
      .values(rows as never)
      .returning("id")
      .execute();
    await storage.db
      .insertInto("inventory_locations")
      .values(
        ids.map(({ id }, k) => {
          const n = start + k;
          return {
            uri:
              n % 3 === 0
                ? `vault://vault${n % 4}/certificates/c${n}/v1`
                : `tls://10.0.${n % 250}.1:${1000 + n}?sni=${n % 5 === 0 ? "elsewhere.example.com" : `host${n}.example.com`}`,
            cert_id: Number(id),
            source: n % 3 === 0 ? "vault" : "tls",
            first_seen_at: now.getTime(),
            last_seen_at: now.getTime(),
            gone_at: null,
            detail: null,
          };
        }) as never,
      )
      .execute();
  }
}

/** A database with the records and the same rules; graded on `threads` when given. */
async function graded(threads: number) {
  const database = await createTestDatabase();
  const storage = openDatabase(database.url);
  await migrate(storage);
  await addRecords(storage);
  const ruleStore = createSqlRuleStore(storage);
  const rules = createRulesService({
    store: ruleStore,
    clock,
    vaultByName: async (name) => ({ id: `id-${name}`, name }),
    caByName: async (name) => ({ id: name, name }),
  });
  await rules.set({ kind: "max-validity-days", value: 398 });
  await rules.set({ kind: "min-rsa-key-size", value: 2048 });
  await rules.set({ kind: "max-validity-days", value: 90, vault: "vault1" });
  // Writes audited as the grading job's are: an intent row per transaction, under the job's entry.
  const audit = createAuditService({ store: createSqlAuditStore(storage), chain: hmacAuditChain(auditKey) });
  storage.changeAudit = createChangeAudit({ engine: "postgres", audit, chain: hmacAuditChain(auditKey) });
  const pool: GradingThreadPool | undefined =
    threads > 1 ? startGradingThreads(database.url, threads, auditKey) : undefined;
  const grading = createGradingService({
    store: createSqlGradingStore(storage),
    rules: ruleStore,
    anchors: async () => [],
    vaultIds: async () => new Map([0, 1, 2, 3].map((i) => [`vault${i}`, `id-vault${i}`])),
    caIds: async () => new Map(),
    clock,
    threads: pool,
  });
  const heard: GradingProgress[] = [];
  const scope = { entry: () => jobEntry, intents: 0 };
  const first = await inAuditScope(scope, () =>
    grading.gradeAll(new AbortController().signal, (p) => heard.push(p)),
  );
  // Rule changes: the second full grading resolves some findings and opens others.
  await rules.set({ kind: "max-validity-days", value: 900 });
  await rules.set({ kind: "min-rsa-key-size", value: 4096 });
  const second = await inAuditScope(scope, () => grading.gradeAll(new AbortController().signal));
  const intentRows = await storage.db
    .selectFrom("audit_changes")
    .select((eb) => eb.fn.countAll<number>().as("rows"))
    .executeTakeFirstOrThrow();
  const findings = await storage.db
    .selectFrom("inventory_findings")
    .select(["fingerprint_sha256", "kind", "rule_id", "location_uri", "reason", "resolved_at", "found_at"])
    .execute();
  // Rule ids are each database's own: a finding names its rule by what the rule is.
  const named = new Map(
    (await ruleStore.list()).map((r) => [r.id, `${r.kind}@${r.targetName || "installation"}`]),
  );
  return {
    first,
    second,
    heard,
    intents: scope.intents,
    intentRows: Number(intentRows.rows),
    verdict: await audit.verify(),
    findings: findings
      .map(
        (f) =>
          `${f.fingerprint_sha256} ${f.kind} ${f.rule_id && named.get(f.rule_id)} ${f.location_uri} ${f.reason} ${f.found_at} ${f.resolved_at ?? "open"}`,
      )
      .sort(),
    async dispose() {
      await pool?.stop();
      await storage.close();
      await database.drop();
    },
  };
}

describe.runIf(postgresAvailable)("a full grading on threads, on PostgreSQL", () => {
  let here: Awaited<ReturnType<typeof graded>>;
  let threaded: Awaited<ReturnType<typeof graded>>;

  beforeAll(async () => {
    [here, threaded] = await Promise.all([graded(1), graded(3)]);
  }, 120_000);
  afterAll(async () => {
    await here?.dispose();
    await threaded?.dispose();
  });

  it("opens and resolves exactly the findings grading on the calling thread does", () => {
    expect(here.first.opened).toBeGreaterThan(1000);
    expect(here.second.resolved).toBeGreaterThan(100);
    expect(here.second.opened).toBeGreaterThan(100);
    expect(threaded.findings).toEqual(here.findings);
    expect(threaded.first).toEqual(here.first);
    expect(threaded.second).toEqual(here.second);
    expect(threaded.first.graded).toBe(RECORDS);
  });

  it("writes each transaction's audit intent row under the grading's own audit entry, in one intact chain", () => {
    expect(here.intents).toBeGreaterThan(0);
    expect(threaded.intents).toBe(here.intents);
    expect(threaded.intentRows).toBe(threaded.intents);
    expect(threaded.verdict).toMatchObject({ intact: true, rows: threaded.intents });
  });

  it("reports progress range by range, up to every record", () => {
    // 2,500 records make three ranges: each at least a grading batch.
    expect(threaded.heard.length).toBe(3);
    expect(threaded.heard.map((p) => p.graded)).toEqual(
      [...threaded.heard.map((p) => p.graded)].sort((a, b) => a - b),
    );
    expect(threaded.heard.at(-1)).toEqual(threaded.first);
  });
});

describe("a full grading's ranges, whatever grades them", () => {
  /**
   * Threads that grade nothing and record the ranges they are given, failing the `failAt`-th (from 1);
   * `startedWhenFailed` is how many had been given when it failed.
   */
  function recordingThreads(size: number, failAt?: number) {
    const given: IdRange[] = [];
    const seen = { startedWhenFailed: 0, settled: 0 };
    const threads: GradingThreads = {
      size,
      session: () => ({
        async grade(range) {
          const index = given.push(range);
          await new Promise((resolve) => setTimeout(resolve, 5 * index));
          seen.settled += 1;
          if (index === failAt) {
            seen.startedWhenFailed = given.length;
            throw new Error("the thread lost its connection");
          }
          return { mode: "full", graded: range.upTo - range.after, opened: 0, resolved: 0 };
        },
        end: () => undefined,
      }),
    };
    return { threads, given, seen };
  }

  async function withRecords(count: number) {
    const fresh = await openFreshStorage(backends[0] as Backend);
    for (let start = 0; start < count; start += 500)
      await fresh.storage.db
        .insertInto("inventory_certificates")
        .values(
          Array.from({ length: Math.min(500, count - start) }, (_, k) =>
            inventoryRow(`h${start + k}.example.com`, start + k, now),
          ) as never,
        )
        .execute();
    const store = createSqlGradingStore(fresh.storage);
    const ruleStore = createSqlRuleStore(fresh.storage);
    const service = (threads: GradingThreads) =>
      createGradingService({
        store,
        rules: ruleStore,
        anchors: async () => [],
        vaultIds: async () => new Map(),
        caIds: async () => new Map(),
        clock,
        threads,
      });
    return { ...fresh, store, service };
  }

  it("covers every id once, in ranges of at least a batch, four a thread", async () => {
    const { store, service, dispose } = await withRecords(9_000);
    try {
      const { threads, given } = recordingThreads(2);
      const done = await service(threads).gradeAll(new AbortController().signal);
      const bounds = (await store.idBounds()) as IdRange;
      const sorted = [...given].sort((a, b) => a.after - b.after);
      expect(sorted.length).toBe(8);
      expect(sorted[0]?.after).toBe(bounds.after);
      expect(sorted.at(-1)?.upTo).toBe(bounds.upTo);
      for (let i = 1; i < sorted.length; i++) expect(sorted[i]?.after).toBe(sorted[i - 1]?.upTo);
      expect(done.graded).toBe(9_000);
      expect(await store.gradedRevision()).toBeDefined();
    } finally {
      await dispose();
    }
  });

  it("fails when a range fails, starts no range after it, and leaves the grading to be done again", async () => {
    const { store, service, dispose } = await withRecords(9_000);
    try {
      const { threads, given, seen } = recordingThreads(2, 3);
      await expect(service(threads).gradeAll(new AbortController().signal)).rejects.toThrow(
        /lost its connection/,
      );
      expect(seen.startedWhenFailed).toBe(4);
      expect(given.length).toBe(seen.startedWhenFailed);
      // The grading ended only once the range in flight beside the failed one had ended too.
      expect(seen.settled).toBe(4);
      expect(await store.gradedRevision()).toBeUndefined();
    } finally {
      await dispose();
    }
  });
});
