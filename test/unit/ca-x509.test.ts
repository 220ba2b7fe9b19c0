import { execFileSync, spawnSync } from "node:child_process";
import { createPublicKey, randomBytes, verify } from "node:crypto";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import * as asn1js from "asn1js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { csrKeyFacts } from "../../src/crypto/acme-jws.js";
import { createAesGcmSealer } from "../../src/crypto/aes-gcm-sealer.js";
import { createCaKeys } from "../../src/crypto/ca-keys.js";
import { createCaX509 } from "../../src/crypto/ca-x509.js";
import { masterKeyFrom } from "../../src/crypto/master-key.js";
import { toPem } from "../../src/crypto/pem.js";
import { createSoftwareKeyProtector } from "../../src/crypto/software-key-protector.js";
import { newSerial } from "../../src/domain/ca/ca-service.js";
import type { CaKeyAlgorithm, CertificateSpec, OcspSingle } from "../../src/domain/ca/model.js";
import type { CaSigner } from "../../src/domain/ca/ports.js";
import { csrKey, spkiKey } from "../../src/domain/rules/request-facts.js";
import { legacyCertificate, legacyOcspResponse, legacyReadCsr } from "../support/legacy-ca-x509.js";
import { tempDataDir } from "../support/server-process.js";

const DAY_MS = 86_400_000;
const x509 = createCaX509();
const keys = createCaKeys({
  software: createSoftwareKeyProtector(createAesGcmSealer(masterKeyFrom(randomBytes(32)))),
});
const noSans = { dnsNames: [], emails: [], uris: [], ipAddresses: [], upns: [] };
const work = tempDataDir();
const file = (name: string, der?: Buffer, label = "CERTIFICATE") => {
  const path = join(work.dir, name);
  if (der) writeFileSync(path, toPem(label, der));
  return path;
};
const openssl = (...args: string[]) => execFileSync("openssl", args, { encoding: "utf8" });

async function caKey(algorithm: CaKeyAlgorithm) {
  const made = await keys.generate(algorithm, "software", `test/${algorithm}`);
  const signer = keys.signer("software", made.material, `test/${algorithm}`, made.publicKey);
  return { signer, spki: x509.spki(made.publicKey) };
}

/** TBSCertificate or tbsResponseData: what a signature covers, equal between builders when all else is. */
function toBeSigned(der: Buffer, path: number[] = []): string {
  let block = asn1js.fromBER(new Uint8Array(der)).result as asn1js.BaseBlock;
  for (const index of [...path, 0])
    block = (block as asn1js.Constructed).valueBlock.value[index] as asn1js.BaseBlock;
  return Buffer.from(block.valueBeforeDecodeView).toString("hex");
}

/** `openssl x509 -text`'s extensions section. */
const extensionsText = (der: Buffer) => {
  const text = openssl("x509", "-in", file("text.pem", der), "-noout", "-text");
  return text.slice(
    text.indexOf("X509v3 extensions:"),
    text.indexOf("Signature Algorithm:", text.indexOf("X509v3 extensions:")),
  );
};

/** Builds with the template builder and the @peculiar/x509 one it replaced; expects the same TBS. */
async function both(spec: CertificateSpec, signer: CaSigner) {
  const built = await x509.certificate(spec, signer);
  const legacy = await legacyCertificate(spec, signer);
  expect(toBeSigned(built)).toBe(toBeSigned(legacy));
  expect(extensionsText(built)).toBe(extensionsText(legacy));
  return built;
}

const urls = (shard: string) => ({
  caIssuers: "http://pki.example.test/ca/1",
  ocsp: "http://pki.example.test/ocsp",
  crl: `http://pki.example.test/crl/1/${shard}.crl`,
});

afterAll(() => work.remove());

