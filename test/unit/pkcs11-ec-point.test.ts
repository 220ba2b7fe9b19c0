import { generateKeyPairSync } from "node:crypto";
import * as asn1 from "asn1js";
import { describe, expect, it } from "vitest";
import { ecPublicParts } from "../../src/crypto/pkcs11-key-protector.js";

const CURVES = [
  { crv: "P-256", openssl: "prime256v1" },
  { crv: "P-384", openssl: "secp384r1" },
  { crv: "P-521", openssl: "secp521r1" },
  { crv: "P-256K", openssl: "secp256k1" },
] as const;

/** A key whose x coordinate starts with `firstByte`, so a bare point's second byte is known. */
function keyWithFirstXByte(curve: string, firstByte: (b: number) => boolean) {
  for (;;) {
    const jwk = generateKeyPairSync("ec", { namedCurve: curve }).publicKey.export({ format: "jwk" });
    const x = Buffer.from(jwk.x as string, "base64url");
    if (firstByte(x[0] as number)) {
      return { x, y: Buffer.from(jwk.y as string, "base64url"), jwk };
    }
  }
}

describe("CKA_EC_POINT as tokens return it", () => {
  for (const { crv, openssl } of CURVES) {
    it(`reads a ${crv} point wrapped in a DER OCTET STRING`, () => {
      const { x, y, jwk } = keyWithFirstXByte(openssl, () => true);
      const wrapped = Buffer.from(
        new asn1.OctetString({ valueHex: Buffer.concat([Buffer.of(4), x, y]) }).toBER(),
      );
      expect(ecPublicParts(crv, wrapped)).toEqual({ crv, x: jwk.x, y: jwk.y });
    });

    // 04 is also the OCTET STRING tag, and an x whose first byte is below the point's length reads
    // as a plausible DER length: such points were taken for a short wrapped value.
    it(`reads a bare ${crv} point whose x starts with a byte that looks like a DER length`, () => {
      const { x, y, jwk } = keyWithFirstXByte(openssl, (b) => b > 0 && b < 0x40);
      expect(ecPublicParts(crv, Buffer.concat([Buffer.of(4), x, y]))).toEqual({ crv, x: jwk.x, y: jwk.y });
    });
  }

  it("refuses a point of the wrong size for the curve", () => {
    const { x, y } = keyWithFirstXByte("prime256v1", () => true);
    expect(() => ecPublicParts("P-384", Buffer.concat([Buffer.of(4), x, y]))).toThrow(/unexpected EC point/);
  });
});
