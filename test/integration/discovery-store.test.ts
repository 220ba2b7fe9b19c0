import { sql } from "kysely";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { EndpointResult, ScanRun, TlsScanSpec } from "../../src/domain/discovery/model.js";
import type { DiscoveryStore } from "../../src/domain/discovery/ports.js";
import { tlsScanSpec } from "../../src/domain/discovery/targets.js";
import type { StorageHandle } from "../../src/storage/database.js";
import { migrate, openDatabase } from "../../src/storage/database.js";
import { createSqlDiscoveryStore } from "../../src/storage/sql-discovery-store.js";
import { backends, openFreshStorage } from "../support/backends.js";

const spec: TlsScanSpec = tlsScanSpec({ targets: ["10.0.0.1-3"], ports: [443] });
const at = (s: number) => new Date(Date.UTC(2026, 11, 1, 0, 0, s));
const run = (id: string, name: string, created: number, agentId?: string): ScanRun => ({
  id,
  name,
  spec,
  agentId,
  status: "queued",
  total: 0,
  done: 0,
  failed: 0,
  createdAt: at(created),
});
/** A run's row as migration 0010 created the table. */
const runRow = (id: string) => ({
  id,
  name: id,
  kind: "tls",
  status: "completed",
  total: 3,
  done: 3,
  failed: 1,
  created_at: 0,
});
const result = (location: string, fingerprint?: string): EndpointResult => ({
  location,
  outcome: fingerprint ? "ok" : "refused",
  chain: fingerprint ? [new Uint8Array([1, 2, 3]), new Uint8Array([4, 5])] : [],
  fingerprint,
  seenAt: at(10),
  detail: { address: location.slice(6, 14), ...(fingerprint && { dnsNames: "a.test,b.test" }) },
});