describe.each(["EC-P256", "EC-P384", "RSA-2048", "Ed25519"] as const)(
  "the CA's certificate builder with %s CA keys",
  (algorithm) => {
    const now = new Date();
    const notBefore = new Date(now.getTime() - 600_000);
    let root: { signer: CaSigner; spki: Buffer; der: Buffer };
    let issuing: { signer: CaSigner; spki: Buffer; der: Buffer };

    beforeAll(async () => {
      const rootKey = await caKey(algorithm);
      const rootDer = await both(
        {
          serial: newSerial(),
          subject: "CN=Builder Root, O=Example, C=GB",
          notBefore,
          // Beyond 2049: GeneralizedTime (RFC 5280 §4.1.2.5).
          notAfter: new Date("2060-01-01T00:00:00.123Z"),
          publicKey: rootKey.spki,
          ca: {
            pathLength: 1,
            nameConstraints: {
              permitted: {
                dns: ["example.test", ".corp.test"],
                ip: ["10.0.0.0/8", "2001:db8::/32"],
                email: ["example.test"],
                uri: [".example.test"],
              },
              excluded: { dns: ["bad.example.test"], ip: [], email: [], uri: [] },
            },
          },
          keyUsage: ["keyCertSign", "cRLSign", "digitalSignature"],
          ekus: [],
          sans: noSans,
          policies: ["1.3.6.1.4.1.99999.1.1", "2.23.140.1.2.1"],
        },
        rootKey.signer,
      );
      root = { ...rootKey, der: rootDer };
      const issuingKey = await caKey(algorithm);
      const issuingDer = await both(
        {
          serial: newSerial(),
          subject: "CN=Builder Issuing, O=Example",
          notBefore,
          notAfter: new Date(now.getTime() + 365 * DAY_MS),
          publicKey: issuingKey.spki,
          issuer: { certificate: root.der },
          ca: { pathLength: 0 },
          keyUsage: ["keyCertSign", "cRLSign", "digitalSignature"],
          ekus: [],
          sans: noSans,
          policies: ["1.3.6.1.4.1.99999.1.1"],
          urls: urls("full"),
        },
        root.signer,
      );
      issuing = { ...issuingKey, der: issuingDer };
      file("root.pem", root.der);
      file("issuing.pem", issuing.der);
    });

    it("makes CA certificates openssl verifies, with the old builder's TBS", () => {
      expect(openssl("verify", "-CAfile", file("root.pem"), file("issuing.pem"))).toContain("OK");
    });

    it("makes leaf certificates for every SAN kind with the old builder's TBS and extensions, which openssl verifies", async () => {
      const leafKey = await caKey("EC-P256");
      for (const shard of ["full", "7"]) {
        const leaf = await both(
          {
            serial: newSerial(),
            subject: "CN=svc.example.test, O=Example",
            notBefore,
            notAfter: new Date(now.getTime() + 30 * DAY_MS),
            publicKey: leafKey.spki,
            issuer: { certificate: issuing.der },
            keyUsage: ["digitalSignature", "keyEncipherment"],
            ekus: ["1.3.6.1.5.5.7.3.1", "1.3.6.1.5.5.7.3.2"],
            sans: {
              dnsNames: ["svc.example.test", "*.corp.test"],
              emails: ["ops@example.test"],
              uris: ["https://app.example.test/x"],
              ipAddresses: ["10.1.2.3", "2001:db8::1"],
              upns: ["svc@example.test"],
            },
            policies: ["1.3.6.1.4.1.99999.1.1"],
            urls: urls(shard),
          },
          issuing.signer,
        );
        const out = openssl(
          "verify",
          "-CAfile",
          file("root.pem"),
          "-untrusted",
          file("issuing.pem"),
          file("leaf.pem", leaf),
        );
        expect(out).toContain("OK");
        expect(extensionsText(leaf)).toContain(`http://pki.example.test/crl/1/${shard}.crl`);
      }
    });

    it("marks the SAN critical when the subject is empty, as the old builder did", async () => {
      const leafKey = await caKey("EC-P256");
      const leaf = await both(
        {
          serial: newSerial(),
          subject: "",
          notBefore,
          notAfter: new Date(now.getTime() + DAY_MS),
          publicKey: leafKey.spki,
          issuer: { certificate: issuing.der },
          keyUsage: ["digitalSignature"],
          ekus: [],
          sans: { ...noSans, dnsNames: ["only-san.example.test"] },
          policies: [],
          urls: urls("full"),
        },
        issuing.signer,
      );
      expect(extensionsText(leaf)).toMatch(/Subject Alternative Name: critical/);
    });

    it("makes the delegated OCSP responder certificate with id-pkix-ocsp-nocheck", async () => {
      const responderKey = await caKey(algorithm === "RSA-2048" ? "RSA-2048" : algorithm);
      const responder = await both(
        {
          serial: newSerial(),
          subject: "CN=OCSP Responder for issuing",
          notBefore,
          notAfter: new Date(now.getTime() + 30 * DAY_MS),
          publicKey: responderKey.spki,
          issuer: { certificate: issuing.der },
          keyUsage: ["digitalSignature"],
          ekus: ["1.3.6.1.5.5.7.3.9"],
          sans: noSans,
          policies: [],
          ocspNoCheck: true,
        },
        issuing.signer,
      );
      expect(extensionsText(responder)).toContain("OCSP No Check");

      const issued = await x509.certificate(
        {
          serial: "01aa55",
          subject: "CN=leaf",
          notBefore,
          notAfter: new Date(now.getTime() + DAY_MS),
          publicKey: responderKey.spki,
          issuer: { certificate: issuing.der },
          keyUsage: ["digitalSignature"],
          ekus: [],
          sans: noSans,
          policies: [],
        },
        issuing.signer,
      );
      file("ocsp-leaf.pem", issued);
      const responderSigner = responderKey.signer;
      const revoked = x509.certId(issuing.der, "01aa55");
      const cases: OcspSingle[] = [
        {
          certId: revoked,
          status: "revoked",
          revokedAt: new Date("2026-02-03T04:05:06Z"),
          reason: "keyCompromise",
        },
        { certId: revoked, status: "hold", revokedAt: new Date("2026-02-03T04:05:06.789Z") },
        { certId: revoked, status: "good" },
        { certId: x509.certId(issuing.der, "01bb"), status: "unknown" },
      ];
      for (const single of cases) {
        // RFC 8954: the nonce extension's value is an OCTET STRING, echoed as the request sent it.
        for (const nonce of [undefined, Buffer.concat([Buffer.from([4, 8]), randomBytes(8)])]) {
          const spec = {
            responderCertificate: responder,
            producedAt: new Date(now.getTime() + 1234),
            thisUpdate: now,
            nextUpdate: new Date(now.getTime() + DAY_MS),
            responses: [single],
            nonce,
          };
          const built = await x509.ocspResponse(spec, responderSigner);
          const legacy = await legacyOcspResponse(spec, responderSigner);
          // OCSPResponse → responseBytes [0] → SEQUENCE → response OCTET STRING → BasicOCSPResponse.
          const basic = (der: Buffer) => {
            const outer = asn1js.fromBER(new Uint8Array(der)).result as asn1js.Sequence;
            const bytes = (
              (outer.valueBlock.value[1] as asn1js.Constructed).valueBlock.value[0] as asn1js.Sequence
            ).valueBlock.value[1] as asn1js.OctetString;
            return Buffer.from(bytes.valueBlock.valueHexView);
          };
          expect(toBeSigned(basic(built))).toBe(toBeSigned(basic(legacy)));
          writeFileSync(join(work.dir, "resp.der"), built);
          const run = spawnSync(
            "openssl",
            [
              "ocsp",
              "-respin",
              join(work.dir, "resp.der"),
              "-CAfile",
              file("root.pem"),
              "-issuer",
              file("issuing.pem"),
              "-cert",
              file("ocsp-leaf.pem"),
              "-verify_other",
              file("issuing.pem"),
              "-no_nonce",
            ],
            { encoding: "utf8" },
          );
          expect(run.stderr).toContain("Response verify OK");
          if (single.certId === revoked)
            expect(run.stdout).toContain(single.status === "good" ? ": good" : ": revoked");
        }
      }
    });
  },
);

