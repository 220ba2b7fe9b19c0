import { randomBytes } from "node:crypto";
import { beforeAll, describe, expect, it } from "vitest";
import { createAesGcmSealer } from "../../src/crypto/aes-gcm-sealer.js";
import { createCaKeys } from "../../src/crypto/ca-keys.js";
import { createCaX509 } from "../../src/crypto/ca-x509.js";
import { masterKeyFrom } from "../../src/crypto/master-key.js";
import { createSoftwareKeyProtector } from "../../src/crypto/software-key-protector.js";
import { createX509Factory } from "../../src/crypto/x509-factory.js";
import { newSerial } from "../../src/domain/ca/ca-service.js";
import type { CertificateSpec } from "../../src/domain/ca/model.js";
import type { CaSigner } from "../../src/domain/ca/ports.js";

const DAY_MS = 86_400_000;
const caX509 = createCaX509();
const keys = createCaKeys({
  software: createSoftwareKeyProtector(createAesGcmSealer(masterKeyFrom(randomBytes(32)))),
});
const noSans = { dnsNames: [], emails: [], uris: [], ipAddresses: [], upns: [] };

async function caKey(name: string) {
  const made = await keys.generate("EC-P256", "software", `test/${name}`);
  return {
    signer: keys.signer("software", made.material, `test/${name}`, made.publicKey),
    spki: caX509.spki(made.publicKey),
  };
}

const spec = (subject: string, publicKey: Buffer, extra: Partial<CertificateSpec>): CertificateSpec => ({
  serial: newSerial(),
  subject,
  notBefore: new Date(Date.now() - 600_000),
  notAfter: new Date(Date.now() + 365 * DAY_MS),
  publicKey,
  keyUsage: ["digitalSignature"],
  ekus: [],
  sans: noSans,
  policies: [],
  ...extra,
});

describe("a certificate the CA has just signed, read without parsing it", () => {
  let root: Buffer;
  let issuing: Buffer;
  let issuingSigner: CaSigner;

  beforeAll(async () => {
    const rootKey = await caKey("root");
    const ca: Partial<CertificateSpec> = { keyUsage: ["keyCertSign", "cRLSign"] };
    root = await caX509.certificate(
      spec("CN=Signed Here Root", rootKey.spki, { ...ca, ca: { pathLength: 1 } }),
      rootKey.signer,
    );
    const issuingKey = await caKey("issuing");
    issuing = await caX509.certificate(
      spec("CN=Signed Here Issuing", issuingKey.spki, {
        ...ca,
        ca: { pathLength: 0 },
        issuer: { certificate: root },
      }),
      rootKey.signer,
    );
    issuingSigner = issuingKey.signer;
  });

  async function leafOf(validity: { notBefore: Date; notAfter: Date }) {
    const leafKey = await caKey("leaf");
    return caX509.certificate(
      spec("CN=svc.example.test", leafKey.spki, { ...validity, issuer: { certificate: issuing } }),
      issuingSigner,
    );
  }

  /** What reading the certificate back gives: the chain put in order, then the leaf's facts. */
  function readBack(certificates: Buffer[]) {
    const x509 = createX509Factory();
    const { leaf, chain, verdict } = x509.orderChain(certificates);
    const { notBefore, notAfter, thumbprint } = x509.inspect(leaf);
    return { leaf, chain, verdict, facts: { notBefore, notAfter, thumbprint } };
  }

  it("says what ordering the chain and inspecting the certificate say, dates in the certificate's whole seconds", async () => {
    // Milliseconds the certificate cannot hold: the dates given are the CA's, the facts the certificate's.
    const validity = {
      notBefore: new Date("2026-03-01T10:00:00.987Z"),
      notAfter: new Date("2027-03-01T10:00:00.456Z"),
    };
    const leaf = await leafOf(validity);
    const read = createX509Factory().signedHere(leaf, [issuing, root], validity);
    expect(read).toEqual(readBack([leaf, issuing, root]));
    expect(read.facts.notBefore.toISOString()).toBe("2026-03-01T10:00:00.000Z");
    expect(read.verdict).toEqual({ complete: true });
  });

  it("gives the CA chain's verdict when the chain stops short of its root", async () => {
    const validity = { notBefore: new Date(Date.now() - 600_000), notAfter: new Date(Date.now() + DAY_MS) };
    const leaf = await leafOf(validity);
    const read = createX509Factory().signedHere(leaf, [issuing], validity);
    expect(read).toEqual(readBack([leaf, issuing]));
    expect(read.verdict).toEqual({ complete: false, missingIssuer: "CN=Signed Here Root" });
  });
});
