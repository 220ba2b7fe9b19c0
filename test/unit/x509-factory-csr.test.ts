import "reflect-metadata";
import { execFileSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import * as x509 from "@peculiar/x509";
import * as asn1js from "asn1js";
import { afterAll, describe, expect, it } from "vitest";
import { createAesGcmSealer } from "../../src/crypto/aes-gcm-sealer.js";
import { explicit, octetString, oid, sequence } from "../../src/crypto/der.js";
import { masterKeyFrom } from "../../src/crypto/master-key.js";
import { createSoftwareKeyProtector } from "../../src/crypto/software-key-protector.js";
import { createX509Factory } from "../../src/crypto/x509-factory.js";
import { normalizePolicy, type PolicyInput } from "../../src/domain/certificates/policy.js";

const protector = createSoftwareKeyProtector(createAesGcmSealer(masterKeyFrom(randomBytes(32))));
const factory = createX509Factory();
const dir = mkdtempSync(join(tmpdir(), "strongroom-csr-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const CASES: { name: string; policy: PolicyInput }[] = [
  {
    name: "EC P-256 with subject, SANs of every kind and EKUs",
    policy: {
      key: { kty: "EC", curve: "P-256" },
      subject: "CN=app.example, O=Strongroom, C=DE",
      sans: {
        dnsNames: ["app.example", "www.app.example"],
        emails: ["ops@app.example"],
        uris: ["https://app.example/id"],
        ipAddresses: ["127.0.0.1"],
        upns: ["svc@app.example"],
      },
    },
  },
  { name: "EC P-384", policy: { key: { kty: "EC", curve: "P-384" }, subject: "CN=p384.example" } },
  { name: "EC P-521", policy: { key: { kty: "EC", curve: "P-521" }, subject: "CN=p521.example" } },
  {
    name: "RSA 2048 with key usages",
    policy: {
      key: { kty: "RSA", keySize: 2048 },
      subject: "CN=rsa.example",
      keyUsage: ["digitalSignature", "keyEncipherment"],
    },
  },
  {
    name: "no subject, a SAN only",
    policy: { key: { kty: "EC" }, subject: "", sans: { dnsNames: ["only.example"] } },
  },
];

describe("the CSR Key Vault returns with a pending certificate", () => {
  for (const { name, policy: input } of CASES) {
    it(`${name}: verifies with openssl and asks for the certificate's own subject and extensions`, async () => {
      const policy = normalizePolicy({ issuer: { name: "Self" }, ...input });
      const context = `csr/${name}`;
      const spec = policy.key.kty.startsWith("EC")
        ? ({ kind: "EC", protection: "software", curve: policy.key.curve } as const)
        : ({ kind: "RSA", protection: "software", keySize: policy.key.keySize } as const);
      const key = await protector.generate(spec, context);
      const signer = { publicKey: key.publicKey, sign: protector.sign.bind(null, key.material, context) };

      const der = await factory.csr(policy, signer);
      const file = join(dir, `${name.replace(/\W+/g, "-")}.der`);
      writeFileSync(file, der);
      const text = execFileSync(
        "openssl",
        ["req", "-inform", "DER", "-in", file, "-noout", "-verify", "-text"],
        {
          stdio: ["ignore", "pipe", "pipe"],
        },
      ).toString();
      expect(text).toContain("Certificate Request:");

      const csr = new x509.Pkcs10CertificateRequest(new Uint8Array(der));
      expect(await csr.verify()).toBe(true);
      const certificate = new x509.X509Certificate(
        new Uint8Array(await factory.selfSigned(policy, signer, new Date())),
      );
      expect(csr.subject).toBe(certificate.subject);
      expect(Buffer.from(csr.publicKey.rawData)).toEqual(Buffer.from(certificate.publicKey.rawData));
      const raw = (list: x509.Extension[]) => list.map((e) => Buffer.from(e.rawData).toString("hex"));
      expect(raw(csr.extensions)).toEqual(raw(certificate.extensions));
      expect(csr.signatureAlgorithm.hash).toEqual(certificate.signatureAlgorithm.hash);
    });
  }
});

describe("DER assembly", () => {
  it("writes short lengths in one byte and longer ones in the long form", () => {
    expect(octetString(Buffer.alloc(127)).subarray(0, 2).toString("hex")).toBe("047f");
    expect(octetString(Buffer.alloc(200)).subarray(0, 3).toString("hex")).toBe("0481c8");
    expect(octetString(Buffer.alloc(300)).subarray(0, 4).toString("hex")).toBe("0482012c");
    expect(octetString(Buffer.alloc(70_000)).subarray(0, 5).toString("hex")).toBe("0483011170");
  });

  it("wraps parts in a SEQUENCE and a context tag as asn1js reads them back", () => {
    const der = sequence([oid("1.2.3"), explicit(2, [octetString(Buffer.from("hi"))])]);
    const parsed = asn1js.fromBER(der);
    expect(parsed.offset).toBe(der.length);
    const [id, tagged] = (parsed.result as asn1js.Sequence).valueBlock.value;
    expect((id as asn1js.ObjectIdentifier).valueBlock.toString()).toBe("1.2.3");
    expect(tagged?.idBlock.tagClass).toBe(3);
    expect(tagged?.idBlock.tagNumber).toBe(2);
  });
});
