/**
 * A CA-compromise campaign at scale: `--count` vault certificates (default 100,000) issued by one
 * intermediate are re-issued under another (a new P-256 key each, the CA's signature, stored with its
 * audit row) and the old ones revoked, by the campaign job; printed as certificates per second
 * beside the in-process issuance rate (P-256 key + certificate signed by the CA, nothing stored) in
 * the same run, each with the CPU time this process spent per certificate (PostgreSQL's own is not
 * in it). SQLite by default; `--database postgres://…` for PostgreSQL.
 * Run with `npm run bench:campaign -- --count 10000 [--database postgres://127.0.0.1:5432/bench]`.
 */
import { randomBytes } from "node:crypto";
import { performance as nodePerformance } from "node:perf_hooks";
import { parseArgs } from "node:util";
import { sql } from "kysely";
import { loadConfig } from "../src/config/config.js";
import { normalizePolicy } from "../src/domain/certificates/policy.js";
import { newId } from "../src/domain/ids.js";
import { campaignJob, openCore } from "../src/main.js";
import { createSqlCampaignStore } from "../src/storage/sql-campaign-store.js";
import { writeTransaction } from "../src/storage/transactions.js";
import { tempDataDir } from "../test/support/server-process.js";

const TEMPLATES = 16;
const BASELINE_S = 10;

/**
 * The process's CPU time (user and system, every thread) since `from`, per item: unlike throughput,
 * it hardly moves when other work shares the machine's cores.
 */
function cpuMsPer(from: NodeJS.CpuUsage, items: number): number {
  const { user, system } = process.cpuUsage(from);
  return (user + system) / 1000 / items;
}

const { values } = parseArgs({
  options: {
    count: { type: "string", default: "100000" },
    database: { type: "string" },
    lanes: { type: "string" },
    batch: { type: "string" },
  },
});
const COUNT = Number(values.count);

