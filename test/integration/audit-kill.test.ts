import { setTimeout as sleep } from "node:timers/promises";
import { afterAll, describe, expect, it } from "vitest";
import { openDatabase } from "../../src/storage/database.js";
import { runCli } from "../support/cli.js";
import { adminToken, httpsClient } from "../support/https-client.js";
import { createTestDatabase, postgresAvailable } from "../support/postgres.js";
import { gone, startServerProcess, tempDataDir } from "../support/server-process.js";

const KILLS = 20;
const CONCURRENT = 8;
const V = "api-version=7.6";

const engines = [
  { engine: "sqlite", enabled: true },
  { engine: "postgres", enabled: postgresAvailable },
] as const;

for (const { engine, enabled } of engines) {
  describe.skipIf(!enabled)(`kill -9 during concurrent certificate creates on ${engine}`, () => {
    const data = tempDataDir();
    let drop: (() => Promise<void>) | undefined;
    afterAll(async () => {
      data.remove();
      await drop?.();
    });

    it(`leaves every stored certificate version with its audit row and a log that verifies, over ${KILLS} kills`, async () => {
      const args: string[] = [];
      let url = `${data.dir}/strongroom.db`;
      if (engine === "postgres") {
        const database = await createTestDatabase();
        drop = database.drop;
        url = database.url;
        args.push("--database", url);
      }
      let attempted = 0;
      for (let kill = 0; kill < KILLS; kill++) {
        // Without jobs every version is stored by a request, whose rows name the certificate.
        const server = await startServerProcess(data.dir, args, { STRONGROOM_JOBS: "false" });
        const http = httpsClient(server.ca);
        const token = await adminToken(http, server.admin);
        let running = true;
        let completed = 0;
        const worker = async (w: number) => {
          for (let i = 0; running; i++) {
            attempted += 1;
            await http
              .send(`${server.admin.vaultUrl}/certificates/k${kill}-w${w}-n${i}/create?${V}`, {
                method: "POST",
                headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
                body: JSON.stringify({
                  policy: {
                    issuer: { name: "Self" },
                    key_props: { kty: "EC", crv: "P-256" },
                    x509_props: { subject: `CN=kill-${kill}` },
                  },
                }),
              })
              .catch(() => undefined);
            // Create answers 202; the first poll issues and stores the version, as the SDKs' pollers do.
            const polled = await http
              .send(`${server.admin.vaultUrl}/certificates/k${kill}-w${w}-n${i}/pending?${V}`, {
                headers: { authorization: `Bearer ${token}` },
              })
              .catch(() => undefined);
            if (polled?.status === 200 && JSON.parse(polled.text).status === "completed") completed += 1;
          }
        };
        const workers = Array.from({ length: CONCURRENT }, (_, w) => worker(w));
        // A random moment once creates are under way: in a transaction, between commit and answer…
        // Counted from the first stored version, not from the start: on a busy machine a fixed delay
        // could kill the server before any create had finished, and the run would prove nothing.
        for (let waited = 0; completed === 0 && waited < 30_000; waited += 10) await sleep(10);
        await sleep(Math.floor(Math.random() * 500));
        process.kill(server.pid, "SIGKILL");
        await gone(server.pid);
        running = false;
        http.close();
        await Promise.all(workers);
      }

      const storage = openDatabase(url);
      let stored: { name_key: string }[];
      let intents: Set<string>;
      try {
        stored = await storage.db
          .selectFrom("object_versions")
          .select("name_key")
          .where("collection", "=", "certificates")
          .execute();
        const rows = await storage.audit.db
          .selectFrom("audit_log")
          .select("object_id")
          .where("operation", "in", ["CertificateCreate", "CertificatePendingGet"])
          .where("outcome", "=", "pending")
          .execute();
        intents = new Set(
          rows.map((r) => (r.object_id?.replace(/^.*\/certificates\//, "") ?? "").toLowerCase()),
        );
      } finally {
        await storage.close();
      }
      const missing = stored.filter((v) => !intents.has(v.name_key)).map((v) => v.name_key);
      console.log(
        `${engine}: ${KILLS} kills, ${attempted} creates attempted, ${stored.length} certificate versions stored, ${intents.size} with intent rows, ${missing.length} stored without a row`,
      );
      expect(stored.length).toBeGreaterThan(KILLS);
      expect(missing).toEqual([]);
      const verified = runCli(["audit", "verify", "--data-dir", data.dir, ...args]);
      expect(verified.stdout).toMatch(/Audit log intact/);
      expect(verified.code).toBe(0);
    }, 180_000);
  });
}
