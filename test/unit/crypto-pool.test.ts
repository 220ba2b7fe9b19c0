import { createPrivateKey } from "node:crypto";
import { afterAll, describe, expect, it } from "vitest";
import { assemblePfx } from "../../src/crypto/certificate-bundle-codec.js";
import { startCryptoPool } from "../../src/crypto/crypto-pool.js";
import { publicParts } from "../../src/crypto/jwk.js";

const pool = startCryptoPool(2);
afterAll(() => pool.stop());

describe("the crypto pool", () => {
  it("makes EC keys whose PKCS#8 holds the private half of the public parts it gives", async () => {
    const made = await Promise.all(
      [1, 2, 3, 4].map(() => pool.generateKey({ kind: "EC", protection: "software", curve: "P-256" })),
    );
    for (const { pkcs8, publicKey } of made) {
      const key = createPrivateKey({ key: pkcs8, format: "der", type: "pkcs8" });
      expect(publicParts(key)).toEqual(publicKey);
    }
    expect(new Set(made.map((m) => m.publicKey.x)).size).toBe(4);
  });

  it("makes RSA keys of the size asked", async () => {
    const { pkcs8, publicKey } = await pool.generateKey({
      kind: "RSA",
      protection: "software",
      keySize: 2048,
    });
    expect(
      createPrivateKey({ key: pkcs8, format: "der", type: "pkcs8" }).asymmetricKeyDetails?.modulusLength,
    ).toBe(2048);
    expect(Buffer.from(publicKey.n as string, "base64url").length).toBe(256);
  });

  it("assembles the same PKCS#12 bytes as assemblePfx on the calling thread", async () => {
    const { pkcs8 } = await pool.generateKey({ kind: "EC", protection: "software", curve: "P-256" });
    const certificates = [Buffer.from("30030201", "hex"), Buffer.from("30030202", "hex")];
    const salt = Buffer.alloc(64, 7);
    const here = assemblePfx(Buffer.from(pkcs8), certificates, salt);
    expect((await pool.pfx(pkcs8, certificates, salt)).equals(here)).toBe(true);
    expect(
      (await pool.pfx(undefined, certificates, salt)).equals(assemblePfx(undefined, certificates, salt)),
    ).toBe(true);
  });

  it("fails a task the thread cannot do with its reason, and goes on working", async () => {
    await expect(
      pool.generateKey({ kind: "EC", protection: "software", curve: "P-999" as "P-256" }),
    ).rejects.toThrow();
    const { publicKey } = await pool.generateKey({ kind: "EC", protection: "software", curve: "P-384" });
    expect(publicKey.crv).toBe("P-384");
  });
});
