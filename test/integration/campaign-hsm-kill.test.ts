import { setTimeout as sleep } from "node:timers/promises";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { openDatabase } from "../../src/storage/database.js";
import { createSqlCampaignStore } from "../../src/storage/sql-campaign-store.js";
import { startInProcess } from "../support/in-process.js";
import { serverBackends } from "../support/server-backends.js";
import { gone, type ServerProcess, startServerProcess, tempDataDir } from "../support/server-process.js";
import {
  createSoftHsmToken,
  pkcs11Env,
  type SoftHsmToken,
  softHsmAvailable,
  tokenObjects,
} from "../support/softhsm.js";

/** Certificates with HSM keys, all in one batch: the kill lands while the batch makes its keys. */
const COUNT = 24;
/** A key pair in the token is two objects, the private and the public half. */
const PER_KEY = 2;

for (const backend of serverBackends) {
  describe.runIf(backend.enabled && softHsmAvailable)(
    `a campaign killed before its batch commits leaves no HSM key behind (${backend.name})`,
    () => {
      const data = tempDataDir();
      let token: SoftHsmToken;
      let args: string[] = [];
      let drop: () => Promise<void> = async () => {};
      let url = `${data.dir}/strongroom.db`;
      let campaignId = "";
      let server: ServerProcess | undefined;
      const env = () => ({
        ...pkcs11Env(token),
        STRONGROOM_CAMPAIGN_INTERVAL_MS: "1000",
        STRONGROOM_CAMPAIGN_STALE_CLAIM_MS: "1000",
        STRONGROOM_CAMPAIGN_BATCH_SIZE: String(COUNT),
      });
      const counts = async () => {
        const storage = openDatabase(url);
        try {
          return await createSqlCampaignStore(storage).counts(campaignId);
        } finally {
          await storage.close();
        }
      };

      beforeAll(async () => {
        token = createSoftHsmToken(data.dir, `campaign-${backend.name}`);
        // SoftHSM2 reads its configuration when the module is loaded, in this process too.
        process.env.SOFTHSM2_CONF = token.env.SOFTHSM2_CONF;
        const database = await backend.database();
        if (database) {
          url = database.url;
          args = ["--database", url];
          drop = database.drop;
        }
        const setup = await startInProcess({
          dataDir: data.dir,
          flags: {
            jobs: false,
            pkcs11Module: token.module,
            pkcs11TokenLabel: token.label,
            pkcs11Pin: token.pin,
            ...(database && { database: database.url }),
          },
        });
        const { core } = setup.strongroom;
        const vault = await core.vaults.create("hsm", { sku: "premium" });
        await core.ca.createRoot({ name: "root", subject: "CN=HSM Drill Root", pathLength: 1 });
        for (const [name, subject] of [
          ["old-int", "CN=Compromised Issuing"],
          ["new-int", "CN=Replacement Issuing"],
        ] as const) {
          await core.ca.createIntermediate({ name, parent: "root", subject, validityDays: 1000 });
          await core.issuers.set(vault, name, { provider: "PrivateCA", accountId: name }, false);
        }
        for (let i = 0; i < COUNT; i++) {
          const name = `hsm-${i}`;
          // RSA keys take the token long enough to make that the kill lands among them.
          await core.certificates.create(vault, name, {
            policy: {
              issuer: { name: "old-int" },
              key: { kty: "RSA-HSM", keySize: 2048 },
              subject: `CN=${name}.internal`,
              validityMonths: 12,
            },
          });
          const done = await core.certificates.pollOperation(vault, name);
          expect(done.status, done.error?.message).toBe("completed");
        }
        await setup.strongroom.scheduler.runOnce("inventory");
        campaignId = (
          await core.campaigns.create(
            "hsm-drill",
            { issuer: "Compromised Issuing" },
            { issuer: "new-int", revokeReason: "cACompromise" },
          )
        ).id;
        await core.campaigns.run("hsm-drill");
        await setup.stop();
        expect(tokenObjects(token)).toBe(COUNT * PER_KEY);
      }, 180_000);

      afterAll(async () => {
        await server?.stop();
        data.remove();
        await drop();
      });

      it("is killed with -9 while its batch has made some of its keys and stored none", async () => {
        const running = await startServerProcess(data.dir, args, env());
        const deadline = Date.now() + 60_000;
        let objects = tokenObjects(token);
        while (objects === COUNT * PER_KEY && Date.now() < deadline) {
          await sleep(50);
          objects = tokenObjects(token);
        }
        process.kill(running.pid, "SIGKILL");
        await gone(running.pid);
        const atKill = await counts();
        expect(atKill.done, "the kill came after the batch's commit").toBe(0);
        expect(atKill.claimed).toBe(COUNT);
        // The dead attempt's keys are on the token, and nothing in the database holds them.
        expect(tokenObjects(token)).toBeGreaterThan(COUNT * PER_KEY);
      }, 90_000);

      it("after a restart, destroys the dead attempt's keys and leaves exactly one new key per certificate", async () => {
        server = await startServerProcess(data.dir, args, env());
        const deadline = Date.now() + 120_000;
        let now = await counts();
        while (now.done + now.failed < COUNT && Date.now() < deadline) {
          await sleep(200);
          now = await counts();
        }
        expect(now).toMatchObject({ done: COUNT, failed: 0, pending: 0, claimed: 0 });
        // The old versions' keys and the new ones: none from the attempt that died.
        expect(tokenObjects(token)).toBe(2 * COUNT * PER_KEY);
      }, 150_000);
    },
  );
}