describe("a CRL with many entries", () => {
  it("lists 5,000 revoked certificates in a CRL openssl verifies, with each one's reason", async () => {
    const key = await caKey("EC-P256");
    const issuer = await x509.certificate(
      {
        serial: newSerial(),
        subject: "CN=Busy Revoker",
        notBefore: new Date(Date.now() - 600_000),
        notAfter: new Date(Date.now() + 30 * DAY_MS),
        publicKey: key.spki,
        ca: { pathLength: 0 },
        keyUsage: ["keyCertSign", "cRLSign", "digitalSignature"],
        ekus: [],
        sans: noSans,
        policies: [],
      },
      key.signer,
    );
    const reasons = ["keyCompromise", "cACompromise", "superseded"] as const;
    const entries = Array.from({ length: 5000 }, (_, i) => ({
      serial: newSerial(),
      revokedAt: new Date(Date.now() - i * 1000),
      reason: reasons[i % 3] as (typeof reasons)[number],
    }));
    const crl = await x509.crl(
      { issuer, number: 4242, thisUpdate: new Date(), nextUpdate: new Date(Date.now() + DAY_MS), entries },
      key.signer,
    );
    const run = spawnSync(
      "openssl",
      [
        "crl",
        "-in",
        file("busy.crl", crl, "X509 CRL"),
        "-CAfile",
        file("busy-ca.pem", issuer),
        "-noout",
        "-text",
      ],
      { encoding: "utf8", maxBuffer: 64 * 1024 * 1024 },
    );
    expect(run.stderr).toContain("verify OK");
    expect(run.stdout).toMatch(/X509v3 CRL Number:\s+4242/);
    expect(run.stdout).toContain("X509v3 Authority Key Identifier");
    const listed = [...run.stdout.matchAll(/Serial Number: ([0-9A-F]+)/g)].map((m) => m[1]?.toLowerCase());
    expect(listed).toEqual(entries.map((e) => e.serial));
    expect(run.stdout.match(/Key Compromise/g)).toHaveLength(1667);
    expect(run.stdout.match(/CA Compromise/g)).toHaveLength(1667);
    expect(run.stdout.match(/Superseded/g)).toHaveLength(1666);
  });
});

