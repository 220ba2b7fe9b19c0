import { createHash, generateKeyPairSync, verify } from "node:crypto";
import { describe, expect, it } from "vitest";
import { nativeDigest, SignatureScheme } from "../../src/crypto/native-digest.js";

const digest = createHash("sha256").update("strongroom").digest();

const KEYS = [
  {
    name: "EC P-256",
    pair: () => generateKeyPairSync("ec", { namedCurve: "P-256" }),
    scheme: SignatureScheme.Ecdsa,
  },
  {
    name: "EC P-521",
    pair: () => generateKeyPairSync("ec", { namedCurve: "P-521" }),
    scheme: SignatureScheme.Ecdsa,
  },
  {
    name: "EC secp256k1",
    pair: () => generateKeyPairSync("ec", { namedCurve: "secp256k1" }),
    scheme: SignatureScheme.Ecdsa,
  },
  {
    name: "RSA 2048",
    pair: () => generateKeyPairSync("rsa", { modulusLength: 2048 }),
    scheme: SignatureScheme.Pkcs1,
  },
];

describe("native key handles", () => {
  for (const { name, pair, scheme } of KEYS) {
    it(`parses ${name} PKCS#8 and SPKI keys that sign and verify as node:crypto does`, () => {
      // Several keys in a row: the decoder context kept per thread must not carry one key into the next.
      for (let i = 0; i < 3; i++) {
        const { privateKey, publicKey } = pair();
        const handle = nativeDigest.privateKey(privateKey.export({ format: "der", type: "pkcs8" }));
        const signature = nativeDigest.signSync(handle, scheme, "sha256", digest);
        const dsaEncoding = scheme === SignatureScheme.Ecdsa ? "ieee-p1363" : "der";
        expect(verify("sha256", Buffer.from("strongroom"), { key: publicKey, dsaEncoding }, signature)).toBe(
          true,
        );
        const publicHandle = nativeDigest.publicKey(publicKey.export({ format: "der", type: "spki" }));
        expect(nativeDigest.verify(publicHandle, scheme, "sha256", digest, signature)).toBe(true);
      }
    });
  }

  it("signs again and again with one EC handle, and with another digest after one", () => {
    // The handle keeps its signing context between calls, re-initialised when the digest changes.
    const { privateKey, publicKey } = generateKeyPairSync("ec", { namedCurve: "P-384" });
    const handle = nativeDigest.privateKey(privateKey.export({ format: "der", type: "pkcs8" }));
    for (const hash of ["sha384", "sha384", "sha256", "sha512", "sha384"]) {
      const message = Buffer.from(`message for ${hash}`);
      const signature = nativeDigest.signSync(
        handle,
        SignatureScheme.Ecdsa,
        hash,
        createHash(hash).update(message).digest(),
      );
      expect(verify(hash, message, { key: publicKey, dsaEncoding: "ieee-p1363" }, signature)).toBe(true);
    }
    expect(() => nativeDigest.signSync(handle, SignatureScheme.Ecdsa, "sha384", digest)).toThrow(
      /digest length/,
    );
  });

  it("refuses garbage and an EC key on an unknown curve, then parses good keys again", () => {
    const ec = generateKeyPairSync("ec", { namedCurve: "P-256" }).privateKey.export({
      format: "der",
      type: "pkcs8",
    });
    expect(() => nativeDigest.privateKey(Buffer.from("3003020100", "hex"))).toThrow(/could not be parsed/);
    expect(() => nativeDigest.publicKey(Buffer.from("not a key"))).toThrow(/could not be parsed/);
    // A well-formed PKCS#8 EC key whose curve is 1.2.840.10045.3.1.127 instead of .7 (P-256): the
    // EC decoder kept for this thread takes it and fails.
    const p256 = Buffer.from("06082a8648ce3d030107", "hex");
    const at = ec.indexOf(p256);
    expect(at).toBeGreaterThan(0);
    const unknownCurve = Buffer.from(ec);
    unknownCurve[at + p256.length - 1] = 0x7f;
    expect(() => nativeDigest.privateKey(unknownCurve)).toThrow(/could not be parsed/);
    const handle = nativeDigest.privateKey(ec);
    expect(nativeDigest.signSync(handle, SignatureScheme.Ecdsa, "sha256", digest)).toHaveLength(64);
  });

  it("parses key types outside the cached decoders (Ed25519) on the general path", () => {
    const { privateKey, publicKey } = generateKeyPairSync("ed25519");
    expect(nativeDigest.privateKey(privateKey.export({ format: "der", type: "pkcs8" }))).toBeDefined();
    expect(nativeDigest.publicKey(publicKey.export({ format: "der", type: "spki" }))).toBeDefined();
  });
});
