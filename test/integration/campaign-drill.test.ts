import { spawnSync } from "node:child_process";
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { toPem } from "../../src/crypto/pem.js";
import { FULL_CRL } from "../../src/domain/ca/model.js";
import { openDatabase, type StorageHandle } from "../../src/storage/database.js";
import { createSqlCaStore } from "../../src/storage/sql-ca-store.js";
import { createSqlCampaignStore } from "../../src/storage/sql-campaign-store.js";
import { runCli } from "../support/cli.js";
import { adminToken, httpsClient } from "../support/https-client.js";
import { startInProcess } from "../support/in-process.js";
import { serverBackends } from "../support/server-backends.js";
import { gone, type ServerProcess, startServerProcess, tempDataDir } from "../support/server-process.js";
import { commandExists, requireTool } from "../support/tools.js";

const COUNT = 1000;
const CREATE_CONCURRENCY = 16;
/** Certificates per `openssl ocsp` request: the responder takes requests of up to 16 KiB. */
const OCSP_BATCH = 100;
const hasOpenssl = requireTool("openssl", commandExists("openssl"), "apt-get install openssl");

async function until<T>(what: string, read: () => Promise<T>, done: (value: T) => boolean, ms = 60_000) {
  const deadline = Date.now() + ms;
  for (;;) {
    const value = await read();
    if (done(value)) return value;
    if (Date.now() > deadline) throw new Error(`${what}: still ${JSON.stringify(value)}`);
    await sleep(100);
  }
}

const openssl = (args: string[]) => spawnSync("openssl", args, { encoding: "utf8", maxBuffer: 64 << 20 });

