import { describe, expect, it } from "vitest";
import type { CertificateChangeListener } from "../../src/domain/ca/ca-service.js";
import type { CertificateAuthority, IssuedCertificate } from "../../src/domain/ca/model.js";
import { createOcspResponder } from "../../src/domain/ca/ocsp-responder.js";

/**
 * The responder's ports around one CA: status reads answer when the test says so, and every answer
 * signed is counted, so what is signed ahead of any request can be seen.
 */
function responder() {
  const listeners: CertificateChangeListener[] = [];
  const reads: (() => void)[] = [];
  const signed: string[] = [];
  const authority = {
    id: "ca-1",
    name: "issuing",
    certificate: Buffer.from("issuing certificate"),
    responder: { certificate: Buffer.from("responder certificate") },
  } as unknown as CertificateAuthority;
  createOcspResponder({
    ca: {
      list: async () => [authority],
      onChange: (listener) => void listeners.push(listener),
    },
    crls: { responderSigner: () => ({}) as never },
    store: {
      getIssued: (_caId, serial) =>
        new Promise((resolve) =>
          reads.push(() => resolve({ serial, status: "good" } as unknown as IssuedCertificate)),
        ),
    },
    x509: {
      issuerHashes: () => ({
        nameHash: Buffer.from("n1"),
        keyHash: Buffer.from("k1"),
        nameHash256: Buffer.from("n256"),
        keyHash256: Buffer.from("k256"),
      }),
      certId: (_issuer, serial) => ({
        hashAlgorithm: "SHA-1",
        issuerNameHash: Buffer.from("n1"),
        issuerKeyHash: Buffer.from("k1"),
        serial,
        der: Buffer.from(serial),
      }),
      ocspResponse: async (response) => {
        signed.push(response.responses.map((r) => r.certId.serial).join());
        return Buffer.from("answer");
      },
      readOcspRequest: () => undefined,
    },
    clock: { now: () => new Date("2026-06-01T00:00:00Z") },
  });
  const change = (serial: string) => {
    for (const listener of listeners) listener("ca-1", serial, "status");
  };
  /** Lets every status read asked for so far answer, and what follows them run. */
  const answerReads = async () => {
    for (let i = 0; i < 20; i++) {
      for (const read of reads.splice(0)) read();
      await new Promise((resolve) => setImmediate(resolve));
    }
  };
  return { change, answerReads, signed };
}

describe("OCSP answers signed ahead of the first request", () => {
  it("signs the answer of a certificate that changed before anyone asks", async () => {
    const { change, answerReads, signed } = responder();
    change("0a");
    await answerReads();
    expect(signed).toEqual(["0a"]);
  });

  it("signs at most eight ahead when a batch changes at once, and the next change again", async () => {
    const { change, answerReads, signed } = responder();
    for (let i = 0; i < 100; i++) change(i.toString(16).padStart(2, "0"));
    await answerReads();
    expect(signed).toEqual(["00", "01", "02", "03", "04", "05", "06", "07"]);
    change("ff");
    await answerReads();
    expect(signed.at(-1)).toBe("ff");
  });
});