describe("an Ed25519 CA key (RFC 8410)", () => {
  const notBefore = new Date(Date.now() - 600_000);
  const notAfter = new Date(Date.now() + 30 * DAY_MS);
  let root: { signer: CaSigner; spki: Buffer; der: Buffer };
  /** RFC 8410 §3: id-Ed25519 with the parameters absent (not NULL). */
  const ID_ED25519 = "300506032b6570";

  beforeAll(async () => {
    const key = await caKey("Ed25519");
    const spec: CertificateSpec = {
      serial: newSerial(),
      subject: "CN=Ed25519 Root",
      notBefore,
      notAfter,
      publicKey: key.spki,
      ca: { pathLength: 0 },
      keyUsage: ["keyCertSign", "cRLSign", "digitalSignature"],
      ekus: [],
      sans: noSans,
      policies: [],
    };
    root = { ...key, der: await x509.certificate(spec, key.signer) };
    file("ed25519-root.pem", root.der);
  });

  it("names id-Ed25519 without parameters and signs the whole TBSCertificate, not a digest of it", () => {
    const [tbs, algorithm, signature] = (asn1js.fromBER(new Uint8Array(root.der)).result as asn1js.Sequence)
      .valueBlock.value as [asn1js.Sequence, asn1js.Sequence, asn1js.BitString];
    expect(Buffer.from(algorithm.valueBeforeDecodeView).toString("hex")).toBe(ID_ED25519);
    const inner = tbs.valueBlock.value[2] as asn1js.Sequence;
    expect(Buffer.from(inner.valueBeforeDecodeView).toString("hex")).toBe(ID_ED25519);
    const bytes = Buffer.from(signature.valueBlock.valueHexView);
    expect(bytes).toHaveLength(64);
    const publicKey = createPublicKey({ key: root.spki, format: "der", type: "spki" });
    expect(verify(null, Buffer.from(tbs.valueBeforeDecodeView), publicKey, bytes)).toBe(true);
    expect(openssl("x509", "-in", file("ed25519-root.pem"), "-noout", "-text")).toContain(
      "Signature Algorithm: ED25519",
    );
  });

  it("signs whole messages with Ed25519 keys only: an EC key is refused rather than given a digest", async () => {
    const ec = await caKey("EC-P256");
    await expect(ec.signer.signMessage(Buffer.from("tbs"))).rejects.toThrow("Only Ed25519 keys");
  });

  it("signs full and sharded CRLs that openssl verifies", async () => {
    for (const distributionPoint of [undefined, "http://pki.example.test/crl/1/3.crl"]) {
      const crl = await x509.crl(
        {
          issuer: root.der,
          number: 7,
          thisUpdate: new Date(),
          nextUpdate: new Date(Date.now() + DAY_MS),
          entries: [{ serial: "01aa55", revokedAt: new Date(), reason: "keyCompromise" }],
          distributionPoint,
        },
        root.signer,
      );
      const algorithm = (asn1js.fromBER(new Uint8Array(crl)).result as asn1js.Sequence).valueBlock.value[1];
      expect(Buffer.from(algorithm?.valueBeforeDecodeView ?? []).toString("hex")).toBe(ID_ED25519);
      const path = file("ed25519.crl", crl, "X509 CRL");
      const run = spawnSync(
        "openssl",
        ["crl", "-in", path, "-CAfile", file("ed25519-root.pem"), "-noout", "-text"],
        { encoding: "utf8" },
      );
      expect(run.stderr).toContain("verify OK");
      expect(run.stdout).toContain("Signature Algorithm: ED25519");
      expect(run.stdout).toContain("Key Compromise");
      if (distributionPoint) expect(run.stdout).toContain(distributionPoint);
    }
  });

  it("signs the CSR of an externally signed intermediate, which openssl verifies", async () => {
    const key = await caKey("Ed25519");
    const csr = await x509.caCsr("CN=Ed25519 Outside Signed", key.signer);
    const run = spawnSync(
      "openssl",
      ["req", "-in", file("ed25519.csr", csr, "CERTIFICATE REQUEST"), "-verify", "-noout", "-text"],
      { encoding: "utf8" },
    );
    expect(run.stderr).toMatch(/verify OK/i);
    expect(run.stdout).toContain("ED25519");
    expect((await x509.readCsr(csr)).publicKey.equals(key.spki)).toBe(true);
  });
});