for (const backend of serverBackends) {
  describe.runIf(backend.enabled && hasOpenssl)(`CA-compromise drill (${backend.name})`, () => {
    const data = tempDataDir();
    const files = join(data.dir, "drill-files");
    const names = Array.from({ length: COUNT }, (_, i) => `svc-${String(i).padStart(4, "0")}`);
    let url = join(data.dir, "strongroom.db");
    let args: string[] = [];
    let drop: () => Promise<void> = async () => {};
    let campaignId = "";
    let caIds = { old: "", replacement: "" };
    let pem = { root: "", old: "", replacement: "" };
    let pkiUrl = "";
    let atKill = { done: 0, claimed: 0 };
    let server: ServerProcess | undefined;

    /** Reads the stored state with the server's own stores, outside its process. */
    async function withStorage<T>(read: (storage: StorageHandle) => Promise<T>): Promise<T> {
      const storage = openDatabase(url);
      try {
        return await read(storage);
      } finally {
        await storage.close();
      }
    }

    beforeAll(async () => {
      mkdirSync(files);
      const database = await backend.database();
      if (database) {
        url = database.url;
        args = ["--database", url];
        drop = database.drop;
      }
      // The starting state is made through the services in this process: 1,000 HTTP round trips
      // would test the Key Vault surface, which other suites do, and take most of the time.
      const setup = await startInProcess({
        dataDir: data.dir,
        flags: { jobs: false, ...(database && { database: database.url }) },
      });
      const { core } = setup.strongroom;
      await core.ca.createRoot({ name: "root", subject: "CN=Drill Root", pathLength: 1 });
      for (const [name, subject] of [
        ["old-int", "CN=Compromised Issuing"],
        ["new-int", "CN=Replacement Issuing"],
      ] as const) {
        await core.ca.createIntermediate({ name, parent: "root", subject, validityDays: 1000 });
        const issuer = await setup.kv({
          method: "PUT",
          url: `/certificates/issuers/${name}?api-version=7.6`,
          body: { provider: "PrivateCA", credentials: { account_id: name } },
        });
        expect(issuer.statusCode, issuer.body).toBe(200);
      }
      const vault = await core.vaults.get("default");
      for (let i = 0; i < COUNT; i += CREATE_CONCURRENCY) {
        await Promise.all(
          names.slice(i, i + CREATE_CONCURRENCY).map(async (name) => {
            await core.certificates.create(vault, name, {
              policy: {
                issuer: { name: "old-int" },
                key: { kty: "EC", curve: "P-256" },
                subject: `CN=${name}.drill.internal`,
                validityMonths: 12,
              },
            });
            const done = await core.certificates.pollOperation(vault, name);
            expect(done.status, done.error?.message).toBe("completed");
          }),
        );
      }
      await setup.strongroom.scheduler.runOnce("inventory");
      const campaign = await core.campaigns.create(
        "drill",
        { issuer: "Compromised Issuing" },
        { issuer: "new-int", keyType: "EC", curve: "P-256", revokeReason: "cACompromise" },
      );
      await core.campaigns.run("drill");
      campaignId = campaign.id;
      const [root, old, replacement] = await Promise.all(
        ["root", "old-int", "new-int"].map((n) => core.ca.get(n)),
      );
      caIds = { old: old?.id as string, replacement: replacement?.id as string };
      pem = {
        root: toPem("CERTIFICATE", root?.certificate as Buffer),
        old: toPem("CERTIFICATE", old?.certificate as Buffer),
        replacement: toPem("CERTIFICATE", replacement?.certificate as Buffer),
      };
      await setup.stop();
    }, 120_000);

    afterAll(async () => {
      await server?.stop();
      data.remove();
      await drop();
    });

    const env = {
      // The job looks often, claims small batches and takes over a dead attempt's claim soon.
      STRONGROOM_CAMPAIGN_INTERVAL_MS: "1000",
      STRONGROOM_CAMPAIGN_STALE_CLAIM_MS: "2000",
      STRONGROOM_CAMPAIGN_BATCH_SIZE: "32",
    };
    /** The campaign as the admin API reports it, polled over HTTPS while the server works. */
    async function watch(running: ServerProcess) {
      const http = httpsClient(running.ca);
      const token = await adminToken(http, running.admin);
      const read = async () => {
        const res = await http.send(`${running.admin.authorityHost}/admin/campaigns/drill`, {
          headers: { authorization: `Bearer ${token}` },
        });
        return res.json<{ state: string; progress: { done: number; failed: number; remaining: number } }>();
      };
      return { read, close: () => http.close() };
    }

    it("is killed with -9 midway through the campaign, with a batch in hand", async () => {
      const running = await startServerProcess(data.dir, args, env);
      const campaign = await watch(running);
      const seen = await until("the campaign under way", campaign.read, (c) => c.progress.done >= 96);
      process.kill(running.pid, "SIGKILL");
      await gone(running.pid);
      campaign.close();
      atKill = await withStorage((s) => createSqlCampaignStore(s).counts(campaignId));
      expect(seen.progress.remaining, "the kill came too late to be midway").toBeGreaterThan(0);
      expect(atKill.done).toBeLessThan(COUNT);
      expect(atKill.done % 32, "a batch commits whole or not at all").toBe(0);
    }, 60_000);

    it("finishes after a restart, taking over the dead attempt's claim", async () => {
      server = await startServerProcess(data.dir, args, env);
      pkiUrl = server.pkiUrl;
      const campaign = await watch(server);
      const end = await until("the campaign finished", campaign.read, (c) => c.state === "finished", 100_000);
      campaign.close();
      expect(end.progress).toMatchObject({ done: COUNT, failed: 0, remaining: 0 });
      const items = await withStorage(
        async (s) => (await createSqlCampaignStore(s).items(campaignId, COUNT)).items,
      );
      // Those the killed process had in hand were claimed again; none went through more than twice.
      expect(Math.max(...items.map((i) => i.attempts))).toBeLessThanOrEqual(2);
      expect(items.filter((i) => i.attempts === 2)).toHaveLength(atKill.claimed);
    }, 120_000);

    it("did each certificate once: two versions each, 1,000 new certificates from the new CA, one audit row each", async () => {
      const versions = await withStorage((s) =>
        s.db
          .selectFrom("object_versions")
          .select((eb) => ["name_key", eb.fn.countAll<number>().as("n")])
          .where("collection", "=", "certificates")
          .groupBy("name_key")
          .execute(),
      );
      expect(versions).toHaveLength(COUNT);
      expect(versions.filter((v) => Number(v.n) !== 2)).toEqual([]);
      const issued = await withStorage((s) =>
        s.db
          .selectFrom("ca_issued")
          .select((eb) => ["ca_id", "status", "reason", eb.fn.countAll<number>().as("n")])
          .where("certificate_name", "is not", null)
          .groupBy(["ca_id", "status", "reason"])
          .execute(),
      );
      expect(
        issued.map((r) => ({ ...r, n: Number(r.n) })).sort((a, b) => (a.ca_id < b.ca_id ? -1 : 1)),
      ).toEqual(
        [
          { ca_id: caIds.old, status: "revoked", reason: "cACompromise", n: COUNT },
          { ca_id: caIds.replacement, status: "good", reason: null, n: COUNT },
        ].sort((a, b) => (a.ca_id < b.ca_id ? -1 : 1)),
      );
      // Each replacement's audit row committed with it; a killed batch's rows did not count.
      const committed = await withStorage(async (s) => {
        const changes = new Set(
          (await s.db.selectFrom("audit_changes").select("seq").execute()).map((r) => Number(r.seq)),
        );
        const rows = await s.audit.db
          .selectFrom("audit_log")
          .select(["seq", "object_id"])
          .where("detail", "like", `campaign ${campaignId}: replaced%`)
          .where("outcome", "=", "pending")
          .execute();
        return rows.filter((r) => changes.has(Number(r.seq))).map((r) => r.object_id);
      });
      expect(committed).toHaveLength(COUNT);
      expect(new Set(committed).size).toBe(COUNT);
      const verified = runCli(["audit", "verify", "--data-dir", data.dir, ...args]);
      expect(verified.stdout, verified.stderr).toMatch(/Audit log intact/);
    }, 60_000);

    it("leaves every new certificate good and every old one revoked, as openssl verify and OCSP see them", async () => {
      const certificates = await withStorage((s) =>
        s.db
          .selectFrom("ca_issued")
          .select(["ca_id", "serial", "der"])
          .where("certificate_name", "is not", null)
          .execute(),
      );
      const crl = await withStorage((s) => createSqlCaStore(s).getCrl(caIds.old, FULL_CRL));
      const write = (name: string, text: string) => {
        const path = join(files, name);
        writeFileSync(path, text);
        return path;
      };
      const root = write("root.pem", pem.root);
      const chain = write("chain.pem", pem.root + pem.old + pem.replacement);
      const paths = { old: [] as string[], replacement: [] as string[] };
      for (const c of certificates) {
        const kind = c.ca_id === caIds.old ? "old" : "replacement";
        paths[kind].push(write(`${c.serial}.pem`, toPem("CERTIFICATE", Buffer.from(c.der))));
      }
      const good = openssl([
        "verify",
        "-CAfile",
        root,
        "-untrusted",
        write("new-int.pem", pem.replacement),
        ...paths.replacement,
      ]);
      expect(good.stdout.match(/: OK$/gm)).toHaveLength(COUNT);
      const revoked = openssl([
        "verify",
        "-crl_check",
        "-CRLfile",
        write("old.crl", toPem("X509 CRL", crl?.der as Buffer)),
        "-CAfile",
        root,
        "-untrusted",
        write("old-int.pem", pem.old),
        ...paths.old,
      ]);
      expect((revoked.stdout + revoked.stderr).match(/certificate revoked/g)).toHaveLength(COUNT);

      for (const [kind, issuer, status] of [
        ["replacement", "new-int.pem", "good"],
        ["old", "old-int.pem", "revoked"],
      ] as const) {
        let answered = 0;
        for (let i = 0; i < paths[kind].length; i += OCSP_BATCH) {
          const batch = paths[kind].slice(i, i + OCSP_BATCH);
          const run = openssl([
            "ocsp",
            "-issuer",
            join(files, issuer),
            ...batch.flatMap((p) => ["-cert", p]),
            "-url",
            `${pkiUrl}/ocsp`,
            "-CAfile",
            chain,
            "-no_nonce",
          ]);
          expect(run.stderr, `${run.error ?? ""} ${run.stdout.slice(0, 2000)}`).toContain(
            "Response verify OK",
          );
          const lines = run.stdout.split("\n").filter((l) => l.startsWith(files));
          expect(lines.filter((l) => l.endsWith(`: ${status}`))).toHaveLength(batch.length);
          answered += lines.length;
        }
        expect(answered).toBe(COUNT);
      }
    }, 60_000);
  });
}
