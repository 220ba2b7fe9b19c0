import "reflect-metadata";
import { webcrypto } from "node:crypto";
import * as x509 from "@peculiar/x509";
import { beforeAll, describe, expect, it } from "vitest";
import { createScepCodec } from "../../src/crypto/scep-codec.js";
import type { RaIdentity } from "../../src/domain/enrollment/ports.js";
import { readCertRep, scepClient } from "../support/scep-client.js";

const RSA = {
  name: "RSASSA-PKCS1-v1_5",
  hash: "SHA-256",
  publicExponent: new Uint8Array([1, 0, 1]),
  modulusLength: 2048,
};

/** Flips one bit of the first occurrence of `needle` in `message`. */
function flipInside(message: Buffer, needle: Buffer): Buffer {
  const at = message.indexOf(needle);
  if (at < 0) throw new Error("needle not found");
  const copy = Buffer.from(message);
  const i = at + Math.floor(needle.length / 2);
  copy.writeUInt8(copy.readUInt8(i) ^ 0x01, i);
  return copy;
}

describe("the SCEP codec", () => {
  const codec = createScepCodec();
  let ra: RaIdentity;

  beforeAll(async () => {
    x509.cryptoProvider.set(webcrypto as unknown as Crypto);
    const keys = (await webcrypto.subtle.generateKey(RSA, true, ["sign", "verify"])) as CryptoKeyPair;
    const cert = await x509.X509CertificateGenerator.createSelfSigned({
      name: "CN=Unit RA",
      keys,
      signingAlgorithm: RSA,
      notBefore: new Date(Date.now() - 60_000),
      notAfter: new Date(Date.now() + 86_400_000),
    });
    ra = {
      certificate: Buffer.from(cert.rawData),
      pkcs8: Buffer.from(await webcrypto.subtle.exportKey("pkcs8", keys.privateKey)),
    };
  });

  it("reads a PKCSReq: its attributes, the PKCS#10 from the envelope and its challenge password", async () => {
    const client = await scepClient("unit.example");
    const csr = await client.csr("s3cret");
    const request = await codec.readRequest(await client.message("19", "tx-unit", csr, ra.certificate), ra);
    expect(request).toMatchObject({
      messageType: "PKCSReq",
      transactionId: "tx-unit",
      digest: "SHA-256",
      cipher: "2.16.840.1.101.3.4.1.2",
      challengePassword: "s3cret",
      signerCertificate: client.certificate,
    });
    expect(request.problem).toBeUndefined();
    expect(request.csr?.equals(csr)).toBe(true);
    expect(request.senderNonce).toHaveLength(16);
  });

  it("marks a message whose signature no longer verifies badMessageCheck", async () => {
    const client = await scepClient("unit.example");
    const csr = await client.csr("s3cret");
    const message = await client.message("19", "tx-tampered", csr, ra.certificate);
    const request = await codec.readRequest(flipInside(message, Buffer.from("tx-tampered")), ra);
    expect(request.problem).toBe("badMessageCheck");
    expect(request.csr).toBeUndefined();
  });

  it("answers a tampered content key as it answers a wrong one: no request, no error of its own", async () => {
    const client = await scepClient("unit.example");
    const csr = await client.csr("s3cret");
    for (let i = 0; i < 3; i++) {
      const message = await client.message("19", `tx-key-${i}`, csr, ra.certificate, { corruptKey: true });
      const request = await codec.readRequest(message, ra);
      // Implicit rejection: a key derived from the ciphertext stands in, so the content decrypts to
      // noise (or, 1 time in 256, to bytes with valid padding that are no request of this client's).
      expect(request.problem === "badMessageCheck" || request.csr?.equals(csr) === false).toBe(true);
      expect(request.csr?.equals(csr) ?? false).toBe(false);
    }
  });

  it("signs CertReps that carry the transaction, the client's nonce and the status, for FAILURE and PENDING", async () => {
    const client = await scepClient("unit.example");
    const request = await codec.readRequest(
      await client.message("19", "tx-rep", await client.csr("s3cret"), ra.certificate),
      ra,
    );
    const failure = await readCertRep(
      await codec.reply(request, { status: "FAILURE", failInfo: "badCertId" }, ra),
    );
    expect(failure).toEqual({
      verified: true,
      messageType: "3",
      pkiStatus: "2",
      failInfo: "4",
      transactionId: "tx-rep",
    });
    const pending = await readCertRep(await codec.reply(request, { status: "PENDING" }, ra));
    expect(pending).toMatchObject({ verified: true, pkiStatus: "3", failInfo: undefined });
  });

  it("refuses bytes that are not a signed pkiMessage with BadParameter", async () => {
    await expect(codec.readRequest(Buffer.from("nonsense"), ra)).rejects.toMatchObject({
      code: "BadParameter",
    });
  });
});
