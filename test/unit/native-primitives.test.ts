import { createCipheriv, createDecipheriv, createHmac, randomBytes } from "node:crypto";
import { describe, expect, it } from "vitest";
import { nativePrimitives } from "../../src/crypto/native-primitives.js";

const key = randomBytes(32);
const nonce = randomBytes(12);
const aad = Buffer.from("vault/secret/version");

describe("native AES-256-GCM", () => {
  it("seals what node:crypto opens, with the tag after the ciphertext", () => {
    const plaintext = randomBytes(100);
    const sealed = nativePrimitives.aesGcmSeal(key, nonce, plaintext, aad);
    expect(sealed).toHaveLength(116);
    const decipher = createDecipheriv("aes-256-gcm", key, nonce);
    decipher.setAAD(aad);
    decipher.setAuthTag(sealed.subarray(100));
    expect(Buffer.concat([decipher.update(sealed.subarray(0, 100)), decipher.final()])).toEqual(plaintext);
  });

  it("opens what node:crypto seals, with and without AAD, and an empty plaintext", () => {
    for (const [plaintext, extra] of [
      [randomBytes(33), aad],
      [randomBytes(32), undefined],
      [Buffer.alloc(0), aad],
    ] as const) {
      const cipher = createCipheriv("aes-256-gcm", key, nonce);
      if (extra) cipher.setAAD(extra);
      const sealed = Buffer.concat([cipher.update(plaintext), cipher.final(), cipher.getAuthTag()]);
      expect(nativePrimitives.aesGcmOpen(key, nonce, sealed, extra)).toEqual(plaintext);
    }
  });

  it("returns null for a flipped bit, another AAD, another key or a truncated tag", () => {
    const sealed = nativePrimitives.aesGcmSeal(key, nonce, Buffer.from("secret value"), aad);
    const flipped = Buffer.from(sealed);
    flipped[0] = (flipped[0] as number) ^ 1;
    expect(nativePrimitives.aesGcmOpen(key, nonce, flipped, aad)).toBeNull();
    expect(nativePrimitives.aesGcmOpen(key, nonce, sealed, Buffer.from("other/secret/version"))).toBeNull();
    expect(nativePrimitives.aesGcmOpen(randomBytes(32), nonce, sealed, aad)).toBeNull();
    expect(nativePrimitives.aesGcmOpen(key, nonce, sealed, undefined)).toBeNull();
    expect(() => nativePrimitives.aesGcmOpen(key, nonce, sealed.subarray(0, 15), aad)).toThrow(TypeError);
  });

  it("refuses keys and nonces of the wrong length", () => {
    expect(() => nativePrimitives.aesGcmSeal(randomBytes(16), nonce, Buffer.alloc(1))).toThrow(/key\[32\]/);
    expect(() => nativePrimitives.aesGcmSeal(key, randomBytes(16), Buffer.alloc(1))).toThrow(/nonce\[12\]/);
    expect(() => nativePrimitives.aesGcmOpen(key, nonce, "text" as unknown as Buffer)).toThrow(TypeError);
  });
});

describe("native HMAC-SHA256", () => {
  it("matches node:crypto for short, long and empty messages", () => {
    for (const data of [Buffer.from("row"), randomBytes(10_000), Buffer.alloc(0)]) {
      expect(nativePrimitives.hmacSha256(key, data)).toEqual(createHmac("sha256", key).update(data).digest());
    }
  });

  it("keeps keys apart when calls alternate between them", () => {
    const other = randomBytes(32);
    const data = Buffer.from("row");
    for (const k of [key, other, key, other, other, key]) {
      expect(nativePrimitives.hmacSha256(k, data)).toEqual(createHmac("sha256", k).update(data).digest());
    }
  });

  it("matches RFC 4231 test case 2", () => {
    const mac = nativePrimitives.hmacSha256(Buffer.from("Jefe"), Buffer.from("what do ya want for nothing?"));
    expect(mac.toString("hex")).toBe("5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
  });

  it("refuses an empty key and non-buffers", () => {
    expect(() => nativePrimitives.hmacSha256(Buffer.alloc(0), Buffer.from("x"))).toThrow(TypeError);
    expect(() => nativePrimitives.hmacSha256(key, "x" as unknown as Buffer)).toThrow(TypeError);
  });
});
