import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Vault } from "../../src/domain/vaults/model.js";
import { type InProcess, startInProcess } from "../support/in-process.js";
import { serverBackends } from "../support/server-backends.js";
import { tempDataDir } from "../support/server-process.js";
import { createSoftHsmToken, type SoftHsmToken, softHsmAvailable, tokenObjects } from "../support/softhsm.js";

/** A key pair in the token is two objects, the private and the public half. */
const PER_KEY = 2;

for (const backend of serverBackends) {
  describe.runIf(backend.enabled && softHsmAvailable)(
    `a campaign's new key type keeps HSM keys in the HSM (${backend.name})`,
    () => {
      const data = tempDataDir();
      let token: SoftHsmToken;
      let server: InProcess;
      let vault: Vault;
      let drop: () => Promise<void> = async () => {};
      const core = () => server.strongroom.core;

      beforeAll(async () => {
        token = createSoftHsmToken(data.dir, `key-type-${backend.name}`);
        // SoftHSM2 reads its configuration when the module is loaded.
        process.env.SOFTHSM2_CONF = token.env.SOFTHSM2_CONF;
        const database = await backend.database();
        drop = async () => database?.drop();
        server = await startInProcess({
          dataDir: data.dir,
          flags: {
            jobs: false,
            pkcs11Module: token.module,
            pkcs11TokenLabel: token.label,
            pkcs11Pin: token.pin,
            ...(database && { database: database.url }),
          },
        });
        vault = await core().vaults.create("migrate", { sku: "premium" });
        await core().ca.createRoot({ name: "root", subject: "CN=Migration Root", pathLength: 1 });
        for (const [name, subject] of [
          ["old-int", "CN=RSA Issuing"],
          ["new-int", "CN=EC Issuing"],
        ] as const) {
          await core().ca.createIntermediate({ name, parent: "root", subject, validityDays: 1000 });
          await core().issuers.set(vault, name, { provider: "PrivateCA", accountId: name }, false);
        }
        for (const [name, kty] of [
          ["in-hsm", "RSA-HSM"],
          ["in-software", "RSA"],
        ] as const) {
          await core().certificates.create(vault, name, {
            policy: {
              issuer: { name: "old-int" },
              key: { kty, keySize: 2048 },
              subject: `CN=${name}.internal`,
              validityMonths: 12,
            },
          });
          const done = await core().certificates.pollOperation(vault, name);
          expect(done.status, done.error?.message).toBe("completed");
        }
        await server.strongroom.scheduler.runOnce("inventory");
      }, 120_000);

      afterAll(async () => {
        await server?.stop();
        data.remove();
        await drop();
      });

      it("re-issues an RSA-HSM certificate with an EC-HSM key and a software one with an EC key", async () => {
        const before = tokenObjects(token);
        expect(before).toBe(PER_KEY);
        await core().campaigns.create(
          "to-ec",
          { issuer: "RSA Issuing" },
          { issuer: "new-int", keyType: "EC", curve: "P-256" },
        );
        await core().campaigns.run("to-ec");
        await server.strongroom.scheduler.runOnce("campaigns");
        expect((await core().campaigns.status("to-ec")).progress).toMatchObject({ done: 2, failed: 0 });

        expect((await core().certificates.getPolicy(vault, "in-hsm")).key).toMatchObject({
          kty: "EC-HSM",
          curve: "P-256",
        });
        expect((await core().certificates.getPolicy(vault, "in-software")).key).toMatchObject({
          kty: "EC",
          curve: "P-256",
        });
        // One new key pair in the token, the HSM certificate's; the software one's is sealed in the database.
        expect(tokenObjects(token)).toBe(before + PER_KEY);
      }, 60_000);
    },
  );
}
