import { execFileSync } from "node:child_process";
import { generateKeyPairSync } from "node:crypto";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { ecSpki } from "../../src/crypto/ec-spki.js";
import { publicKeyFromParts, publicParts } from "../../src/crypto/jwk.js";
import { tempDataDir } from "../support/server-process.js";

const work = tempDataDir();
afterAll(() => work.remove());

/** The SPKI as node:crypto encodes it from the same parts: the general path ecSpki stands in for. */
const libraryPath = (parts: ReturnType<typeof publicParts>) =>
  publicKeyFromParts(parts).export({ format: "der", type: "spki" });

describe.each([
  ["P-256", "prime256v1"],
  ["P-384", "secp384r1"],
  ["P-521", "secp521r1"],
] as const)("the SPKI of a %s key, written from its fixed prefix and point", (curve, opensslName) => {
  it("is byte for byte what node:crypto encodes, for many keys", () => {
    for (let i = 0; i < 50; i++) {
      const parts = publicParts(generateKeyPairSync("ec", { namedCurve: opensslName }).publicKey);
      expect(parts.crv).toBe(curve);
      expect(ecSpki(parts)?.toString("hex")).toBe(libraryPath(parts).toString("hex"));
    }
  });

  it("is read by openssl as that curve's key and written back by it unchanged", () => {
    const parts = publicParts(generateKeyPairSync("ec", { namedCurve: opensslName }).publicKey);
    const spki = ecSpki(parts) as Buffer;
    const file = join(work.dir, `${curve}.der`);
    writeFileSync(file, spki);
    const text = execFileSync(
      "openssl",
      ["pkey", "-pubin", "-inform", "DER", "-in", file, "-noout", "-text"],
      {
        encoding: "utf8",
      },
    );
    expect(text).toContain(`NIST CURVE: ${curve}`);
    const again = execFileSync("openssl", [
      "pkey",
      "-pubin",
      "-inform",
      "DER",
      "-in",
      file,
      "-outform",
      "DER",
    ]);
    expect(again.toString("hex")).toBe(spki.toString("hex"));
  });
});

describe("keys the fixed prefixes do not cover", () => {
  it("leaves RSA, Ed25519 and secp256k1 keys to the general path", () => {
    const rsa = publicParts(generateKeyPairSync("rsa", { modulusLength: 2048 }).publicKey);
    const k1 = publicParts(generateKeyPairSync("ec", { namedCurve: "secp256k1" }).publicKey);
    expect(ecSpki(rsa)).toBeUndefined();
    expect(ecSpki(k1)).toBeUndefined();
    expect(ecSpki({ crv: "Ed25519", x: Buffer.alloc(32, 7).toString("base64url") })).toBeUndefined();
  });

  it("leaves coordinates shorter than the curve's width (a JWK without leading zeros) to the general path", () => {
    const parts = publicParts(generateKeyPairSync("ec", { namedCurve: "prime256v1" }).publicKey);
    const short = {
      ...parts,
      x: Buffer.from(parts.x as string, "base64url")
        .subarray(1)
        .toString("base64url"),
    };
    expect(ecSpki(short)).toBeUndefined();
  });
});
