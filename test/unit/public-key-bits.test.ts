import { generateKeyPairSync } from "node:crypto";
import * as asn1js from "asn1js";
import { describe, expect, it } from "vitest";
import { publicKeyBits } from "../../src/crypto/ca-certificate-builder.js";

/** The BIT STRING's contents as asn1js reads them: the path the header reading stands in for. */
function throughAsn1js(spki: Buffer): string {
  const [, bits] = (asn1js.fromBER(new Uint8Array(spki)).result as asn1js.Sequence).valueBlock.value;
  return Buffer.from((bits as asn1js.BitString).valueBlock.valueHexView).toString("hex");
}

const spkiOf = (key: ReturnType<typeof generateKeyPairSync>["publicKey"]) =>
  key.export({ format: "der", type: "spki" });

describe("the subjectPublicKey bits of an SPKI, read from its DER headers", () => {
  it.each([
    ["EC P-256", () => generateKeyPairSync("ec", { namedCurve: "prime256v1" })],
    ["EC P-521 (a long-form length)", () => generateKeyPairSync("ec", { namedCurve: "secp521r1" })],
    ["RSA 2048", () => generateKeyPairSync("rsa", { modulusLength: 2048 })],
    ["RSA 4096", () => generateKeyPairSync("rsa", { modulusLength: 4096 })],
    ["Ed25519", () => generateKeyPairSync("ed25519")],
  ])("are the bytes asn1js reads, for %s", (_kind, make) => {
    const spki = spkiOf(make().publicKey);
    expect(Buffer.from(publicKeyBits(spki)).toString("hex")).toBe(throughAsn1js(spki));
  });

  it("refuses what is not a SubjectPublicKeyInfo, as before", () => {
    expect(() => publicKeyBits(Buffer.from("3003020101", "hex"))).toThrow(/Not a SubjectPublicKeyInfo/);
  });

  it("reads an SPKI with trailing bytes through asn1js, as before", () => {
    const spki = spkiOf(generateKeyPairSync("ec", { namedCurve: "prime256v1" }).publicKey);
    const padded = Buffer.concat([spki, Buffer.of(0)]);
    expect(Buffer.from(publicKeyBits(padded)).toString("hex")).toBe(throughAsn1js(spki));
  });
});