async function main(): Promise<void> {
  const data = tempDataDir();
  const core = await openCore(
    loadConfig({
      env: {},
      flags: {
        dataDir: data.dir,
        logLevel: "silent",
        jobs: false,
        ...(values.database && { database: values.database }),
        ...(values.lanes && { campaignLanes: Number(values.lanes) }),
        ...(values.batch && { campaignBatchSize: Number(values.batch) }),
      },
    }),
  );
  try {
    const vault = (await core.vaults.list())[0] ?? (await core.vaults.create("default"));
    await core.ca.createRoot({ name: "root", subject: "CN=Bench Root", pathLength: 1 });
    for (const name of ["old-int", "new-int"]) {
      await core.ca.createIntermediate({ name, parent: "root", subject: `CN=${name}`, validityDays: 1000 });
      await core.issuers.set(vault, name, { provider: "PrivateCA", accountId: name }, false);
    }
    // A few certificates made through the services; the rest are copies of their rows under other
    // names, each with a CA record of its own (a serial of its own) for the campaign to revoke.
    for (let i = 0; i < TEMPLATES; i++) {
      const name = `template-${i}`;
      await core.certificates.create(vault, name, {
        policy: {
          issuer: { name: "old-int" },
          key: { kty: "EC", curve: "P-256" },
          subject: `CN=${name}.bench.internal`,
          validityMonths: 12,
        },
      });
      await core.certificates.pollOperation(vault, name);
    }
    const seedStart = performance.now();
    const { db } = core.storage;
    const objects = await db
      .selectFrom("objects")
      .selectAll()
      .where("name_key", "like", "template-%")
      .execute();
    const versions = await db
      .selectFrom("object_versions")
      .selectAll()
      .where("name_key", "like", "template-%")
      .execute();
    const issued = await db
      .selectFrom("ca_issued")
      .selectAll()
      .where("certificate_name_key", "like", "template-%")
      .execute();
    const campaignId = newId();
    const items: Parameters<ReturnType<typeof createSqlCampaignStore>["create"]>[1][number][] = [];
    for (let i = 0; i < COUNT; i += 1000) {
      const rows = {
        objects: [] as typeof objects,
        versions: [] as typeof versions,
        issued: [] as typeof issued,
      };
      for (let j = i; j < Math.min(COUNT, i + 1000); j++) {
        const from = `template-${j % TEMPLATES}`;
        const name = `svc-${j}`;
        const version = randomBytes(16).toString("hex");
        for (const o of objects.filter((o) => o.name_key === from))
          rows.objects.push({ ...o, name, name_key: name, latest_version: version });
        for (const { seq: _seq, ...v } of versions.filter((v) => v.name_key === from))
          rows.versions.push({ ...v, name_key: name, version } as (typeof versions)[number]);
        const ca = issued.find((r) => r.certificate_name_key === from) as (typeof issued)[number];
        rows.issued.push({
          ...ca,
          serial: `01${randomBytes(16).toString("hex")}`,
          certificate_name: name,
          certificate_name_key: name,
          certificate_version: version,
        });
        items.push({
          campaignId,
          fingerprint: randomBytes(32).toString("hex"),
          subject: `CN=${name}.bench.internal`,
          action: "new-version",
          vaultName: vault.name,
          certificateName: name,
          fromVersion: version,
          locations: [`vault://${vault.name}/certificates/${name}/${version}`],
          state: "pending",
          attempts: 0,
        });
      }
      // PostgreSQL's autovacuum would analyze the tables as they grow; where it is off (as on this
      // machine) the planner keeps guessing from none, and the foreign-key checks of each insert
      // into object_versions scan a whole vault (seen at 100,000: 3 ms a row, growing with the vault).
      if (core.storage.engine === "postgres" && i % 10_000 === 0 && i > 0)
        await sql`analyze objects, object_versions, ca_issued`.execute(db);
      // Through the store's own write path: a bare transaction waits in SQLite's busy handler and
      // failed with SQLITE_BUSY while the checkpoint thread emptied a large log (under --cpu-prof).
      await writeTransaction(core.storage, async (trx) => {
        for (const [table, list] of [
          ["objects", rows.objects],
          ["object_versions", rows.versions],
          ["ca_issued", rows.issued],
        ] as const)
          for (let k = 0; k < list.length; k += 200)
            await trx
              .insertInto(table)
              .values(list.slice(k, k + 200) as never)
              .execute();
      });
    }
    await createSqlCampaignStore(core.storage).create(
      {
        id: campaignId,
        name: "bench",
        query: { issuer: "old-int" },
        options: { issuer: "new-int", keyType: "EC", curve: "P-256", revokeReason: "cACompromise" },
        state: "running",
        createdAt: new Date(),
      },
      items,
    );
    // As autovacuum would once the seeding's commits settled: the campaign's items included.
    if (core.storage.engine === "postgres") await sql`analyze`.execute(db);
    console.log(`seeded ${COUNT} certificates in ${((performance.now() - seedStart) / 1000).toFixed(1)} s`);

    const job = campaignJob(core);
    const start = performance.now();
    const cpuStart = process.cpuUsage();
    const loopStart = nodePerformance.eventLoopUtilization();
    const summary = await job.run(new AbortController().signal);
    const seconds = (performance.now() - start) / 1000;
    const cpu = cpuMsPer(cpuStart, COUNT);
    // The event loop's busy time: what the main thread spends per certificate, whatever other threads add.
    const loop = nodePerformance.eventLoopUtilization(loopStart);
    const { progress } = await core.campaigns.status("bench");
    if (progress.done !== COUNT) throw new Error(`only ${progress.done} of ${COUNT} done: ${summary}`);
    const rate = COUNT / seconds;
    console.log(
      `campaign (${core.config.campaignLanes} lanes of ${core.config.campaignBatchSize}): ${summary} in ${seconds.toFixed(1)} s → ${rate.toFixed(0)} certificates/s, ${cpu.toFixed(2)} ms CPU per certificate, main thread ${(loop.active / COUNT).toFixed(2)} ms per certificate (busy ${(loop.utilization * 100).toFixed(0)}%)`,
    );

    // The same signature and key work with nothing stored: what the campaign's storage costs.
    const newInt = await core.ca.get("new-int");
    const policy = normalizePolicy({ key: { kty: "EC", curve: "P-256" }, subject: "CN=baseline" });
    let made = 0;
    const baseStart = performance.now();
    const baseCpuStart = process.cpuUsage();
    const until = baseStart + BASELINE_S * 1000;
    while (performance.now() < until) {
      const key = await core.keys.certificateKeys.generate(
        vault,
        "baseline",
        randomBytes(16).toString("hex"),
        policy,
      );
      const [signed] = await core.ca.signForVaults(newInt.id, [
        {
          publicKey: key.publicKey,
          profile: {
            subject: "CN=baseline.bench.internal",
            sans: { dnsNames: [], emails: [], upns: [], uris: [], ipAddresses: [] },
            keyUsage: ["digitalSignature"],
            ekus: ["1.3.6.1.5.5.7.3.1"],
            notAfter: new Date(Date.now() + 86_400_000 * 300),
          },
          vault: { vaultId: vault.id, vaultName: vault.name, name: "baseline", version: "0" },
        },
      ]);
      if (signed?.status !== "fulfilled") throw signed?.reason ?? new Error("nothing signed");
      made++;
    }
    const baseline = made / ((performance.now() - baseStart) / 1000);
    const baseCpu = cpuMsPer(baseCpuStart, made);
    console.log(
      `in-process issuance: ${baseline.toFixed(0)} certificates/s, ${baseCpu.toFixed(2)} ms CPU per certificate (P-256 key + CA signature, not stored)`,
    );
    console.log(
      `ratio campaign/in-process issuance: ${(rate / baseline).toFixed(2)} by throughput, ${(baseCpu / cpu).toFixed(2)} by CPU per certificate`,
    );
  } finally {
    await core.close();
    data.remove();
  }
}

await main();