for (const backend of backends) {
  describe.skipIf(!backend.available)(`discovery store on ${backend.engine}`, () => {
    let store: DiscoveryStore;
    let db: StorageHandle["db"];
    let dispose: () => Promise<void>;
    beforeAll(async () => {
      const fresh = await openFreshStorage(backend);
      store = createSqlDiscoveryStore(fresh.storage);
      db = fresh.storage.db;
      dispose = fresh.dispose;
    });
    afterAll(() => dispose?.());

    it("keeps the chains of results an older release stored with every certificate inline", async () => {
      const database = await backend.createDatabase();
      const old = openDatabase(database.url);
      try {
        await migrate(old, "0010-discovery");
        const packed = (...ders: number[][]) =>
          Buffer.concat(ders.flatMap((d) => [Buffer.from([0, 0, 0, d.length]), Buffer.from(d)]));
        await old.db
          .insertInto("discovery_runs")
          .values({ ...runRow("legacy"), spec: JSON.stringify(spec) } as never)
          .execute();
        for (const [location, chain] of [
          ["tls://10.0.0.1:443", packed([0x30, 1], [0x30, 9])],
          ["tls://10.0.0.2:443", packed([0x30, 2], [0x30, 9])],
          ["tls://10.0.0.3:443", null],
        ] as const)
          await sql`insert into discovery_results (run_id, location, outcome, chain, seen_at)
            values ('legacy', ${location}, ${chain ? "ok" : "refused"}, ${chain}, 0)`.execute(old.db);
        await migrate(old);
        const results = await createSqlDiscoveryStore(old).results("legacy", { limit: 10 });
        expect(results.map((r) => r.chain.map((der) => [...der]))).toEqual([
          [
            [0x30, 1],
            [0x30, 9],
          ],
          [
            [0x30, 2],
            [0x30, 9],
          ],
          [],
        ]);
        const stored = await old.db.selectFrom("discovery_certificates").selectAll().execute();
        expect(stored).toHaveLength(3);
      } finally {
        await old.close();
        await database.drop();
      }
    });

    it("leases the oldest queued server run to one claimer, and again only once its lease ran out", async () => {
      await store.insertRun(run("r2", "net", 2));
      await store.insertRun(run("r1", "net", 1));
      const [a, b] = await Promise.all([
        store.claimRun(undefined, "node-a", at(5), at(65)),
        store.claimRun(undefined, "node-b", at(5), at(65)),
      ]);
      expect([a?.id, b?.id].sort()).toEqual(["r1", "r2"]);
      expect(await store.claimRun(undefined, "node-c", at(30), at(90))).toBeUndefined();
      expect(await store.renewLease("r1", a?.id === "r1" ? "node-a" : "node-b", at(200))).toBe(true);
      const taken = await store.claimRun(undefined, "node-c", at(100), at(160));
      expect(taken?.id).toBe("r2");
      expect(taken?.status).toBe("running");
    });

    it("keeps results once per location and counts done and failed from them", async () => {
      await store.saveResults("r1", [result("tls://10.0.0.1:443", "aa"), result("tls://10.0.0.2:443")], 3);
      const saved = await store.saveResults("r1", [result("tls://10.0.0.2:443", "bb")], 3);
      expect([saved.total, saved.done, saved.failed]).toEqual([3, 2, 0]);
      const results = await store.results("r1", { limit: 10 });
      expect(results.map((r) => [r.location, r.fingerprint, r.chain.length])).toEqual([
        ["tls://10.0.0.1:443", "aa", 2],
        ["tls://10.0.0.2:443", "bb", 2],
      ]);
      expect(results[0]?.chain[1]).toEqual(new Uint8Array([4, 5]));
      expect(await store.namesSeenAt(["10.0.0.1", "10.0.0.9"])).toEqual(
        new Map([["10.0.0.1", ["a.test", "b.test"]]]),
      );
    });

    it("stores a certificate presented by many endpoints once, and gives each result its whole chain", async () => {
      const leafA = new Uint8Array([0x30, 1, 1]);
      const leafB = new Uint8Array([0x30, 2, 2]);
      const shared = new Uint8Array([0x30, 9, 9, 9]);
      await store.insertRun(run("r3", "shared", 3));
      const before = Number(
        (
          await db
            .selectFrom("discovery_certificates")
            .select(db.fn.countAll().as("n"))
            .executeTakeFirstOrThrow()
        ).n,
      );
      await store.saveResults(
        "r3",
        Array.from({ length: 600 }, (_, i) => ({
          ...result(`tls://10.0.1.${i}:443`, i % 2 ? "bb" : "aa"),
          chain: [i % 2 ? leafB : leafA, shared],
        })),
        600,
      );
      const after = Number(
        (
          await db
            .selectFrom("discovery_certificates")
            .select(db.fn.countAll().as("n"))
            .executeTakeFirstOrThrow()
        ).n,
      );
      expect(after - before).toBe(3);
      const results = await store.results("r3", { limit: 1000 });
      expect(results).toHaveLength(600);
      for (const r of results) {
        const odd = Number(r.location.split(".")[3]?.split(":")[0]) % 2 === 1;
        expect(r.chain).toEqual([odd ? leafB : leafA, shared]);
      }
    });

    it("keeps the last of two results for one location in a batch, once", async () => {
      await store.insertRun(run("r4", "twice", 4));
      const saved = await store.saveResults(
        "r4",
        [
          result("tls://10.0.2.1:443"),
          result("tls://10.0.2.2:443", "aa"),
          result("tls://10.0.2.1:443", "bb"),
        ],
        2,
      );
      expect([saved.done, saved.failed]).toEqual([2, 0]);
      expect((await store.results("r4", { limit: 10 })).map((r) => [r.location, r.fingerprint])).toEqual([
        ["tls://10.0.2.1:443", "bb"],
        ["tls://10.0.2.2:443", "aa"],
      ]);
    });

    it("finishes a run once and finds the previous completed run of its name", async () => {
      expect(
        await store.finish("r1", "completed", at(20), { diff: { new: [], changed: [], gone: [] } }),
      ).toBe(true);
      expect(await store.finish("r1", "cancelled", at(21), {})).toBe(false);
      expect((await store.previousCompleted("net", at(2), "r2"))?.id).toBe("r1");
      expect(await store.fingerprints("r1")).toEqual(
        new Map([
          ["tls://10.0.0.1:443", "aa"],
          ["tls://10.0.0.2:443", "bb"],
        ]),
      );
    });

    it("fires a due schedule once, however many nodes try", async () => {
      const schedule = {
        id: "s1",
        name: "nightly",
        spec,
        intervalMs: 60_000,
        nextRunAt: at(0),
        createdAt: at(0),
      };
      await store.insertSchedule(schedule);
      const fired = await Promise.all(
        ["x", "y"].map((id) =>
          store.fireSchedule(schedule, { ...run(`sched-${id}`, "nightly", 30), scheduleId: "s1" }, at(60)),
        ),
      );
      expect(fired.filter(Boolean)).toHaveLength(1);
      expect((await store.listSchedules())[0]?.nextRunAt).toEqual(at(60));
      expect(await store.listRuns({ name: "nightly", limit: 10 })).toHaveLength(1);
    });
  });
}
