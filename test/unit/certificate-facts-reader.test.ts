import "reflect-metadata";
import { webcrypto } from "node:crypto";
import * as x509 from "@peculiar/x509";
import { describe, expect, it } from "vitest";
import { readCertificateFacts } from "../../src/crypto/certificate-facts-reader.js";
import { DomainError } from "../../src/domain/errors.js";

x509.cryptoProvider.set(webcrypto as Crypto);

type Alg = RsaHashedKeyGenParams | EcKeyGenParams | { name: "Ed25519" };
const RSA_2048: Alg = {
  name: "RSASSA-PKCS1-v1_5",
  modulusLength: 2048,
  publicExponent: new Uint8Array([1, 0, 1]),
  hash: "SHA-256",
};

async function certificate(
  alg: Alg,
  options: {
    subject?: string;
    issuer?: { name: string; keys: CryptoKeyPair; alg: Alg };
    sans?: x509.JsonGeneralNames;
  } = {},
) {
  const keys = (await webcrypto.subtle.generateKey(alg as EcKeyGenParams, true, [
    "sign",
    "verify",
  ])) as CryptoKeyPair;
  const subject = options.subject ?? "CN=leaf.example.com, O=Example\\, Inc., C=DE";
  const extensions: x509.Extension[] = [
    await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
    new x509.BasicConstraintsExtension(options.issuer === undefined, undefined, true),
  ];
  if (options.sans) extensions.push(new x509.SubjectAlternativeNameExtension(options.sans));
  if (options.issuer)
    extensions.push(await x509.AuthorityKeyIdentifierExtension.create(options.issuer.keys.publicKey));
  const cert = await x509.X509CertificateGenerator.create({
    serialNumber: "00a1b2c3d4",
    subject,
    issuer: options.issuer?.name ?? subject,
    notBefore: new Date("2026-01-01T00:00:00Z"),
    notAfter: new Date("2027-01-01T00:00:00Z"),
    publicKey: keys.publicKey,
    signingKey: options.issuer?.keys.privateKey ?? keys.privateKey,
    signingAlgorithm: options.issuer?.alg ?? alg,
    extensions,
  });
  return { cert, keys };
}

describe("the certificate facts reader", () => {
  it("reads what @peculiar/x509 reads from an RSA leaf with every SAN type and its issuer's key id", async () => {
    const rootAlg = { name: "ECDSA", namedCurve: "P-384", hash: "SHA-384" } as Alg;
    const root = await certificate(rootAlg, { subject: "CN=Root, O=Example" });
    const { cert } = await certificate(RSA_2048, {
      issuer: { name: "CN=Root, O=Example", keys: root.keys, alg: rootAlg },
      sans: [
        { type: "dns", value: "www.example.com" },
        { type: "ip", value: "10.0.0.5" },
        { type: "email", value: "ops@example.com" },
        { type: "url", value: "https://example.com/" },
      ],
    });
    // The leaf is signed by the EC root, so its signature algorithm is ECDSA.
    const facts = readCertificateFacts(new Uint8Array(cert.rawData));
    expect(facts.subject).toBe(cert.subject);
    expect(facts.issuer).toBe("CN=Root, O=Example");
    expect(facts.serialNumber).toBe("a1b2c3d4");
    expect(facts.notBefore).toEqual(cert.notBefore);
    expect(facts.notAfter).toEqual(cert.notAfter);
    expect(facts.keyType).toBe("RSA");
    expect(facts.keySize).toBe(2048);
    expect(facts.curve).toBeUndefined();
    expect(facts.signatureAlgorithm).toBe("ecdsa-with-SHA384");
    expect(facts.sans).toEqual([
      { type: "dns", value: "www.example.com" },
      { type: "ip", value: "10.0.0.5" },
      { type: "email", value: "ops@example.com" },
      { type: "uri", value: "https://example.com/" },
    ]);
    expect(facts.selfSigned).toBe(false);
    expect(facts.isCa).toBe(false);
    const rootFacts = readCertificateFacts(new Uint8Array(root.cert.rawData));
    expect(facts.authorityKeyId).toBe(rootFacts.subjectKeyId);
    expect(facts.fingerprintSha256).toBe(Buffer.from(await cert.getThumbprint("SHA-256")).toString("hex"));
  });

  it("reads a self-signed EC CA's curve and constraints", async () => {
    const { cert } = await certificate({ name: "ECDSA", namedCurve: "P-256", hash: "SHA-256" } as Alg, {
      subject: "CN=Self",
    });
    const facts = readCertificateFacts(new Uint8Array(cert.rawData));
    expect(facts).toMatchObject({
      keyType: "EC",
      keySize: 256,
      curve: "P-256",
      signatureAlgorithm: "ecdsa-with-SHA256",
      selfSigned: true,
      isCa: true,
      sans: [],
    });
    expect(await cert.isSelfSigned()).toBe(true);
  });

  it("reads an Ed25519 certificate", async () => {
    const { cert } = await certificate({ name: "Ed25519" }, { subject: "CN=Edwards" });
    expect(readCertificateFacts(new Uint8Array(cert.rawData))).toMatchObject({
      keyType: "Ed25519",
      signatureAlgorithm: "Ed25519",
    });
  });

  it("refuses bytes that are not a certificate, and a certificate with bytes after it", async () => {
    const { cert } = await certificate({ name: "Ed25519" });
    for (const bytes of [
      Buffer.from("not a certificate"),
      Buffer.of(0x30, 0x03, 0x02, 0x01, 0x01),
      Buffer.concat([Buffer.from(cert.rawData), Buffer.of(0)]),
    ]) {
      expect(() => readCertificateFacts(bytes)).toThrow(DomainError);
    }
  });
});
