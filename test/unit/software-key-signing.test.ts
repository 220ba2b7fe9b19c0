import { constants, createHash, verify } from "node:crypto";
import { describe, expect, it } from "vitest";
import { createAesGcmSealer } from "../../src/crypto/aes-gcm-sealer.js";
import { publicKeyFromParts } from "../../src/crypto/jwk.js";
import { masterKeyFrom } from "../../src/crypto/master-key.js";
import { createSoftwareKeyProtector } from "../../src/crypto/software-key-protector.js";

const sealer = createAesGcmSealer(masterKeyFrom(Buffer.alloc(32, 3)));
const digest = createHash("sha256").update("strongroom").digest();

// poolSignatures 0 signs every RSA signature on the calling thread, 1 keeps one on the pool and
// signs the rest here, the default puts them all on the pool: all must give signatures that verify.
describe.each([
  { where: "on the thread pool", poolSignatures: undefined },
  { where: "beyond one pooled signature, on the calling thread", poolSignatures: 1 },
  { where: "on the calling thread", poolSignatures: 0 },
])("RSA signatures made $where", ({ poolSignatures }) => {
  const protector = createSoftwareKeyProtector(sealer, {
    ...(poolSignatures !== undefined && { poolSignatures }),
  });

  it("verify with node:crypto for RS256 and PS256, many at once", async () => {
    const key = await protector.generate(
      { kind: "RSA", protection: "software", keySize: 2048 },
      "signing/rsa",
    );
    const publicKey = publicKeyFromParts(key.publicKey);
    const signatures = await Promise.all(
      Array.from({ length: 6 }, (_, i) =>
        protector.sign(key.material, "signing/rsa", i % 2 ? "PS256" : "RS256", digest),
      ),
    );
    signatures.forEach((signature, i) => {
      const padding = i % 2 ? constants.RSA_PKCS1_PSS_PADDING : constants.RSA_PKCS1_PADDING;
      const check = { key: publicKey, padding, saltLength: 32 };
      // node:crypto hashes the message itself: the digest signed above is its SHA-256.
      expect(verify("sha256", Buffer.from("strongroom"), check, signature)).toBe(true);
    });
  });
});