describe("the CA's CSR reader", () => {
  const work2 = tempDataDir();
  afterAll(() => work2.remove());

  function csr(keyArgs: string[], subject: string, san?: string): Buffer {
    const key = join(work2.dir, "k.pem");
    const out = join(work2.dir, "r.der");
    openssl(
      "req",
      "-new",
      ...keyArgs,
      "-nodes",
      "-keyout",
      key,
      "-outform",
      "DER",
      "-out",
      out,
      "-subj",
      subject,
      ...(san ? ["-addext", `subjectAltName=${san}`] : []),
    );
    return readFileSync(out);
  }

  const cases = {
    "EC P-256": ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256"],
    "RSA 2048": ["-newkey", "rsa:2048"],
    "RSA-PSS": ["-newkey", "rsa:2048", "-sigopt", "rsa_padding_mode:pss"],
    Ed25519: ["-newkey", "ed25519"],
  };

  it.each(Object.entries(cases))(
    "reads a %s CSR as the @peculiar/x509 reader did, keeping the subject's own bytes",
    async (_, args) => {
      const der = csr(
        args,
        "/C=GB/O=Example Ltd/OU=Ops+OU=Dev/CN=host.example.test",
        "DNS:host.example.test,DNS:alt.example.test,IP:10.0.0.1,IP:2001:db8::5,email:a@example.test,URI:https://u.example.test/p,otherName:1.3.6.1.4.1.311.20.2.3;UTF8:user@example.test",
      );
      const facts = await x509.readCsr(der);
      const { subjectDer, key, ...rest } = facts;
      expect(rest).toEqual(await legacyReadCsr(der));
      // The key as the signature check read it judges as the SPKI read anew would.
      expect(csrKey(facts)).toEqual(spkiKey(facts.publicKey));
      expect(csrKeyFacts(facts)).toEqual(csrKeyFacts({ publicKey: facts.publicKey }));
      expect(facts.sans.ipAddresses).toEqual(["10.0.0.1", "2001:db8::5"]);
      expect(facts.sans.upns).toEqual(["user@example.test"]);
      const printed = openssl(
        "req",
        "-in",
        file("r.pem", der, "CERTIFICATE REQUEST"),
        "-noout",
        "-subject",
        "-nameopt",
        "RFC2253",
      );
      expect(printed).toContain("CN=host.example.test");
      expect(der.includes(subjectDer)).toBe(true);
    },
  );

  it("reads a CSR without SANs", async () => {
    const der = csr(cases["EC P-256"], "/CN=plain");
    const facts = await x509.readCsr(der);
    expect(facts.subject).toBe("CN=plain");
    expect(facts.sans).toEqual(noSans);
  });

  it("refuses a CSR whose signature does not verify", async () => {
    const der = Buffer.from(csr(cases["EC P-256"], "/CN=tampered", "DNS:a.example.test"));
    const at = der.indexOf(Buffer.from("a.example.test"));
    der[at] = "b".charCodeAt(0);
    await expect(x509.readCsr(der)).rejects.toThrow("signature does not verify");
  });

  it("refuses bytes that are not a CSR", async () => {
    await expect(x509.readCsr(Buffer.from("3003020101", "hex"))).rejects.toThrow("PKCS#10");
  });
});
